"""Whether a case's placement with an agency is current: the one rule, beside its SQL twin
``store.case_queries.current_placement_clause``."""

from __future__ import annotations

from datetime import date


def placement_is_current(ends_on: date | None, today: date) -> bool:
    """Returns whether a placement ending on ``ends_on`` (inclusive) is current on ``today``,
    the portfolio's local date; a placement without an end date is not (fail closed)."""
    return ends_on is not None and today <= ends_on
