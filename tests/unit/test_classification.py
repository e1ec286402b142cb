"""Classification policy (manual ch. 5): buckets in 30-day steps, classes by DPD band."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.cases.classification import (
    DEFAULT_POLICY,
    ClassBand,
    Classification,
    ClassificationPolicy,
    Standing,
    Verdict,
    assess,
)

C = Classification


@pytest.mark.parametrize(
    ("dpd", "bucket", "classification"),
    [
        (0, "M0", C.CURRENT),
        (1, "M1", C.MILD),
        (30, "M1", C.MILD),
        (31, "M2", C.MODERATE),
        (60, "M2", C.MODERATE),
        (61, "M3", C.MODERATE),
        (90, "M3", C.MODERATE),
        (91, "M4", C.SERIOUS),
        (120, "M4", C.SERIOUS),
        (121, "M5", C.SERIOUS),
        (150, "M5", C.SERIOUS),
        (151, "M6", C.SERIOUS),
        (180, "M6", C.SERIOUS),
        (181, "M7", C.SEVERE),
        (210, "M7", C.SEVERE),
        (211, "M7", C.SEVERE),
        (1000, "M7", C.SEVERE),
    ],
)
def test_default_policy_boundaries(dpd: int, bucket: str, classification: Classification) -> None:
    verdict = DEFAULT_POLICY.classify(dpd)
    assert verdict == Verdict(bucket, classification, "2026.1")
    assert DEFAULT_POLICY.bucket(dpd) == bucket


def test_verdict_carries_the_policy_version() -> None:
    assert DEFAULT_POLICY.version == "2026.1"
    assert DEFAULT_POLICY.classify(45).policy_version == "2026.1"
    custom = ClassificationPolicy(
        "test-7",
        (ClassBand(0, 0, C.CURRENT, "none"), ClassBand(1, None, C.MILD, "call")),
    )
    assert custom.classify(45).policy_version == "test-7"


def test_default_policy_bands_follow_the_manual() -> None:
    assert [(b.min_dpd, b.max_dpd, b.classification) for b in DEFAULT_POLICY.bands] == [
        (0, 0, C.CURRENT),
        (1, 30, C.MILD),
        (31, 90, C.MODERATE),
        (91, 180, C.SERIOUS),
        (181, None, C.SEVERE),
    ]
    assert (DEFAULT_POLICY.bucket_days, DEFAULT_POLICY.max_bucket) == (30, 7)


def test_classification_values_are_their_names() -> None:
    assert [str(c) for c in Classification] == [
        "CURRENT",
        "MILD",
        "MODERATE",
        "SERIOUS",
        "SEVERE",
    ]


@pytest.mark.parametrize("dpd", [-1, -30, -1000])
def test_negative_dpd_is_refused(dpd: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        DEFAULT_POLICY.classify(dpd)
    with pytest.raises(ValueError, match="negative"):
        DEFAULT_POLICY.bucket(dpd)


def test_a_custom_policy_uses_its_own_bucket_width_and_cap() -> None:
    policy = ClassificationPolicy(
        "short-1",
        (
            ClassBand(0, 0, C.CURRENT, ""),
            ClassBand(1, 10, C.MILD, ""),
            ClassBand(11, None, C.SEVERE, ""),
        ),
        bucket_days=10,
        max_bucket=3,
    )
    results = {dpd: policy.classify(dpd) for dpd in (0, 1, 10, 11, 20, 21, 30, 31, 999)}
    assert {dpd: (v.bucket, v.classification) for dpd, v in results.items()} == {
        0: ("M0", C.CURRENT),
        1: ("M1", C.MILD),
        10: ("M1", C.MILD),
        11: ("M2", C.SEVERE),
        20: ("M2", C.SEVERE),
        21: ("M3", C.SEVERE),
        30: ("M3", C.SEVERE),
        31: ("M3", C.SEVERE),
        999: ("M3", C.SEVERE),
    }


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        pytest.param(
            (ClassBand(0, 5, C.CURRENT, ""), ClassBand(7, None, C.MILD, "")),
            "contiguous",
            id="gap",
        ),
        pytest.param(
            (ClassBand(0, 5, C.CURRENT, ""), ClassBand(5, None, C.MILD, "")),
            "contiguous",
            id="overlap",
        ),
        pytest.param(
            (ClassBand(1, 5, C.MILD, ""), ClassBand(6, None, C.SEVERE, "")),
            "contiguous",
            id="does-not-start-at-0",
        ),
        pytest.param(
            (ClassBand(0, None, C.CURRENT, ""), ClassBand(1, None, C.MILD, "")),
            "only the last band may be open",
            id="open-band-not-last",
        ),
        pytest.param(
            (
                ClassBand(0, 0, C.CURRENT, ""),
                ClassBand(1, None, C.MILD, ""),
                ClassBand(31, 90, C.MODERATE, ""),
            ),
            "only the last band may be open",
            id="open-band-in-the-middle",
        ),
        pytest.param(
            (ClassBand(0, 0, C.CURRENT, ""), ClassBand(1, 30, C.MILD, "")),
            "must be open-ended",
            id="last-band-closed",
        ),
        pytest.param((), "must be open-ended", id="no-bands"),
        pytest.param(
            (ClassBand(0, -1, C.CURRENT, ""), ClassBand(0, None, C.MILD, "")),
            "empty band at 0",
            id="empty-band",
        ),
    ],
)
def test_malformed_policies_are_refused(bands: tuple[ClassBand, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        ClassificationPolicy("bad-1", bands)
    assert "policy bad-1" in str(raised.value)


def test_an_open_band_repeated_at_the_end_is_refused() -> None:
    open_band = ClassBand(1, None, C.MILD, "")
    with pytest.raises(ValueError, match="only the last band may be open"):
        ClassificationPolicy("bad-2", (ClassBand(0, 0, C.CURRENT, ""), open_band, open_band))


@pytest.mark.parametrize(("bucket_days", "max_bucket"), [(0, 7), (30, 0)])
def test_bucket_geometry_must_be_positive(bucket_days: int, max_bucket: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        ClassificationPolicy("bad-3", DEFAULT_POLICY.bands, bucket_days, max_bucket)


def test_a_case_is_as_late_as_its_worst_debt_and_owes_their_sum() -> None:
    standing = assess(
        DEFAULT_POLICY,
        [(10, Decimal("1065.35")), (122, Decimal("200.00")), (0, Decimal("0.65"))],
    )
    assert standing == Standing(122, Decimal("1266.00"), Verdict("M5", C.SERIOUS, "2026.1"))


@pytest.mark.parametrize(
    ("dpd", "bucket", "classification"),
    [(0, "M0", C.CURRENT), (30, "M1", C.MILD), (31, "M2", C.MODERATE), (181, "M7", C.SEVERE)],
)
def test_one_debt_gives_the_policys_verdict_on_its_dpd(
    dpd: int, bucket: str, classification: Classification
) -> None:
    standing = assess(DEFAULT_POLICY, [(dpd, Decimal("50.00"))])
    assert standing == Standing(dpd, Decimal("50.00"), Verdict(bucket, classification, "2026.1"))


def test_a_case_without_debts_is_current_and_owes_nothing() -> None:
    assert assess(DEFAULT_POLICY, []) == Standing(0, Decimal(0), Verdict("M0", C.CURRENT, "2026.1"))


def test_the_figures_may_come_from_a_single_pass_iterator() -> None:
    figures = iter([(45, Decimal("1.00")), (3, Decimal("2.00"))])
    assert assess(DEFAULT_POLICY, figures) == Standing(
        45, Decimal("3.00"), Verdict("M2", C.MODERATE, "2026.1")
    )


def test_assess_uses_the_policy_it_is_given() -> None:
    policy = ClassificationPolicy(
        "short-2",
        (ClassBand(0, 0, C.CURRENT, ""), ClassBand(1, None, C.SEVERE, "")),
        bucket_days=10,
        max_bucket=2,
    )
    assert assess(policy, [(15, Decimal("9.99"))]) == Standing(
        15, Decimal("9.99"), Verdict("M2", C.SEVERE, "short-2")
    )


def test_a_negative_dpd_among_the_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        assess(DEFAULT_POLICY, [(-1, Decimal("1.00"))])
