"""Contacts with borrowers and the people around them: contact points and contact attempts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time


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
