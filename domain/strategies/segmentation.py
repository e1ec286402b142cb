"""Which treatment a case is under, and which of its steps fall due: the rules of one case, as
plain functions of its facts (the daily run applies the same rules to every case at once in SQL,
``store.treatment_queries``, tested against these).

- **Strategy**: the one in effect whose ``portfolios`` names the case's portfolio, else the one
  with none (every other portfolio: ``STANDARD``); ties by name.
- **Variant**: a case whose champion segment the running challenger takes (its ``segments``;
  empty: every case of the strategy) and whose stable bucket ``variant_bucket(strategy, case id)``
  is below ``share × 10000`` is the challenger's: its definition segments it.
- **Segment**: the first of the definition's segments whose condition the case meets; none: the
  case has no steps.
- **Entry**: the case's stay in a segment of its strategy; a new version or a change of variant
  alone (a promotion, a new share) keeps it, and the steps taken in it (by name) stay taken.
- **Steps** (``plan``): on the segment's clock value ``v`` (days past due, or days since the case
  entered the segment), the due day is the largest step day ≤ ``v``; its steps not taken yet are
  taken, earlier steps never taken are skipped (overtaken) — except an ``always`` step, taken
  with the due day's steps — and the next step is the first with a day after ``v`` not taken yet
  in the entry (days past due may fall back below a step already taken).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.strategies.model import (
    BalanceBand,
    InEffect,
    Segment,
    SegmentCondition,
    Step,
    Strategy,
    Variant,
)
from domain.warnings.rules import Severity

# Buckets of the variant hash: a share of 0.2 takes buckets 0 … 1999.
BUCKETS = 10000
# Warning severities from the least to the most severe (an open warning "of at least" one).
SEVERITY_ORDER: tuple[str, ...] = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class CaseFacts:
    """What segment conditions look at: the case as the daily run left it (figures of the day),
    the product types of its debts, the severities of its open (raised or acknowledged)
    warnings, and its borrower's active flags."""

    classification: str
    stage: str
    status: str
    portfolio: str
    currency: str
    outstanding: Decimal
    days_past_due: int
    products: frozenset[str] = frozenset()
    warning_severities: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StepPlan:
    """What a run does on a case's segment: the steps it takes, those it records as skipped, and
    the next step with the days until it falls due (None: no later step)."""

    take: tuple[Step, ...]
    skip: tuple[Step, ...]
    next_step: Step | None
    next_in_days: int | None


def strategy_for(strategies: Mapping[str, InEffect], portfolio: str) -> InEffect | None:
    """The strategy that treats a portfolio's cases: the one naming it, else the one naming no
    portfolio; ties by name (None: no strategy treats it)."""
    for name in sorted(strategies):
        if portfolio in strategies[name].champion.portfolios:
            return strategies[name]
    return default_strategy(strategies)


def default_strategy(strategies: Mapping[str, InEffect]) -> InEffect | None:
    """The strategy of the portfolios no strategy names: the first by name naming none."""
    return next(
        (strategies[n] for n in sorted(strategies) if not strategies[n].champion.portfolios), None
    )


def severities_from(severity: str) -> frozenset[str]:
    """The severities at least as severe as ``severity``."""
    return frozenset(SEVERITY_ORDER[SEVERITY_ORDER.index(severity) :])


def in_band(band: BalanceBand, currency: str, outstanding: Decimal) -> bool:
    """Whether a balance falls in the band: same currency, from the minimum (inclusive) to the
    maximum (exclusive)."""
    return (
        band.currency == currency
        and (band.minimum is None or outstanding >= band.minimum)
        and (band.maximum is None or outstanding < band.maximum)
    )


def _any_or_in(allowed: frozenset[str], value: str) -> bool:
    return not allowed or value in allowed


def meets(when: SegmentCondition, facts: CaseFacts) -> bool:
    """Whether every stated condition holds for the case (an empty one: any)."""
    return (
        _any_or_in(when.classifications, facts.classification)
        and _any_or_in(when.stages, facts.stage)
        and _any_or_in(when.portfolios, facts.portfolio)
        and (not when.products or bool(when.products & facts.products))
        and (
            not when.balance
            or any(in_band(band, facts.currency, facts.outstanding) for band in when.balance)
        )
        and (
            when.warning_severity is None
            or bool(severities_from(when.warning_severity) & facts.warning_severities)
        )
        and (not when.flags_any or bool(when.flags_any & facts.flags))
        and not (when.flags_none & facts.flags)
    )


def segment_of(strategy: Strategy, facts: CaseFacts) -> Segment | None:
    """The first segment whose condition the case meets, in order (None: none)."""
    return next((s for s in strategy.segments if meets(s.when, facts)), None)


def variant_bucket(name: str, case_id: int) -> int:
    """The case's stable bucket (0 … 9999) for a strategy: the first 32 bits of the MD5 of
    ``"{name}:{case_id}"`` modulo 10000 (the SQL computes the same)."""
    digest = hashlib.md5(f"{name}:{case_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def challenger_threshold(share: Decimal) -> Decimal:
    """The buckets below this take the challenger."""
    return share * BUCKETS


def treatment_of(
    in_effect: InEffect, facts: CaseFacts, case_id: int
) -> tuple[Variant, Strategy, Segment | None]:
    """The variant that treats the case, its definition and the case's segment in it."""
    champion = in_effect.champion
    segment = segment_of(champion, facts)
    challenger = in_effect.challenger
    if (
        challenger is not None
        and challenger.share > 0
        and (
            not challenger.segments or (segment is not None and segment.name in challenger.segments)
        )
        and variant_bucket(champion.name, case_id) < challenger_threshold(challenger.share)
    ):
        definition = challenger.definition
        return Variant.CHALLENGER, definition, segment_of(definition, facts)
    return Variant.CHAMPION, champion, segment


def ordered_steps(segment: Segment) -> tuple[Step, ...]:
    """The segment's steps by day (as listed within a day)."""
    return tuple(sorted(segment.steps, key=lambda step: step.day))


def plan(segment: Segment, clock_value: int, taken: Iterable[str] = ()) -> StepPlan:
    """The steps due on a segment whose clock reads ``clock_value``, given the names of the
    steps already taken (or skipped) in this entry of the segment."""
    done = set(taken)
    steps = ordered_steps(segment)
    due = max((step.day for step in steps if step.day <= clock_value), default=None)
    waiting = [s for s in steps if s.day <= clock_value and s.name not in done]
    take = tuple(s for s in waiting if s.day == due or s.always)
    skip = tuple(s for s in waiting if s.day != due and not s.always)
    following = next((s for s in steps if s.day > clock_value and s.name not in done), None)
    return StepPlan(
        take,
        skip,
        following,
        None if following is None else following.day - clock_value,
    )
