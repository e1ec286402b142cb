"""Contacts with borrowers and the people around them: contact points and contact attempts."""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import available_timezones

from domain.contacts import errors


class ContactChannel(enum.StrEnum):
    PHONE = "PHONE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    FIELD_VISIT = "FIELD_VISIT"
    LEGAL_NOTICE = "LEGAL_NOTICE"
    AUTOMATED_CALL = "AUTOMATED_CALL"


class ContactParty(enum.StrEnum):
    """Whose contact point it is, and so whom a contact reaches."""

    BORROWER = "BORROWER"
    GUARANTOR = "GUARANTOR"
    SPOUSE = "SPOUSE"  # a spouse whose debt paid household costs: debt-related
    EMERGENCY_CONTACT = "EMERGENCY_CONTACT"
    UNRELATED_THIRD_PARTY = "UNRELATED_THIRD_PARTY"


class ContactDirection(enum.StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


class ContactOutcome(enum.StrEnum):
    RIGHT_PARTY_CONTACT = "RIGHT_PARTY_CONTACT"
    THIRD_PARTY_CONTACT = "THIRD_PARTY_CONTACT"
    NO_ANSWER = "NO_ANSWER"
    BUSY_OR_NOT_CONNECTED = "BUSY_OR_NOT_CONNECTED"
    WRONG_NUMBER = "WRONG_NUMBER"
    LEFT_MESSAGE = "LEFT_MESSAGE"
    PROMISE_TO_PAY = "PROMISE_TO_PAY"
    REFUSED_TO_PAY = "REFUSED_TO_PAY"
    DISPUTE_RAISED = "DISPUTE_RAISED"
    CALLBACK_REQUESTED = "CALLBACK_REQUESTED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


# Outcomes of a call in which somebody spoke with the collector (a conversation).
CONVERSATION_OUTCOMES = frozenset(
    {
        ContactOutcome.RIGHT_PARTY_CONTACT,
        ContactOutcome.THIRD_PARTY_CONTACT,
        ContactOutcome.PROMISE_TO_PAY,
        ContactOutcome.REFUSED_TO_PAY,
        ContactOutcome.DISPUTE_RAISED,
        ContactOutcome.CALLBACK_REQUESTED,
    }
)
# Outcomes of a call that rang but reached nobody (unanswered: it counts as an attempt).
UNANSWERED_OUTCOMES = frozenset({ContactOutcome.NO_ANSWER, ContactOutcome.LEFT_MESSAGE})
# Outcomes of a call that never connected to the number (Reg F does not count them).
NOT_CONNECTED_OUTCOMES = frozenset(
    {ContactOutcome.BUSY_OR_NOT_CONNECTED, ContactOutcome.WRONG_NUMBER, ContactOutcome.FAILED}
)
# Voice channels: the call rules count these.
VOICE_CHANNELS = frozenset({ContactChannel.PHONE, ContactChannel.AUTOMATED_CALL})


class ContactPointKind(enum.StrEnum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    ADDRESS = "ADDRESS"


class ContactPointStatus(enum.StrEnum):
    VERIFIED = "VERIFIED"
    UNVERIFIED = "UNVERIFIED"
    INVALID = "INVALID"
    OPTED_OUT = "OPTED_OUT"


# Which kind of contact point each channel reaches.
CHANNEL_KIND: dict[ContactChannel, ContactPointKind] = {
    ContactChannel.PHONE: ContactPointKind.PHONE,
    ContactChannel.SMS: ContactPointKind.PHONE,
    ContactChannel.AUTOMATED_CALL: ContactPointKind.PHONE,
    ContactChannel.EMAIL: ContactPointKind.EMAIL,
    ContactChannel.LETTER: ContactPointKind.ADDRESS,
    ContactChannel.FIELD_VISIT: ContactPointKind.ADDRESS,
    ContactChannel.LEGAL_NOTICE: ContactPointKind.ADDRESS,
}


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether a name is a known IANA time zone (``Asia/Shanghai``)."""
    return name in _time_zones()


class Keep:
    """The value of an optional change that leaves a field as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()

# Statuses of a point through which contact may be attempted.
USABLE_STATUSES = frozenset({ContactPointStatus.VERIFIED, ContactPointStatus.UNVERIFIED})
# Statuses that protect the person: only a caller with consent rights moves a point out of them.
PROTECTIVE_STATUSES = frozenset({ContactPointStatus.INVALID, ContactPointStatus.OPTED_OUT})


@dataclass(eq=False)
class ContactPoint:
    """A number, an e-mail or an address at which someone can be reached about a borrower's debts.

    ``consent_start``/``consent_end`` are the local hours the person agreed to be contacted in
    (replacing the profile's quiet hours); ``consented_at`` is when they last gave consent."""

    borrower_id: int
    kind: ContactPointKind
    value: str
    owner: ContactParty
    status: ContactPointStatus = ContactPointStatus.UNVERIFIED
    time_zone: str | None = None
    consent_start: time | None = None
    consent_end: time | None = None
    consented_at: datetime | None = None
    created_at: datetime | None = None
    version: int = 1
    id: int | None = None
    events: list[object] = field(default_factory=list, repr=False)

    def change(
        self,
        at: datetime,
        *,
        status: ContactPointStatus | None = None,
        time_zone: str | Keep | None = KEEP,
        consent_hours: tuple[time, time] | Keep | None = KEEP,
        consented: bool | None = None,
    ) -> dict[str, dict[str, str | None]]:
        """Applies the changes given (``KEEP``: unchanged; None clears a time zone or consented
        hours) and returns what changed, before and after (never the point's value)."""
        changed: dict[str, dict[str, str | None]] = {}

        def note(name: str, before: object, after: object) -> None:
            if before != after:
                changed[name] = {"before": _text(before), "after": _text(after)}

        if status is not None:
            note("status", self.status, status)
            self.status = status
        if not isinstance(time_zone, Keep):
            zone = check_time_zone(time_zone)
            note("timeZone", self.time_zone, zone)
            self.time_zone = zone
        if not isinstance(consent_hours, Keep):
            start, end = check_consent_hours(consent_hours)
            note("consentedHours", self.consented_hours, _hours(start, end))
            self.consent_start, self.consent_end = start, end
        if consented is not None:
            given = at if consented else None
            note("consentedAt", self.consented_at, given)
            self.consented_at = given
            if not consented:  # the hours were part of the consent withdrawn
                note("consentedHours", self.consented_hours, None)
                self.consent_start = self.consent_end = None
        return changed

    def check_rights(
        self,
        *,
        may_consent: bool,
        status: ContactPointStatus | None = None,
        time_zone: str | Keep | None = KEEP,
        consent_hours: tuple[time, time] | Keep | None = KEEP,
        consented: bool | None = None,
        evidence: str | None = None,
    ) -> str | None:
        """Checks a change (as ``change`` takes it) before it is made: refuses what only a
        caller with consent rights (``may_consent``) may do when the caller has none — lift an
        opt-out or an invalid mark, give, withdraw or change consent or consented hours, replace
        a known time zone — and consented hours without consent. Returns the evidence reference a
        consent change (or lifting an opt-out) needs, checked; None when none is needed."""
        zone = KEEP if isinstance(time_zone, Keep) else check_time_zone(time_zone)
        hours = KEEP if isinstance(consent_hours, Keep) else check_consent_hours(consent_hours)
        needs_evidence = False
        if status is not None and status != self.status and self.status in PROTECTIVE_STATUSES:
            _require(may_consent, "status", f"lifting {ContactPointStatus(self.status).value}")
            needs_evidence = self.status == ContactPointStatus.OPTED_OUT
        if not isinstance(zone, Keep) and self.time_zone is not None and zone != self.time_zone:
            _require(may_consent, "timeZone", "replacing a known time zone")
        hours_change = not isinstance(hours, Keep) and hours != (
            self.consent_start,
            self.consent_end,
        )
        withdraws = consented is False and (
            self.consented_at is not None or self.consent_start is not None
        )
        if consented or withdraws:
            _require(may_consent, "consented", "giving or withdrawing consent")
        if hours_change:
            _require(may_consent, "consentedHours", "changing consented hours")
        consent_after = consented if consented is not None else self.consented_at is not None
        if not isinstance(hours, Keep) and hours[0] is not None and not consent_after:
            raise errors.ContactValueInvalid(
                "consented hours go with the person's consent (consented: true)",
                field="consentedHours",
            )
        if consented or withdraws or hours_change or needs_evidence:
            return check_evidence(evidence)
        return None

    @property
    def consented_hours(self) -> str | None:
        return _hours(self.consent_start, self.consent_end)

    @property
    def key(self) -> str:
        """The point's value in the form in which two points are the same (``value_key``)."""
        return value_key(ContactPointKind(self.kind), self.value)


MAX_VALUE = {ContactPointKind.PHONE: 20, ContactPointKind.EMAIL: 254, ContactPointKind.ADDRESS: 300}
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+?[0-9]{5,19}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _hours(start: time | None, end: time | None) -> str | None:
    if start is None or end is None:
        return None
    return f"{start:%H:%M}-{end:%H:%M}"


def check_value(kind: ContactPointKind, value: str) -> str:
    """Returns a contact point's value in its stored form, or refuses one that cannot be one
    (the message never repeats the value)."""
    text = value.strip()
    if any(ord(ch) < 32 for ch in text):
        raise errors.ContactValueInvalid("the value holds control characters", field="value")
    if kind is ContactPointKind.PHONE:
        text = _PHONE_SEPARATORS.sub("", text)
        if not _PHONE.fullmatch(text):
            raise errors.ContactValueInvalid(
                "a phone number is 5 to 19 digits, optionally after a +", field="value"
            )
    elif kind is ContactPointKind.EMAIL:
        if not _EMAIL.fullmatch(text):
            raise errors.ContactValueInvalid("not an e-mail address", field="value")
    elif not text:
        raise errors.ContactValueInvalid("the address is empty", field="value")
    if len(text) > MAX_VALUE[kind]:
        raise errors.ContactValueInvalid(
            f"a {kind.value.lower()} is at most {MAX_VALUE[kind]} characters", field="value"
        )
    return text


def value_key(kind: ContactPointKind, value: str) -> str:
    """Returns the form in which two contact points hold the same number, e-mail or address,
    prefixed by the kind: a phone's digits only, an e-mail in lower case, an address with its
    white space collapsed (``PHONE:8613912345678``). Duplicate points share their counts."""
    if kind == ContactPointKind.PHONE:
        text = "".join(ch for ch in value if "0" <= ch <= "9")
    elif kind == ContactPointKind.EMAIL:
        text = value.strip().lower()
    else:
        text = " ".join(value.split())
    return f"{ContactPointKind(kind).value}:{text}"


MAX_EVIDENCE = 200


def check_evidence(evidence: str | None) -> str:
    """Returns the reference to a consent change's evidence (a recording reference, a document
    id), or refuses none or one too long."""
    text = (evidence or "").strip()
    if not text:
        raise errors.ConsentEvidenceRequired(
            "a consent change needs a reference to its evidence (a recording, a document)",
            field="consentEvidence",
        )
    if len(text) > MAX_EVIDENCE or any(ord(ch) < 32 for ch in text):
        raise errors.ContactValueInvalid(
            f"an evidence reference is one line of at most {MAX_EVIDENCE} characters",
            field="consentEvidence",
        )
    return text


def _require(allowed: bool, field: str, what: str) -> None:
    if not allowed:
        raise errors.ConsentChangeNotAllowed(
            f"{what} is for a manager or the person's own channel",
            field=field,
        )


def check_time_zone(name: str | None) -> str | None:
    """Returns an IANA time zone name (None: unknown), or refuses one that is not known."""
    if name is None:
        return None
    if not is_time_zone(name):
        raise errors.InvalidTimeZone(
            "not a known IANA time zone (e.g. Asia/Shanghai)", field="timeZone"
        )
    return name


def check_consent_hours(hours: tuple[time, time] | None) -> tuple[time | None, time | None]:
    """Returns consented local hours (start inclusive, end exclusive; an end before the start
    runs over midnight), or refuses an empty window."""
    if hours is None:
        return None, None
    start, end = (h.replace(tzinfo=None) for h in hours)
    if start == end:
        raise errors.ContactValueInvalid(
            "consented hours must not start and end at the same time", field="consentedHours"
        )
    return start, end


class ContactSource(enum.StrEnum):
    STARTED = "STARTED"  # reserved through startContact (granted, or refused and blocked)
    LOGGED = "LOGGED"  # recorded after the fact through logContact


MAX_NOTES = 4000
MAX_RECORDING_REF = 200


@dataclass(frozen=True)
class Outcome:
    """What became of a contact, checked: the outcome and what goes with it."""

    outcome: ContactOutcome
    notes: str
    recording_ref: str | None
    callback_at: datetime | None


def check_outcome(
    outcome: ContactOutcome,
    notes: str | None,
    recording_ref: str | None,
    callback_at: datetime | None,
    at: datetime,
) -> Outcome:
    """Returns an outcome with its notes, recording reference and callback time, or refuses
    notes or a reference too long, a callback requested without a time (or a time without a
    callback requested), or a callback time not after ``at``."""
    text = (notes or "").strip()
    if len(text) > MAX_NOTES:
        raise errors.ContactValueInvalid(f"notes are at most {MAX_NOTES} characters", field="notes")
    reference = (recording_ref or "").strip() or None
    if reference is not None and len(reference) > MAX_RECORDING_REF:
        raise errors.ContactValueInvalid(
            f"a recording reference is at most {MAX_RECORDING_REF} characters",
            field="recordingRef",
        )
    if outcome is ContactOutcome.CALLBACK_REQUESTED:
        if callback_at is None:
            raise errors.CallbackTimeRequired(
                "say when the person asked to be called back", field="callbackAt"
            )
        if callback_at <= at:
            raise errors.ContactValueInvalid(
                "the callback time must be after the contact", field="callbackAt"
            )
    elif callback_at is not None:
        raise errors.ContactValueInvalid(
            "a callback time goes only with the outcome CALLBACK_REQUESTED", field="callbackAt"
        )
    return Outcome(outcome, text, reference, callback_at)


@dataclass(eq=False)
class Contact:
    """One contact with a person about a case: an attempt reserved by startContact (in progress
    until completed; ``blocked`` when a conduct rule refused it, with the ``rule`` and
    ``next_allowed_at``), or one logged after the fact, with the rules it broke (``breaches``).

    ``at`` is when the contact took place (or was attempted); ``agency_id`` the agency of the
    agent, so that the work is credited to it; ``consented`` a call the person had consented to
    in the last days (Regulation F does not count those)."""

    case_id: int
    borrower_id: int
    at: datetime
    channel: ContactChannel
    direction: ContactDirection
    party: ContactParty
    contact_point_id: int | None = None
    staff_id: int | None = None
    second_staff_id: int | None = None
    agency_id: int | None = None
    outcome: ContactOutcome | None = None
    notes: str = ""
    recording_ref: str | None = None
    callback_at: datetime | None = None
    completed_at: datetime | None = None
    source: ContactSource = ContactSource.LOGGED
    blocked: bool = False
    rule: str | None = None
    next_allowed_at: datetime | None = None
    breaches: list[str] = field(default_factory=list)
    consented: bool = False
    profile_version: str | None = None
    idempotency_key: str | None = None  # the key a logged or started contact was sent with
    request_digest: str | None = None  # with the key: the digest of the request it answered
    id: int | None = None

    @property
    def in_progress(self) -> bool:
        return not self.blocked and self.outcome is None

    def complete(self, result: Outcome, at: datetime) -> None:
        """Records the outcome of an attempt in progress (once; never of a refused attempt)."""
        if self.blocked:
            raise errors.ContactBlocked(
                "a refused attempt never took place: it has no outcome", field="contactId"
            )
        if self.outcome is not None:
            raise errors.ContactAlreadyCompleted(
                "the contact already has an outcome", field="contactId"
            )
        self.outcome = result.outcome
        self.notes = result.notes
        self.recording_ref = result.recording_ref
        self.callback_at = result.callback_at
        self.completed_at = at
