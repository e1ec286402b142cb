"""What the report tests share: the spell start of hand-built classification periods, worked
out here by the rule the daily run keeps (``store.ageing.record_history``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def spell_starts(periods: Sequence[tuple[str, date]]) -> list[date | None]:
    """For a case's periods in order, (bucket, first day) each: the first day of the delinquent
    spell each delinquent period belongs to, or that each current (M0) period ends (None after
    a current period, or for the case's first)."""
    starts: list[date | None] = []
    spell: date | None = None
    for bucket, first in periods:
        if bucket == "M0":
            starts.append(spell)
            spell = None
        else:
            spell = spell or first
            starts.append(spell)
    return starts
