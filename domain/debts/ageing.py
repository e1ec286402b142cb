"""How the daily cycle ages a debt: the core banking system's days past due where it sent one,
moved on by the days since, else the schedule's (``domain.debts.model.days_past_due``).

The rule is a pure function of plain values so that the batch SQL of the daily run
(``store.ageing``) can be tested against it on the same data.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from domain.debts.model import (
    Debt,
    DebtStatus,
    Instalment,
    days_past_due,
    oldest_unpaid_due_date,
)


def aged_days_past_due(
    debt: Debt,
    instalments: Collection[Instalment],
    as_of: date,
    core_dpd: int | None = None,
    core_dpd_as_of: date | None = None,
) -> int:
    """Returns a debt's days past due on ``as_of``.

    - A settled or closed debt is 0 (as the schedule's rule says).
    - Without a figure from the core: the schedule's rule (``days_past_due``).
    - The core said ``core_dpd > 0`` on ``core_dpd_as_of``: that figure moved on by the days
      since (or back, for an earlier date), never below 0 — but only while something is
      overdue: an instalment due on or before ``as_of`` and not paid in full (a debt the core
      sent without a schedule: while anything is owed). Once the arrears are paid (through the
      API or a later feed) the debt is 0, whatever the core said before.
    - The core said 0: the debt was current then, whatever the stored schedule shows for
      earlier due dates; only an instalment falling due after that date and still unpaid on
      ``as_of`` makes it late again (the schedule's rule over those instalments).
    """
    if debt.status in (DebtStatus.SETTLED, DebtStatus.CLOSED):
        return 0
    if core_dpd is None or core_dpd_as_of is None:
        return days_past_due(debt, instalments, as_of)
    if core_dpd > 0:
        if instalments:
            overdue = oldest_unpaid_due_date(instalments, as_of) is not None
        else:
            overdue = debt.outstanding.amount > 0
        if not overdue:
            return 0
        return max(core_dpd + (as_of - core_dpd_as_of).days, 0)
    later = [i for i in instalments if i.due_date > core_dpd_as_of]
    return days_past_due(debt, later, as_of)


def debt_days_past_due(debt: Debt, as_of: date) -> int:
    """Returns ``aged_days_past_due`` of a debt with its own schedule and core figure: what every
    balance change (a payment, a reversal) and the daily run say alike."""
    return aged_days_past_due(debt, debt.instalments, as_of, debt.core_dpd, debt.core_dpd_as_of)
