"""Champion against challenger: each metric's value for both variants of a strategy, the
difference (challenger − champion) and its 95% confidence interval, from sums over the cases of
each variant (computed in the database).

Every interval is a normal (Wald) interval, difference ± z·√(var₁ + var₂), the two variants
being independent samples (a case is in one variant only) and z the standard normal quantile of
0.975 (1.959964, from SciPy, imported on the first comparison: importing SciPy takes over a
second, which starting the app should not pay). The variance of each estimate:

- a **ratio of means** R = Σx / Σy over n cases with per-case pairs (x, y) (recovery rate: x
  recovered, y opening balance; cost of collection: x commission, y collected), by the delta
  method: var(R) = Σ(xᵢ − R·yᵢ)² / (n(n − 1)·ȳ²) with ȳ = Σy / n, where
  Σ(xᵢ − R·yᵢ)² = Σx² − 2R·Σxy + R²·Σy²;
- a **proportion** p = s / n (cure rate): var(p) = p(1 − p) / n;
- a **rate per case** λ = k / n events (complaints), k Poisson: var(λ) = k / n², both scaled
  (per 1,000 cases: value 1000·k / n, variance 1000²·k / n²).

Money ratios are never pooled across currencies (Σ of CNY and USD means nothing): each currency
in which both variants have cases is a stratum, and a variant's value is the strata's ratios
weighted by their share of those cases, w_c = n_c / Σn (both variants counted, so that both are
standardised to the same mix): R = Σ w_c·R_c, var(R) = Σ w_c²·var(R_c). With one currency this
is the plain ratio of means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from domain.reports.model import RATE_PLACES, VariantComparison

CONFIDENCE = Decimal("0.95")

RECOVERY_RATE = "recoveryRate"
CURE_RATE = "cureRate"
COST_OF_COLLECTION = "costOfCollection"
COMPLAINTS_PER_1000 = "complaintsPer1000"
PER_1000 = 1000


@cache
def critical_value() -> Decimal:
    """Returns z, the standard normal quantile of a two-sided 95% interval (1.959963984540054)."""
    # Imported here, not with the module: SciPy's import takes over a second.
    from scipy.stats import norm  # type: ignore[import-untyped]

    return Decimal(float(norm.ppf(float(1 - (1 - CONFIDENCE) / 2))))


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric's value for one variant and the variance of that value."""

    value: Decimal
    variance: Decimal


@dataclass(frozen=True, slots=True)
class RatioSums:
    """Per-case pairs (x, y) of one variant's cases in one currency, as the sums a ratio of
    means and its variance need (money in major units)."""

    cases: int
    x: Decimal
    y: Decimal
    xx: Decimal
    xy: Decimal
    yy: Decimal


@dataclass(frozen=True, slots=True)
class VariantCases:
    """One variant's cases in one currency: how many, how many were cured, their complaints,
    recovered over opening balance and commission over collected."""

    cases: int
    cured: int
    complaints: int
    recovery: RatioSums
    cost: RatioSums


def ratio_of_means(sums: RatioSums) -> Estimate:
    """Returns R = Σx / Σy and its delta-method variance (module docstring); 0 and 0 with
    nothing to divide by, and variance 0 for a single case (none can be estimated)."""
    if not sums.y:
        return Estimate(Decimal(0), Decimal(0))
    ratio = sums.x / sums.y
    if sums.cases < 2:
        return Estimate(ratio, Decimal(0))
    residuals = sums.xx - 2 * ratio * sums.xy + ratio * ratio * sums.yy
    mean_y = sums.y / sums.cases
    variance = residuals / (sums.cases * (sums.cases - 1) * mean_y * mean_y)
    # Σ(x − Ry)² cannot be negative; sums read as floats may leave a hair below zero.
    return Estimate(ratio, max(variance, Decimal(0)))


def proportion(successes: int, cases: int) -> Estimate:
    """Returns p = successes / cases and its variance p(1 − p) / cases."""
    p = Decimal(successes) / cases
    return Estimate(p, p * (1 - p) / cases)


def rate_per_case(events: int, cases: int, scale: int = PER_1000) -> Estimate:
    """Returns scale·k / n events per case and its Poisson variance scale²·k / n²."""
    return Estimate(Decimal(scale * events) / cases, Decimal(scale * scale * events) / cases**2)


def stratified(strata: Sequence[tuple[int, Estimate]]) -> Estimate:
    """Returns Σ w_c·value_c with variance Σ w_c²·var_c, where w_c is stratum c's share of the
    cases (``strata``: (cases, estimate) per stratum)."""
    total = sum(cases for cases, _ in strata)
    value, variance = Decimal(0), Decimal(0)
    for cases, estimate in strata:
        weight = Decimal(cases) / total
        value += weight * estimate.value
        variance += weight * weight * estimate.variance
    return Estimate(value, variance)


def _rate(value: Decimal) -> Decimal:
    return value.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def comparison(
    metric: str,
    champion: Estimate,
    challenger: Estimate,
    champion_cases: int,
    challenger_cases: int,
) -> VariantComparison:
    """Returns the metric's values, their difference (challenger − champion, from the unrounded
    values) and the 95% interval difference ± z·√(var₁ + var₂), each to four decimals."""
    difference = challenger.value - champion.value
    half_width = critical_value() * (champion.variance + challenger.variance).sqrt()
    return VariantComparison(
        metric=metric,
        champion=_rate(champion.value),
        challenger=_rate(challenger.value),
        difference=_rate(difference),
        confidence_low=_rate(difference - half_width),
        confidence_high=_rate(difference + half_width),
        champion_cases=champion_cases,
        challenger_cases=challenger_cases,
    )


def _money_ratio(
    metric: str,
    champion: Mapping[str, RatioSums],
    challenger: Mapping[str, RatioSums],
    currencies: Sequence[str],
) -> VariantComparison:
    """The ratio stratified over ``currencies``, each weighted by both variants' cases in it."""
    both = {c: champion[c].cases + challenger[c].cases for c in currencies}
    return comparison(
        metric,
        stratified([(both[c], ratio_of_means(champion[c])) for c in currencies]),
        stratified([(both[c], ratio_of_means(challenger[c])) for c in currencies]),
        sum(champion[c].cases for c in currencies),
        sum(challenger[c].cases for c in currencies),
    )


def compare_variants(
    champion: Mapping[str, VariantCases], challenger: Mapping[str, VariantCases]
) -> list[VariantComparison]:
    """Returns recovery rate, cure rate, cost of collection and complaints per 1,000 cases of
    the two variants (each given per currency). Empty when a variant has no case; the two money
    ratios are left out when the variants share no currency."""
    if not champion or not challenger:
        return []
    n1 = sum(v.cases for v in champion.values())
    n2 = sum(v.cases for v in challenger.values())
    cured = comparison(
        CURE_RATE,
        proportion(sum(v.cured for v in champion.values()), n1),
        proportion(sum(v.cured for v in challenger.values()), n2),
        n1,
        n2,
    )
    complaints = comparison(
        COMPLAINTS_PER_1000,
        rate_per_case(sum(v.complaints for v in champion.values()), n1),
        rate_per_case(sum(v.complaints for v in challenger.values()), n2),
        n1,
        n2,
    )
    currencies = sorted(champion.keys() & challenger.keys())
    if not currencies:
        return [cured, complaints]
    recovery = _money_ratio(
        RECOVERY_RATE,
        {c: v.recovery for c, v in champion.items()},
        {c: v.recovery for c, v in challenger.items()},
        currencies,
    )
    cost = _money_ratio(
        COST_OF_COLLECTION,
        {c: v.cost for c, v in champion.items()},
        {c: v.cost for c, v in challenger.items()},
        currencies,
    )
    return [recovery, cured, cost, complaints]
