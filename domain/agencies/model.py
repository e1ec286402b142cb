"""Partner collection agencies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(eq=False)
class Agency:
    """A partner agency with its contract terms (commission rate, placement period in days, and
    the tail: the days after a recall in which a payment still earns the commission)."""

    name: str
    commission_rate: Decimal
    placement_days: int
    active: bool = True
    tail_days: int = 0
    id: int | None = None
