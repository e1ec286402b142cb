"""Building an evidence pack: canonical data files, their manifest, and a reproducible zip.

Every part is one JSON file written canonically (keys sorted, two-space indent, UTF-8, amounts as
fixed decimal strings, dates ISO, instants ISO in UTC with ``Z``, rows in the order given: by
id), so the same case state gives the same bytes. ``manifest.json`` lists each part's name,
SHA-256 and size; the pack's own hash is the SHA-256 of the manifest's bytes, which binds every
part. The zip adds nothing that varies: fixed entry times and permissions, sorted names, no
generation time and no generator. Pure: no I/O beyond an in-memory buffer.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

# What the manifest says the pack is; a change of layout or encoding changes this.
FORMAT = "arrears-evidence-pack/2"
MANIFEST = "manifest.json"
# The earliest time a zip entry can carry: every entry gets it.
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
ENTRY_MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3  # the "made by" system of every entry

# The parts, in the manifest's order (sorted by name, as the zip's entries are).
CONTACTS = "contacts.json"
CONTRACT = "contract.json"
LEGAL_ACTIONS = "legal-actions.json"
LEGAL_REFERRALS = "legal-referrals.json"
NOTICES = "notices.json"
PAYMENTS = "payments.json"
PROMISES = "promises.json"
RESTRUCTURING_INSTALMENTS = "restructuring-instalments.json"
RESTRUCTURINGS = "restructurings.json"
SCHEDULE = "schedule.json"
PARTS = (
    CONTACTS,
    CONTRACT,
    LEGAL_ACTIONS,
    LEGAL_REFERRALS,
    NOTICES,
    PAYMENTS,
    PROMISES,
    RESTRUCTURING_INSTALMENTS,
    RESTRUCTURINGS,
    SCHEDULE,
)
assert list(PARTS) == sorted(PARTS)

# The notices part holds two lists: ``outbox``, every notice the outbox handled (queued, sent,
# delivered, failed or suppressed: its template version, times, provider reference, the
# subject and body it was sent with — null in a pack whose viewer may not read them in clear,
# ``NOTICE_TEXT`` — the digest of what was sent, and every delivery receipt kept of it), and
# ``logged``, the notices sent by hand: the outbound contacts on these channels that went out
# (not blocked) and have a delivery receipt (their outcome: DELIVERED or FAILED); an attempt
# refused by the conduct rules, a letter received, or one not yet receipted is in the contact
# log only.
NOTICE_CHANNELS = ("LEGAL_NOTICE", "LETTER")
# What a notice said (its digest stays whatever the viewer: it binds the text).
NOTICE_TEXT = frozenset({"subject", "body"})

# How long the one who generated a pack may download it (the time it takes to fetch it, not to
# keep it: after that, generate it again, which is audited again).
DOWNLOAD_FOR = timedelta(hours=24)

# Free text written about the collection (notes, reasons, recording references): in a pack only
# for a viewer who reads such text in clear, else null (as the API shows it).
FREE_TEXT = frozenset({"notes", "recordingRef", "reversalReason", "reason", "decisionReason"})
# A legal action's body and reference are free text too (the API shows them only to viewers who
# read notes); a payment's ``reference`` is not (it is the core's payment reference).
LEGAL_ACTION_TEXT = frozenset({"body", "reference"})

Row = dict[str, object]


def canonical(value: object) -> object:
    """Returns a value as the pack writes it: amounts as fixed two-place strings, dates ISO,
    instants ISO in UTC with ``Z``, enums as their value, containers element by element."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("an instant in an evidence pack must be timezone-aware")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    raise TypeError(f"an evidence pack cannot hold a {type(value).__name__}")


def encode(document: object) -> bytes:
    """Returns the canonical JSON bytes of a part (or the manifest)."""
    text = json.dumps(canonical(document), sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def without_free_text(rows: Iterable[Row], text: frozenset[str] = FREE_TEXT) -> list[Row]:
    """Returns the rows with every free-text value (``text``: its keys) nulled, for viewers who
    may not read it."""
    return [{k: (None if k in text else v) for k, v in row.items()} for row in rows]


def notices_of(contacts: Sequence[Row]) -> list[Row]:
    """Returns the contacts that are notices sent: outbound on a notice channel, not blocked,
    with a delivery receipt (an outcome)."""
    return [
        row
        for row in contacts
        if row.get("channel") in NOTICE_CHANNELS
        and row.get("direction") == "OUTBOUND"
        and row.get("blocked") is False
        and row.get("outcome") is not None
    ]


def notices_part(outbox: Sequence[Row], contacts: Sequence[Row]) -> dict[str, object]:
    """Returns the notices part: the outbox's notices (rows by id, each with its receipts) and
    the notices logged by hand among the contacts (``notices_of``)."""
    return {"outbox": list(outbox), "logged": notices_of(contacts)}


@dataclass(frozen=True, slots=True)
class PartDigest:
    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Pack:
    """A built pack: its parts' digests, the manifest's bytes, its hash, and the zip."""

    parts: tuple[PartDigest, ...]
    manifest: bytes
    sha256: str
    content: bytes
    fields: Mapping[str, bool]

    @property
    def clear(self) -> bool:
        """Whether some personal data in it is in clear."""
        return any(self.fields.values())


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = UNIX
    info.external_attr = ENTRY_MODE << 16
    return info


def build(
    parts: Mapping[str, object],
    *,
    case_reference: str,
    fields: Mapping[str, bool],
    notes: bool,
) -> Pack:
    """Returns the pack of these parts (every name of ``PARTS``, each a JSON document):
    ``fields`` names each confidential field in it and whether it is in clear, ``notes`` says
    whether free text is in."""
    if set(parts) != set(PARTS):
        raise ValueError(f"an evidence pack has exactly the parts {', '.join(PARTS)}")
    files = {name: encode(parts[name]) for name in PARTS}
    digests = tuple(
        PartDigest(name, hashlib.sha256(data).hexdigest(), len(data))
        for name, data in sorted(files.items())
    )
    clear = any(fields.values())
    manifest = encode(
        {
            "format": FORMAT,
            "caseReference": case_reference,
            "personalData": "CLEAR" if clear else "MASKED",
            "fields": dict(sorted(fields.items())),
            "freeText": notes,
            "parts": [{"name": d.name, "sha256": d.sha256, "bytes": d.bytes} for d in digests],
        }
    )
    files[MANIFEST] = manifest
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            archive.writestr(_entry(name), files[name])
    sha256 = hashlib.sha256(manifest).hexdigest()
    return Pack(digests, manifest, sha256, buffer.getvalue(), dict(sorted(fields.items())))
