"""Why a case stands where it does on a worklist, and whether its borrower may be called now.

The order (computed in SQL by ``store.worklist_queries`` from the same facts, one row per case,
and only there: the rank a page's cursor carries is the one the SQL computed):

1. ``CALLBACK_REQUESTED`` — the borrower asked to be called back, at a time that falls on or
   before the end of the portfolio's local day, and the callback is still pending: no completed
   (or logged) voice contact with the borrower at or after the time asked for, and no call in
   from the borrower after asking (a text, a refused attempt, an earlier call do not answer it);
2. ``PROMISE_DUE_TODAY`` — an OPEN promise of the case falls due on the portfolio's local date;
3. ``PROMISE_BROKEN`` — the case's latest promise (superseded and cancelled ones aside) is
   BROKEN, or still OPEN after its due date plus its grace days;
4. every other case;

and within each group by days past due (most first), then outstanding (most first), then id.
Reasons are short machine-friendly strings with their detail (``DPD 45``), never personal data.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from domain.conduct.engine import Allowance, PastContact
from domain.conduct.profiles import ConductProfile
from domain.contacts.conduct import Situation, assess, default_point
from domain.contacts.model import ContactChannel, ContactDirection, ContactParty
from domain.money import Money


class Reason(enum.StrEnum):
    CALLBACK_REQUESTED = "CALLBACK_REQUESTED"
    PROMISE_DUE_TODAY = "PROMISE_DUE_TODAY"
    PROMISE_BROKEN = "PROMISE_BROKEN"
    DPD = "DPD"
    OUTSTANDING = "OUTSTANDING"


# The rank of each group (1 first); cases in none of them rank OTHER.
RANKS = {Reason.CALLBACK_REQUESTED: 1, Reason.PROMISE_DUE_TODAY: 2, Reason.PROMISE_BROKEN: 3}
OTHER = 4


@dataclass(frozen=True)
class WorkFacts:
    """What places a case on the worklist (read in SQL, as of the request's instant)."""

    callback_at: datetime | None  # the pending callback due by the end of the local day
    promise_due: date | None  # the due date of an OPEN promise due today
    broken_promise_due: date | None  # the due date of the latest promise, if broken
    days_past_due: int
    outstanding: Money


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reasons(facts: WorkFacts) -> list[str]:
    """Returns every reason that applies, the one that ranks the case first."""
    found: list[str] = []
    if facts.callback_at is not None:
        found.append(f"{Reason.CALLBACK_REQUESTED} {_instant(facts.callback_at)}")
    if facts.promise_due is not None:
        found.append(f"{Reason.PROMISE_DUE_TODAY} {facts.promise_due.isoformat()}")
    if facts.broken_promise_due is not None:
        found.append(f"{Reason.PROMISE_BROKEN} {facts.broken_promise_due.isoformat()}")
    found.append(f"{Reason.DPD} {facts.days_past_due}")
    amount = facts.outstanding.rounded()
    found.append(f"{Reason.OUTSTANDING} {amount.amount} {amount.currency}")
    return found


def call_allowance(
    situation: Situation,
    history: Sequence[PastContact],
    at: datetime,
    conduct: ConductProfile | None = None,
) -> Allowance:
    """Whether an outbound PHONE call to the borrower through their primary usable phone point
    is allowed at ``at``, and when it next will be: the one conduct decision that
    ``contactAllowance`` also asks (``domain.contacts.conduct.assess``), for the same call.

    ``situation``: as ``situation_of`` builds it, with every contact point of the borrower's
    record, whoever owns it (an opt-out on anyone's copy of a number holds for the number);
    ``history``: the borrower's recent contacts on every case, by the lender and every agency;
    ``conduct``: the version of the case's profile in effect at ``at`` (as ``assess`` takes it)."""
    party, channel = ContactParty.BORROWER, ContactChannel.PHONE
    return assess(
        situation,
        channel=channel,
        party=party,
        direction=ContactDirection.OUTBOUND,
        point=default_point(situation.points, party, channel),
        history=history,
        at=at,
        conduct=conduct,
    )
