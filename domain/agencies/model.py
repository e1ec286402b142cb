"""Partner collection agencies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(eq=False)
class Agency:
    """A partner agency with its contract terms (commission rate, placement period in days)."""

    name: str
    commission_rate: Decimal
    placement_days: int
    active: bool = True
    id: int | None = None
