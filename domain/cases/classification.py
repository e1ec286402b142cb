"""Classification of overdue cases into buckets and classes by days past due (manual ch. 5)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# The bucket of a case that is not past due: a period in it after a delinquent one ends a spell.
CURRENT_BUCKET = "M0"


class Classification(enum.StrEnum):
    """The class of a case by days past due (DOMAIN.md, chapter 5)."""

    CURRENT = "CURRENT"
    MILD = "MILD"
    MODERATE = "MODERATE"
    SERIOUS = "SERIOUS"
    SEVERE = "SEVERE"


@dataclass(frozen=True, slots=True)
class ClassBand:
    """DPD from ``min_dpd`` up to and including ``max_dpd`` (None: no upper bound)."""

    min_dpd: int
    max_dpd: int | None
    classification: Classification
    strategy: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy says of a number of days past due, and which version of it said so."""

    bucket: str
    classification: Classification
    policy_version: str


@dataclass(frozen=True, slots=True)
class ClassificationPolicy:
    """A versioned policy: bucket width, the highest bucket, and DPD bands per classification."""

    version: str
    bands: tuple[ClassBand, ...]
    bucket_days: int = 30
    max_bucket: int = 7

    def __post_init__(self) -> None:
        if self.bucket_days < 1 or self.max_bucket < 1:
            raise ValueError(f"policy {self.version}: bucket_days and max_bucket must be >= 1")
        expected = 0
        for position, band in enumerate(self.bands):
            if band.min_dpd != expected:
                raise ValueError(f"policy {self.version}: bands must be contiguous from 0")
            if band.max_dpd is None:
                if position != len(self.bands) - 1:
                    raise ValueError(f"policy {self.version}: only the last band may be open")
                break
            if band.max_dpd < band.min_dpd:
                raise ValueError(f"policy {self.version}: empty band at {band.min_dpd}")
            expected = band.max_dpd + 1
        if not self.bands or self.bands[-1].max_dpd is not None:
            raise ValueError(f"policy {self.version}: the last band must be open-ended")

    def bucket(self, dpd: int) -> str:
        """Returns M0 at 0 DPD, else M1, M2, … in steps of ``bucket_days`` up to
        ``M<max_bucket>`` (the default policy: M1 = 1–30, M2 = 31–60, … M7 = 181+)."""
        if dpd < 0:
            raise ValueError("days past due cannot be negative")
        if dpd == 0:
            return CURRENT_BUCKET
        return f"M{min((dpd - 1) // self.bucket_days + 1, self.max_bucket)}"

    def classify(self, dpd: int) -> Verdict:
        """Returns the bucket and classification for a number of days past due."""
        bucket = self.bucket(dpd)
        for band in self.bands:
            if band.max_dpd is None or dpd <= band.max_dpd:
                return Verdict(bucket, band.classification, self.version)
        raise AssertionError("unreachable: the last band is open-ended")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Standing:
    """A case's figures as of a date: the worst DPD of its debts, their total outstanding, and
    the policy's verdict on that DPD."""

    days_past_due: int
    outstanding_amount: Decimal
    verdict: Verdict


def assess(policy: ClassificationPolicy, debts: Iterable[tuple[int, Decimal]]) -> Standing:
    """Returns a case's standing from each debt's (days past due, outstanding amount).

    The case is as late as its worst debt (current when it has none). The figures are plain values
    so that the rule does not depend on where they come from: debts in memory
    (``Case.reclassify``, the demo seed) or a batch query.
    """
    figures = list(debts)
    dpd = max((debt_dpd for debt_dpd, _ in figures), default=0)
    outstanding = sum((amount for _, amount in figures), Decimal(0))
    return Standing(dpd, outstanding, policy.classify(dpd))


DEFAULT_POLICY = ClassificationPolicy(
    version="2026.1",
    bands=(
        ClassBand(0, 0, Classification.CURRENT, "pre-due reminders for customers with warnings"),
        ClassBand(1, 30, Classification.MILD, "SMS and phone reminders"),
        ClassBand(31, 90, Classification.MODERATE, "intensive phone collection, letters, agency"),
        ClassBand(91, 180, Classification.SERIOUS, "legal procedure may start"),
        ClassBand(181, None, Classification.SEVERE, "guarantor, legal action, write-off candidate"),
    ),
)
