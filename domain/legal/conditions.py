"""The conditions of a legal referral, as a pure function of facts read from the record:
``evaluate(policy, facts)`` returns every condition with whether it holds and why, in a stable
order, under stable names (``ConditionName``). A referral needs all of them; its approval checks
them all again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.cases.model import CaseStage, CaseStatus
from domain.contacts.model import ContactChannel, ContactOutcome, ContactParty
from domain.legal.policy import LegalPolicy, add_years
from domain.lifecycle.table import Trigger, transition_for
from domain.money import Money
from domain.notices.model import TemplatePurpose


class ConditionName(enum.StrEnum):
    LIFE_CYCLE = "LIFE_CYCLE"  # the REFER_TO_LEGAL row: OPEN, in EARLY or COLLECTION
    MIN_DAYS_PAST_DUE = "MIN_DAYS_PAST_DUE"
    OUTSTANDING_THRESHOLD = "OUTSTANDING_THRESHOLD"
    EFFORT_EXHAUSTED = "EFFORT_EXHAUSTED"
    DEMAND_NOTICE_DELIVERED = "DEMAND_NOTICE_DELIVERED"
    WITHIN_LIMITATION_PERIOD = "WITHIN_LIMITATION_PERIOD"
    NO_OPEN_COMPLAINT = "NO_OPEN_COMPLAINT"
    NO_PROTECTING_FLAG = "NO_PROTECTING_FLAG"
    NO_RESTRUCTURING_IN_EFFECT = "NO_RESTRUCTURING_IN_EFFECT"


# A right-party contact: a conversation with the borrower or a debt-related party (a guarantor,
# a spouse whose debt paid household costs) about the debt.
RIGHT_PARTY_OUTCOMES = frozenset(
    {
        ContactOutcome.RIGHT_PARTY_CONTACT,
        ContactOutcome.PROMISE_TO_PAY,
        ContactOutcome.REFUSED_TO_PAY,
        ContactOutcome.DISPUTE_RAISED,
        ContactOutcome.CALLBACK_REQUESTED,
    }
)
RIGHT_PARTIES = frozenset({ContactParty.BORROWER, ContactParty.GUARANTOR, ContactParty.SPOUSE})
# A demand counts only when it reaches a right party (never an emergency contact or a third
# party): the same set as a right-party contact's.
DEMAND_PARTIES = RIGHT_PARTIES
# A demand notice delivered: a contact by one of ``DEMAND_CONTACT_CHANNELS`` logged with outcome
# DELIVERED, or a notice of one of ``DEMAND_NOTICE_CHANNELS`` from the outbox whose template's
# purpose was ``DEMAND_NOTICE_PURPOSE`` when it was queued, that the outbox sent (``sent_at``)
# and a receipt said was DELIVERED (a reminder letter is no demand) — either to one of
# ``DEMAND_PARTIES``, dated when it was delivered. One rule: both kinds count alike for the
# condition and restart the limitation period alike (``store.legal_queries``) — under the
# conduct profiles of ``DEMAND_RESTARTS_LIMITATION`` only.
DEMAND_CONTACT_CHANNELS = frozenset({ContactChannel.LEGAL_NOTICE})
DEMAND_NOTICE_CHANNELS = frozenset({ContactChannel.LETTER})
DEMAND_NOTICE_PURPOSE = TemplatePurpose.DEMAND
# Where a delivered demand restarts the limitation period: in China a claim the creditor makes
# on the debtor interrupts it (PRC Civil Code art. 195). In most US states only a payment or a
# written acknowledgment by the debtor does (a collector's letter does not), so under US_REG_F
# only part-payments restart it.
DEMAND_RESTARTS_LIMITATION = frozenset({"CN"})


@dataclass(frozen=True)
class LegalFacts:
    """What the conditions look at, as of the portfolio's local date ``today`` (the store reads
    them in a few set-based statements: ``store.legal_queries``)."""

    today: date
    status: CaseStatus
    stage: CaseStage
    days_past_due: int
    outstanding: Money
    opened_on: date
    # The local date of the latest right-party contact, and whether it ended in a refusal.
    last_right_party_contact: date | None = None
    last_right_party_refused: bool = False
    broken_promises: int = 0
    # The local date of the latest delivered demand (a LEGAL_NOTICE contact or a DEMAND letter
    # notice, DELIVERED, to a right party).
    last_demand_delivered: date | None = None
    # The due date of the oldest unpaid instalment (on or before ``today``; debts neither
    # SETTLED nor CLOSED).
    oldest_unpaid_due: date | None = None
    # The local dates of every delivered demand (under ``DEMAND_RESTARTS_LIMITATION`` only)
    # and every payment not reversed after ``oldest_unpaid_due``, sorted: each may restart the
    # limitation period while it runs.
    demands_since_due: tuple[date, ...] = ()
    part_payments_since_due: tuple[date, ...] = ()
    open_complaints: tuple[str, ...] = ()  # kinds: COMPLAINT, DISPUTE
    protecting_flags: tuple[str, ...] = ()  # flags whose effects include NO_ESCALATION
    # Restructurings in effect or waiting on the case: "KIND STATUS" (an ACTIVE plan or
    # settlement, or any PROPOSED restructuring).
    restructurings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    name: ConditionName
    passed: bool
    detail: str

    def to_payload(self) -> dict[str, object]:
        return {"name": self.name.value, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class LimitationPeriod:
    start: date  # where the period (as last restarted) runs from
    what: str  # what started it
    ends: date  # its last day
    # The first demand or part-payment that came after the period had ended (it restarts
    # nothing: an expired claim is not revived), if any.
    too_late: tuple[date, str] | None = None


def limitation_period(years: int, facts: LegalFacts) -> LimitationPeriod | None:
    """The limitation period of the claim (None: nothing is unpaid and due). It runs from the
    oldest unpaid due date; a demand or part-payment on or before the period's last day
    restarts it from that day; one after the last day restarts nothing (nor does any later
    one: the claim had expired)."""
    if facts.oldest_unpaid_due is None:
        return None
    start, what = facts.oldest_unpaid_due, "the oldest unpaid instalment's due date"
    ends = add_years(start, years)
    events = sorted(
        [(d, "a demand delivered") for d in facts.demands_since_due]
        + [(d, "a part-payment") for d in facts.part_payments_since_due]
    )
    for day, kind in events:
        if day <= start:
            continue
        if day > ends:
            return LimitationPeriod(start, what, ends, (day, kind))
        start, what, ends = day, kind, add_years(day, years)
    return LimitationPeriod(start, what, ends)


def _life_cycle(facts: LegalFacts) -> Condition:
    row = transition_for(Trigger.REFER_TO_LEGAL)
    ok = facts.status in row.from_status and facts.stage in row.from_stage
    allowed = f"{'/'.join(sorted(row.from_status))} in {'/'.join(sorted(row.from_stage))}"
    return Condition(
        ConditionName.LIFE_CYCLE,
        ok,
        f"the case is {facts.status}/{facts.stage}; a referral needs {allowed}",
    )


def _effort(policy: LegalPolicy, facts: LegalFacts) -> Condition:
    """Exhausted in any of three ways: no right-party contact for the policy's days (counted
    from the opening when there never was one), the latest one a refusal to pay, or enough
    broken promises."""
    since = facts.last_right_party_contact or facts.opened_on
    quiet = (facts.today - since).days
    what = "the last right-party contact" if facts.last_right_party_contact else "the opening"
    refused = facts.last_right_party_refused
    ways = [
        (
            quiet >= policy.no_contact_days,
            f"{quiet} days without a right-party contact since {what} on {since} "
            f"(needs {policy.no_contact_days})",
        ),
        (
            refused,
            "the latest right-party contact was a refusal to pay"
            if refused
            else "no refusal to pay at the latest right-party contact",
        ),
        (
            facts.broken_promises >= policy.broken_promises,
            f"{facts.broken_promises} broken promises (needs {policy.broken_promises})",
        ),
    ]
    met = [text for ok, text in ways if ok]
    if met:
        return Condition(ConditionName.EFFORT_EXHAUSTED, True, "; ".join(met))
    return Condition(ConditionName.EFFORT_EXHAUSTED, False, "; ".join(text for _, text in ways))


def _limitation(policy: LegalPolicy, facts: LegalFacts) -> Condition:
    period = limitation_period(policy.limitation_years, facts)
    name = ConditionName.WITHIN_LIMITATION_PERIOD
    if period is None:
        return Condition(name, False, "no instalment is unpaid and due: there is no claim")
    ok = facts.today <= period.ends
    detail = f"{policy.limitation_years} years from {period.start} ({period.what}): " + (
        f"runs through {period.ends}" if ok else f"expired after {period.ends}"
    )
    if period.too_late is not None:
        day, kind = period.too_late
        detail += f" ({kind} on {day} came after it expired and restarts nothing)"
    return Condition(name, ok, detail)


def evaluate(policy: LegalPolicy, facts: LegalFacts) -> tuple[Condition, ...]:
    """Every condition of a referral, in ``ConditionName`` order."""
    threshold = Money(policy.threshold(facts.outstanding.currency), facts.outstanding.currency)
    demand = facts.last_demand_delivered
    complaints = sorted(set(facts.open_complaints))
    flags = sorted(set(facts.protecting_flags))
    restructurings = sorted(set(facts.restructurings))
    return (
        _life_cycle(facts),
        Condition(
            ConditionName.MIN_DAYS_PAST_DUE,
            facts.days_past_due >= policy.min_days_past_due,
            f"{facts.days_past_due} days past due (needs {policy.min_days_past_due})",
        ),
        Condition(
            ConditionName.OUTSTANDING_THRESHOLD,
            facts.outstanding >= threshold,
            f"outstanding {facts.outstanding} (needs {threshold})",
        ),
        _effort(policy, facts),
        Condition(
            ConditionName.DEMAND_NOTICE_DELIVERED,
            demand is not None,
            f"a demand notice was delivered on {demand}"
            if demand
            else "no demand notice delivered (a LEGAL_NOTICE contact with outcome DELIVERED, or "
            "a DEMAND letter the outbox sent, delivered)",
        ),
        _limitation(policy, facts),
        Condition(
            ConditionName.NO_OPEN_COMPLAINT,
            not complaints,
            f"open on the case: {', '.join(complaints)}" if complaints else "none open",
        ),
        Condition(
            ConditionName.NO_PROTECTING_FLAG,
            not flags,
            f"the borrower is flagged {', '.join(flags)}" if flags else "none active",
        ),
        Condition(
            ConditionName.NO_RESTRUCTURING_IN_EFFECT,
            not restructurings,
            f"on the case: {', '.join(restructurings)} (a plan or settlement in effect, or a "
            "proposal waiting for a decision)"
            if restructurings
            else "no plan or settlement in effect, no proposal waiting",
        ),
    )


def failed(conditions: Sequence[Condition]) -> list[Condition]:
    return [c for c in conditions if not c.passed]


def refusal_text(conditions: Sequence[Condition]) -> str:
    """The message of LEGAL_CONDITIONS_NOT_MET: each failed condition by name, with why."""
    return "legal conditions not met: " + "; ".join(
        f"{c.name}: {c.detail}" for c in failed(conditions)
    )
