"""The statistics of a champion/challenger comparison against values worked out by hand: the
formulas are written out below with the math module (the normal quantile from the standard
library, not SciPy), on small samples and on a textbook pair of proportions; and SciPy, the
source of the critical value, is not imported with the app."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import NormalDist

from domain.reports.model import VariantComparison
from domain.reports.statistics import (
    COMPLAINTS_PER_1000,
    CURE_RATE,
    RECOVERY_RATE,
    Estimate,
    RatioSums,
    VariantCases,
    compare_variants,
    comparison,
    critical_value,
    proportion,
    rate_per_case,
    ratio_of_means,
    stratified,
)

Z95 = NormalDist().inv_cdf(0.975)


def q(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def sums(pairs: list[tuple[int, int]]) -> RatioSums:
    """The sums the database returns for per-case pairs (x, y)."""
    return RatioSums(
        cases=len(pairs),
        x=Decimal(sum(x for x, _ in pairs)),
        y=Decimal(sum(y for _, y in pairs)),
        xx=Decimal(sum(x * x for x, _ in pairs)),
        xy=Decimal(sum(x * y for x, y in pairs)),
        yy=Decimal(sum(y * y for _, y in pairs)),
    )


def by_hand(pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """R = Σx / Σy and var(R) = Σ(x − R·y)² / (n(n − 1)·ȳ²), residual by residual."""
    n = len(pairs)
    r = sum(x for x, _ in pairs) / sum(y for _, y in pairs)
    mean_y = sum(y for _, y in pairs) / n
    return r, sum((x - r * y) ** 2 for x, y in pairs) / (n * (n - 1) * mean_y**2)


def interval(
    first: tuple[float, float], second: tuple[float, float]
) -> tuple[Decimal, Decimal, Decimal]:
    difference = second[0] - first[0]
    half = Z95 * math.sqrt(first[1] + second[1])
    return q(difference), q(difference - half), q(difference + half)


def test_the_critical_value_is_the_normal_quantile_of_0975() -> None:
    z = critical_value()
    assert z.quantize(Decimal("0.000001")) == Decimal("1.959964")
    assert abs(float(z) - Z95) < 1e-12


def test_importing_the_app_does_not_import_scipy() -> None:
    """SciPy takes over a second to import: only the first comparison pays it (a fresh
    interpreter, since this one may have imported it already)."""
    check = (
        "import sys, api.app, domain.reports.statistics; "
        "assert 'scipy' not in sys.modules, 'scipy imported'"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_two_proportions_from_a_textbook() -> None:
    """45 of 100 against 30 of 100: difference 0.15, Wald interval 0.15 ± 1.959964 ×
    √(0.45·0.55/100 + 0.30·0.70/100) = 0.15 ± 1.959964 × 0.067639 = 0.15 ± 0.132570."""
    result = comparison(CURE_RATE, proportion(30, 100), proportion(45, 100), 100, 100)
    assert result == VariantComparison(
        metric="cureRate",
        champion=Decimal("0.3000"),
        challenger=Decimal("0.4500"),
        difference=Decimal("0.1500"),
        confidence_low=Decimal("0.0174"),
        confidence_high=Decimal("0.2826"),
        champion_cases=100,
        challenger_cases=100,
    )
    se = math.sqrt(0.45 * 0.55 / 100 + 0.30 * 0.70 / 100)
    assert (result.confidence_low, result.confidence_high) == (
        q(0.15 - Z95 * se),
        q(0.15 + Z95 * se),
    )


def test_a_ratio_of_means_by_the_delta_method() -> None:
    """Champion (10, 100), (30, 100), (0, 50): R = 40/250 = 0.16, residuals −6, 14, −8,
    var = 296 / (3·2·(250/3)²) = 0.007104; challenger (50, 100), (20, 80), (40, 120), (0, 40):
    R = 110/340 = 0.323529, var = 0.005939; 0.163529 ± 1.959964 × √0.013043."""
    champion = [(10, 100), (30, 100), (0, 50)]
    challenger = [(50, 100), (20, 80), (40, 120), (0, 40)]
    first, second = ratio_of_means(sums(champion)), ratio_of_means(sums(challenger))
    assert first.value == Decimal("0.16")
    assert first.variance.quantize(Decimal("0.000001")) == Decimal("0.007104")
    result = comparison(RECOVERY_RATE, first, second, 3, 4)
    assert (result.champion, result.challenger) == (Decimal("0.1600"), Decimal("0.3235"))
    assert (result.difference, result.confidence_low, result.confidence_high) == interval(
        by_hand(champion), by_hand(challenger)
    )
    assert (result.confidence_low, result.confidence_high) == (
        Decimal("-0.0603"),
        Decimal("0.3874"),
    )


def test_a_ratio_with_nothing_to_divide_by_or_a_single_case() -> None:
    assert ratio_of_means(sums([(0, 0), (0, 0)])) == Estimate(Decimal(0), Decimal(0))
    single = ratio_of_means(sums([(30, 120)]))
    assert single == Estimate(Decimal("0.25"), Decimal(0))


def test_complaints_per_1000_cases_as_poisson_rates() -> None:
    """3 complaints over 200 cases against 9 over 250: 15 and 36 per 1,000, difference 21 ±
    1.959964 × 1000·√(3/200² + 9/250²) = 21 ± 1.959964 × 14.798649."""
    result = comparison(COMPLAINTS_PER_1000, rate_per_case(3, 200), rate_per_case(9, 250), 200, 250)
    assert (result.champion, result.challenger, result.difference) == (
        Decimal("15.0000"),
        Decimal("36.0000"),
        Decimal("21.0000"),
    )
    half = Z95 * 1000 * math.sqrt(3 / 200**2 + 9 / 250**2)
    assert (result.confidence_low, result.confidence_high) == (q(21 - half), q(21 + half))
    assert (result.confidence_low, result.confidence_high) == (
        Decimal("-8.0048"),
        Decimal("50.0048"),
    )


def test_no_events_give_a_zero_width_interval() -> None:
    result = comparison(COMPLAINTS_PER_1000, rate_per_case(0, 10), rate_per_case(0, 20), 10, 20)
    assert (result.difference, result.confidence_low, result.confidence_high) == (
        Decimal("0.0000"),
        Decimal("0.0000"),
        Decimal("0.0000"),
    )


def test_the_difference_is_taken_before_rounding() -> None:
    """1/3 and 2/3 show as 0.3333 and 0.6667; their difference is 0.3333, not 0.3334."""
    result = comparison(CURE_RATE, proportion(1, 3), proportion(2, 3), 3, 3)
    assert (result.champion, result.challenger, result.difference) == (
        Decimal("0.3333"),
        Decimal("0.6667"),
        Decimal("0.3333"),
    )


def test_strata_weighted_by_their_cases() -> None:
    """Weights 7/10 and 3/10: 0.7·0.2 + 0.3·0.5 = 0.29, variance 0.49·0.01 + 0.09·0.04."""
    estimate = stratified(
        [
            (7, Estimate(Decimal("0.2"), Decimal("0.01"))),
            (3, Estimate(Decimal("0.5"), Decimal("0.04"))),
        ]
    )
    assert estimate == Estimate(Decimal("0.29"), Decimal("0.0085"))


def _cases(pairs: list[tuple[int, int]], cured: int, complaints: int) -> VariantCases:
    recovered = sums(pairs)
    # Commission: a tenth of what was recovered on each case.
    cost = sums([(x // 10, x) for x, _ in pairs])
    return VariantCases(len(pairs), cured, complaints, recovered, cost)


def test_both_variants_in_one_currency() -> None:
    champion = [(10, 100), (30, 100), (0, 50)]
    challenger = [(50, 100), (20, 80), (40, 120), (0, 40)]
    result = compare_variants({"CNY": _cases(champion, 1, 2)}, {"CNY": _cases(challenger, 3, 1)})
    assert [r.metric for r in result] == [
        "recoveryRate",
        "cureRate",
        "costOfCollection",
        "complaintsPer1000",
    ]
    recovery, cure, cost, complaints = result
    assert (recovery.difference, recovery.confidence_low, recovery.confidence_high) == interval(
        by_hand(champion), by_hand(challenger)
    )
    assert (cure.champion, cure.challenger) == (Decimal("0.3333"), Decimal("0.7500"))
    # Every case's commission is a tenth of its recovery: 0.1 with no variance on both sides.
    assert (cost.champion, cost.challenger, cost.confidence_low, cost.confidence_high) == (
        Decimal("0.1000"),
        Decimal("0.1000"),
        Decimal("0.0000"),
        Decimal("0.0000"),
    )
    assert (complaints.champion, complaints.challenger) == (
        Decimal("666.6667"),
        Decimal("250.0000"),
    )
    assert all((r.champion_cases, r.challenger_cases) == (3, 4) for r in result)


def test_money_ratios_only_over_the_currencies_both_variants_have() -> None:
    """Champion in CNY and USD, challenger in CNY only: the money ratios compare the CNY cases
    (weights 1); the cure and complaint rates every case."""
    cny_champion = [(10, 100), (30, 100), (0, 50)]
    cny_challenger = [(50, 100), (20, 80), (40, 120), (0, 40)]
    result = compare_variants(
        {"CNY": _cases(cny_champion, 1, 0), "USD": _cases([(5, 10), (1, 20)], 2, 1)},
        {"CNY": _cases(cny_challenger, 2, 0)},
    )
    recovery, cure, _, complaints = result
    assert (recovery.champion_cases, recovery.challenger_cases) == (3, 4)
    assert (recovery.difference, recovery.confidence_low, recovery.confidence_high) == interval(
        by_hand(cny_champion), by_hand(cny_challenger)
    )
    assert (cure.champion_cases, cure.champion) == (5, Decimal("0.6000"))
    assert complaints.champion == Decimal("200.0000")


def test_no_money_ratio_without_a_shared_currency_and_nothing_without_both_variants() -> None:
    champion = {"USD": _cases([(5, 10), (1, 20)], 1, 0)}
    challenger = {"CNY": _cases([(10, 100), (30, 100)], 1, 0)}
    assert [r.metric for r in compare_variants(champion, challenger)] == [
        "cureRate",
        "complaintsPer1000",
    ]
    assert compare_variants(champion, {}) == []
    assert compare_variants({}, challenger) == []
