"""The decisions feed as data: which domain events are decisions that core banking or the credit
bureau must book, of which kind, and which of their data the core needs.

A decision is projected from the event that records it (``store.decisions``: set-based, in the
transaction that writes the event), so there is one list here and no code per kind. Adding a kind
is one ``DecisionKind`` member and one ``Rule`` line. A decision's data holds codes, dates and
amounts (decimal strings beside their currency) — never a name, a phone, a national ID or free
text such as a complaint's description or a note.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class DecisionKind(enum.StrEnum):
    """What was decided (the ``kind`` of each line of the feed)."""

    BORROWER_FLAGGED = "BORROWER_FLAGGED"
    BORROWER_UNFLAGGED = "BORROWER_UNFLAGGED"
    CASE_PLACED = "CASE_PLACED"
    CASE_RECALLED = "CASE_RECALLED"
    CASE_CLOSED = "CASE_CLOSED"
    CASE_REOPENED = "CASE_REOPENED"
    PROMISE_KEPT = "PROMISE_KEPT"
    PROMISE_PARTIALLY_KEPT = "PROMISE_PARTIALLY_KEPT"
    PROMISE_BROKEN = "PROMISE_BROKEN"
    PROMISE_CANCELLED = "PROMISE_CANCELLED"
    COMPLAINT_FILED = "COMPLAINT_FILED"
    COMPLAINT_RESOLVED = "COMPLAINT_RESOLVED"
    # Debt handling (issue 11): restructurings, legal status, write-offs.
    PLAN_AGREED = "PLAN_AGREED"
    SETTLEMENT_AGREED = "SETTLEMENT_AGREED"
    PENALTY_WAIVED = "PENALTY_WAIVED"
    PLAN_BROKEN = "PLAN_BROKEN"
    PLAN_COMPLETED = "PLAN_COMPLETED"
    SETTLEMENT_PAID = "SETTLEMENT_PAID"
    LEGAL_REFERRED = "LEGAL_REFERRED"
    LEGAL_ACTION = "LEGAL_ACTION"
    CHARGE_OFF_REQUESTED = "CHARGE_OFF_REQUESTED"
    CASE_WRITTEN_OFF = "CASE_WRITTEN_OFF"


class Lookup(enum.StrEnum):
    """A row a decision's data may be read from besides its event, found by the id the event
    data holds under ``LOOKUP_KEYS``."""

    AGENCY = "agency"
    PROMISE = "promise"


LOOKUP_KEYS: Mapping[Lookup, str] = {Lookup.AGENCY: "agency_id", Lookup.PROMISE: "promise_id"}


@dataclass(frozen=True)
class Field:
    """One entry of a decision's data: ``name`` in the feed, read from the event data's ``key``
    (or, with ``lookup``, from that row's column ``key``); ``default`` when it is absent."""

    name: str
    key: str
    lookup: Lookup | None = None
    default: str | None = None


@dataclass(frozen=True)
class Rule:
    """An event (by name) that is a decision of ``kind`` when every ``when`` pair (event data
    key, value) holds and, with ``changed``, the two event data keys differ."""

    event: str
    kind: DecisionKind
    fields: tuple[Field, ...] = ()
    when: tuple[tuple[str, str], ...] = ()
    changed: tuple[str, str] | None = None

    def matches(self, name: str, data: Mapping[str, object]) -> bool:
        """Whether an event with this name and data is this rule's decision."""
        if name != self.event:
            return False
        if any(str(data.get(key)) != value for key, value in self.when):
            return False
        if self.changed is not None:
            before, after = self.changed
            return data.get(before) != data.get(after)
        return True


AGENCY = Field("agencyName", "name", Lookup.AGENCY)
# A promise's terms and what counted toward it, from the promise as its evaluation left it (in
# the same transaction; the amounts as the promise keeps them, two decimal places).
PROMISE = (
    Field("amount", "amount", Lookup.PROMISE),
    Field("currency", "currency", Lookup.PROMISE),
    Field("dueDate", "due_date", Lookup.PROMISE),
    Field("paidAmount", "paid_amount", Lookup.PROMISE),
)
_PROMISE_OUTCOMES = (
    ("KEPT", DecisionKind.PROMISE_KEPT),
    ("PARTIALLY_KEPT", DecisionKind.PROMISE_PARTIALLY_KEPT),
    ("BROKEN", DecisionKind.PROMISE_BROKEN),
    ("CANCELLED", DecisionKind.PROMISE_CANCELLED),
)

RULES: tuple[Rule, ...] = (
    Rule(
        "CasePlaced",
        DecisionKind.CASE_PLACED,
        (AGENCY, Field("placementEndsOn", "placement_ends_on")),
    ),
    # A recall by a person, or the daily run's expiry of the placement (data reason EXPIRED).
    Rule(
        "CaseRecalled",
        DecisionKind.CASE_RECALLED,
        (AGENCY, Field("reason", "reason", default="RECALLED")),
    ),
    Rule(
        "CaseTransitioned",
        DecisionKind.CASE_CLOSED,
        (Field("closeReason", "close_reason"), Field("stage", "to_stage")),
        when=(("to_status", "CLOSED"),),
        # A move that keeps a case closed (a charge-off of a closed case) closes nothing.
        changed=("from_status", "to_status"),
    ),
    Rule(
        "CaseTransitioned",
        DecisionKind.CASE_REOPENED,
        (Field("status", "to_status"), Field("stage", "to_stage")),
        when=(("trigger", "REOPEN"),),
    ),
    # A new episode of a closed case (the feed): reopened too, with data reason NEW_DEFAULT.
    Rule(
        "CaseTransitioned",
        DecisionKind.CASE_REOPENED,
        (Field("status", "to_status"), Field("stage", "to_stage"), Field("reason", "trigger")),
        when=(("trigger", "NEW_DEFAULT"),),
    ),
    *(
        Rule(
            "PromiseEvaluated",
            kind,
            PROMISE,
            when=(("status", status),),
            changed=("previous_status", "status"),
        )
        for status, kind in _PROMISE_OUTCOMES
    ),
    # A flag is a fact about the borrower: its event is on each of the borrower's cases, so the
    # core books it on each case's accounts. The evidence reference and the note stay here.
    Rule(
        "BorrowerFlagged",
        DecisionKind.BORROWER_FLAGGED,
        (Field("flag", "flag"), Field("reviewOn", "review_on")),
    ),
    Rule("BorrowerUnflagged", DecisionKind.BORROWER_UNFLAGGED, (Field("flag", "flag"),)),
    # Only that one was filed or resolved, and whether it is a COMPLAINT or a DISPUTE: never
    # its description or resolution (free text).
    Rule("ComplaintFiled", DecisionKind.COMPLAINT_FILED, (Field("complaintKind", "kind"),)),
    Rule("ComplaintResolved", DecisionKind.COMPLAINT_RESOLVED, (Field("complaintKind", "kind"),)),
    # Restructuring: approvals.
    # An approved restructuring, by its kind: what the core books (never the stated reason).
    # A plan's schedule lists its instalments as due-date=amount, separated by commas.
    Rule(
        "RestructuringApproved",
        DecisionKind.PLAN_AGREED,
        (
            Field("currency", "currency"),
            Field("replacedAmount", "balance"),
            Field("waiverAmount", "waiver_amount"),
            Field("instalmentTotal", "instalment_total"),
            Field("schedule", "schedule"),
        ),
        when=(("kind", "INSTALMENT_PLAN"),),
    ),
    Rule(
        "RestructuringApproved",
        DecisionKind.SETTLEMENT_AGREED,
        (
            Field("currency", "currency"),
            Field("settlementAmount", "settlement_amount"),
            Field("settleBy", "settle_by"),
            Field("discount", "concession"),
        ),
        when=(("kind", "SETTLEMENT"),),
    ),
    Rule(
        "RestructuringApproved",
        DecisionKind.PENALTY_WAIVED,
        (Field("currency", "currency"), Field("waiverAmount", "waiver_amount")),
        when=(("kind", "PENALTY_WAIVER"),),
    ),
    # Restructuring: plans and settlements in effect.
    # A plan or settlement not paid within its grace days (the daily run), by its kind.
    Rule(
        "RestructuringBroken",
        DecisionKind.PLAN_BROKEN,
        (
            Field("restructuringKind", "kind"),
            Field("paidAmount", "paid_amount"),
            Field("currency", "currency"),
            Field("brokenOn", "broken_on"),
        ),
    ),
    Rule(
        "RestructuringCompleted",
        DecisionKind.PLAN_COMPLETED,
        (Field("paid", "paid"), Field("currency", "currency")),
        when=(("kind", "INSTALMENT_PLAN"),),
    ),
    # A settled case reopened: a payment its settlement counted was reversed (data reason UNSETTLE).
    Rule(
        "CaseTransitioned",
        DecisionKind.CASE_REOPENED,
        (Field("status", "to_status"), Field("stage", "to_stage"), Field("reason", "trigger")),
        when=(("trigger", "UNSETTLE"),),
    ),
    # The discount is what the lender gives up, for the core to book as such (never a payment);
    # writtenOffDebts > 0: a recovery settlement, the discount is of a balance already written
    # off (booked against it, not a second loss).
    Rule(
        "RestructuringCompleted",
        DecisionKind.SETTLEMENT_PAID,
        (
            Field("paid", "paid"),
            Field("discount", "discount"),
            Field("currency", "currency"),
            Field("writtenOffDebts", "written_off_debts"),
        ),
        when=(("kind", "SETTLEMENT"),),
    ),
    # Legal escalation.
    # The case went to LEGAL (approved referral): from which stage, by which policy version.
    Rule(
        "LegalReferralApproved",
        DecisionKind.LEGAL_REFERRED,
        (Field("fromStage", "from_stage"), Field("policyVersion", "policy_version")),
    ),
    # A step of a legal route (its body and reference stay in legal_actions).
    Rule(
        "LegalActionRecorded",
        DecisionKind.LEGAL_ACTION,
        (
            Field("legalKind", "kind"),
            Field("step", "step"),
            Field("occurredOn", "occurred_on"),
            Field("amount", "amount"),
            Field("currency", "currency"),
        ),
    ),
    # Write-off.
    # Every write-off, the core's charge-off or a manager's (source CHARGE_OFF | MANAGER); a
    # manager's also asks the core to book it (its own event: a decision is keyed by its event).
    Rule(
        "CaseWrittenOff",
        DecisionKind.CASE_WRITTEN_OFF,
        (
            Field("source", "source"),
            Field("reasonCode", "reason_code"),
            Field("amount", "amount"),
            Field("currency", "currency"),
        ),
    ),
    Rule(
        "ChargeOffRequested",
        DecisionKind.CHARGE_OFF_REQUESTED,
        (
            Field("reasonCode", "reason_code"),
            Field("amount", "amount"),
            Field("currency", "currency"),
        ),
    ),
)


def is_decision(name: str, data: Mapping[str, object]) -> bool:
    """Whether an event with this name and data is a decision of some kind."""
    return any(rule.matches(name, data) for rule in RULES)
