"""A case's record turned into an evidence pack's parts as one viewer may see them: personal
data masked by ``authz.masking`` (the one home of that decision) exactly as the API shows it,
free text only for viewers who read it (``Context.may_read_notes``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from authz.masking import CONTACT_POINT_FIELDS, mask_borrower, mask_contact_point, rule_for
from domain.borrowers.model import Borrower, ConfidentialField
from domain.contacts.model import ContactPointKind
from domain.evidence import pack
from store.evidence_queries import CaseRecord

# The borrower's identity in a pack: who is being claimed against and where they were reached.
IDENTITY = (
    ConfidentialField.NATIONAL_ID,
    ConfidentialField.PHONE,
    ConfidentialField.EMAIL,
    ConfidentialField.ADDRESS,
)
_CAMEL = {
    ConfidentialField.NATIONAL_ID: "nationalId",
    ConfidentialField.PHONE: "phone",
    ConfidentialField.EMAIL: "email",
    ConfidentialField.ADDRESS: "address",
}


@dataclass(frozen=True, slots=True)
class Parts:
    """The parts of a pack, and which confidential fields they show (name → in clear)."""

    documents: dict[str, object]
    fields: dict[str, bool]

    @property
    def clear(self) -> bool:
        return any(self.fields.values())


def parts_of(
    record: CaseRecord,
    borrower: Borrower,
    roles: Iterable[str],
    *,
    legal_stage: bool,
    notes: bool,
) -> Parts:
    """Returns the parts of a case's pack for a viewer with these roles (``legal_stage``: the
    borrower is in legal proceedings for them; ``notes``: they read free text)."""
    held = list(roles)
    masked = mask_borrower(borrower, held, legal_stage)
    fields = {f.value: f in masked.clear_fields for f in IDENTITY}
    identity: dict[str, object] = {"fullName": borrower.full_name, "timeZone": borrower.time_zone}
    identity |= {_CAMEL[f]: masked.values[f] for f in IDENTITY}

    def pointed(rows: list[pack.Row]) -> list[pack.Row]:
        """The rows with the contact point each went to masked (noting what is in clear)."""
        found: list[pack.Row] = []
        for row in rows:
            kind, value = row.get("contactPointKind"), row.get("contactPoint")
            if isinstance(kind, str) and isinstance(value, str):
                point = ContactPointKind(kind)
                shown, clear = mask_contact_point(point, value, held, legal_stage)
                name = CONTACT_POINT_FIELDS[point].value
                fields[name] = fields.get(name, False) or clear
                row = {**row, "contactPoint": shown}
            found.append(row)
        return found

    contacts = pointed(record.contacts)

    def written(rows: list[pack.Row]) -> list[pack.Row]:
        """The notices with what they said (subject, body) only for a viewer who sees in clear
        where each went and the borrower's address (a letter prints it); else only the digest
        binds the text."""
        address = ConfidentialField.ADDRESS in masked.clear_fields
        found: list[pack.Row] = []
        for row in rows:
            clear = address
            kind, value = row.get("contactPointKind"), row.get("contactPoint")
            if clear and isinstance(kind, str) and isinstance(value, str):
                clear = mask_contact_point(ContactPointKind(kind), value, held, legal_stage)[1]
            found.extend([row] if clear else pack.without_free_text([row], pack.NOTICE_TEXT))
        return found

    def text(rows: list[pack.Row]) -> list[pack.Row]:
        return rows if notes else pack.without_free_text(rows)

    contacts = text(contacts)
    documents: dict[str, object] = {
        pack.CONTRACT: {"case": record.case, "borrower": identity, "debts": record.debts},
        pack.SCHEDULE: record.schedule,
        pack.PAYMENTS: text(record.payments),
        pack.CONTACTS: contacts,
        pack.NOTICES: pack.notices_part(pointed(written(record.notices)), contacts),
        pack.PROMISES: record.promises,
        pack.RESTRUCTURINGS: text(record.restructurings),
        pack.RESTRUCTURING_INSTALMENTS: record.restructuring_instalments,
        pack.LEGAL_REFERRALS: text(record.legal_referrals),
        pack.LEGAL_ACTIONS: (
            record.legal_actions
            if notes
            else pack.without_free_text(record.legal_actions, pack.LEGAL_ACTION_TEXT)
        ),
    }
    return Parts(documents, fields)


def still_clear(fields: Mapping[str, bool], roles: Iterable[str], *, legal_stage: bool) -> bool:
    """Whether a viewer with these roles would still see in clear every field a pack holds in
    clear (``fields``: name → in clear, as at its generation), by the same rules
    (``authz.masking``) and the borrower's legal stage as it is now."""
    held = list(roles)
    return all(
        rule_for(held, ConfidentialField(name), legal_stage).clear
        for name, clear in fields.items()
        if clear
    )
