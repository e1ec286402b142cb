"""The early-warning rules as versioned data: each rule has a stable name, a one-line
explanation, a threshold and a severity. The set-based raising (``store.warnings_queries``)
binds the thresholds as parameters, and docs/API.md tabulates the active set.

A new version of the rules is a new ``WarningRules`` value (a release, until maker–checker
exists); every warning records the version that raised it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from domain.contacts.model import NOT_CONNECTED_OUTCOMES, UNANSWERED_OUTCOMES


class Severity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RuleName(enum.StrEnum):
    """The stable names of the rules (a warning's ``rule``)."""

    MISSED_FIRST_PAYMENT = "MISSED_FIRST_PAYMENT"
    CONSECUTIVE_LATE_INSTALMENTS = "CONSECUTIVE_LATE_INSTALMENTS"
    PARTIAL_PAYMENTS = "PARTIAL_PAYMENTS"
    BROKEN_PROMISES = "BROKEN_PROMISES"
    REPEATED_FAILED_CONTACT = "REPEATED_FAILED_CONTACT"
    RISING_DPD = "RISING_DPD"
    LARGE_OUTSTANDING = "LARGE_OUTSTANDING"
    EXTERNAL_SIGNAL = "EXTERNAL_SIGNAL"
    FLAG_REVIEW_DUE = "FLAG_REVIEW_DUE"


class SignalKind(enum.StrEnum):
    """What a partner system reports about a borrower (postExternalSignal)."""

    CREDIT_BUREAU_HIT = "CREDIT_BUREAU_HIT"  # a new default or enquiry at the credit bureau
    JOB_LOSS = "JOB_LOSS"
    INCOME_DROP = "INCOME_DROP"
    FRAUD_SUSPECTED = "FRAUD_SUSPECTED"
    DECEASED_REPORTED = "DECEASED_REPORTED"
    LITIGATION_ELSEWHERE = "LITIGATION_ELSEWHERE"  # another creditor sued the borrower
    OTHER = "OTHER"


# Outcomes of an outbound attempt that reached nobody (REPEATED_FAILED_CONTACT): it rang
# unanswered (a message left is not an answer) or never connected.
FAILED_OUTCOMES = tuple(sorted(str(o) for o in UNANSWERED_OUTCOMES | NOT_CONNECTED_OUTCOMES))


@dataclass(frozen=True)
class Rule:
    """One rule: ``threshold`` is what the explanation counts (days, instalments, promises,
    attempts, buckets); ``window_days`` bounds how far back it looks, where it does;
    ``amounts`` are per-currency thresholds (LARGE_OUTSTANDING); EXTERNAL_SIGNAL takes its
    severity from the signal (``severity`` is then only the default shown)."""

    name: RuleName
    explanation: str
    threshold: int
    severity: Severity
    window_days: int | None = None
    amounts: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def threshold_text(self) -> str:
        """The threshold as the API guide shows it."""
        if self.amounts:
            return ", ".join(f"{cur} {amount:,}" for cur, amount in sorted(self.amounts.items()))
        text = str(self.threshold)
        if self.window_days is not None:
            text += f" in {self.window_days} days"
        return text


@dataclass(frozen=True)
class WarningRules:
    """A versioned set of rules, one per name."""

    version: str
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("one rule per name")
        for rule in self.rules:
            if rule.threshold < 1:
                raise ValueError(f"{rule.name}: the threshold must be at least 1")
            if rule.window_days is not None and rule.window_days < 1:
                raise ValueError(f"{rule.name}: the window must be at least one day")
            if any(amount <= 0 for amount in rule.amounts.values()):
                raise ValueError(f"{rule.name}: amounts must be above zero")

    def get(self, name: RuleName) -> Rule | None:
        """Returns the rule of that name, or None when this version has none (it raises nothing)."""
        return next((rule for rule in self.rules if rule.name == name), None)


DEFAULT_RULES = WarningRules(
    version="2026.1",
    rules=(
        Rule(
            RuleName.MISSED_FIRST_PAYMENT,
            "The debt's first instalment is this many days past due with nothing paid.",
            threshold=1,
            severity=Severity.HIGH,
        ),
        Rule(
            RuleName.CONSECUTIVE_LATE_INSTALMENTS,
            "This many instalments in a row of one debt are past due and not paid in full.",
            threshold=2,
            severity=Severity.MEDIUM,
        ),
        Rule(
            RuleName.PARTIAL_PAYMENTS,
            "This many past-due instalments of the case were paid only in part.",
            threshold=2,
            severity=Severity.LOW,
        ),
        Rule(
            RuleName.BROKEN_PROMISES,
            "This many promises to pay of the case were broken within the window.",
            threshold=2,
            severity=Severity.HIGH,
            window_days=90,
        ),
        Rule(
            RuleName.REPEATED_FAILED_CONTACT,
            "This many outbound attempts in a row reached nobody (no answer or a message left, "
            "busy or not connected, wrong number, failed); any other outcome or an inbound "
            "contact ends the run.",
            threshold=5,
            severity=Severity.MEDIUM,
        ),
        Rule(
            RuleName.RISING_DPD,
            "The case is this many buckets higher than in the previous daily snapshot.",
            threshold=1,
            severity=Severity.MEDIUM,
        ),
        Rule(
            RuleName.LARGE_OUTSTANDING,
            "The case's outstanding is at or above the amount of its currency.",
            threshold=1,
            severity=Severity.HIGH,
            amounts=MappingProxyType({"CNY": Decimal("100000.00"), "USD": Decimal("15000.00")}),
        ),
        Rule(
            RuleName.EXTERNAL_SIGNAL,
            "A partner system reported this borrower (raised at once on each open case; a "
            "case opened later gets signals of this many days back).",
            threshold=30,
            severity=Severity.MEDIUM,
        ),
        Rule(
            RuleName.FLAG_REVIEW_DUE,
            "A borrower flag's review date passed this many days ago and the flag is still set.",
            threshold=1,
            severity=Severity.LOW,
        ),
    ),
)
