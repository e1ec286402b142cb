"""Rule sets as versioned data: the kinds of rules a lender changes through maker–checker.

Each kind has checked-in defaults beside the code that reads them (the version a fresh database
uses) and stored, approved versions in ``rule_set_versions``: the one loader
(``store.rule_sets.in_effect``) returns the newest approved version whose start has passed at an
instant (a later approval supersedes an earlier one from its own start on), else nothing, and
the reader falls back to its default. A rule set is named within its kind (a conduct profile
by its name, approval limits and legal policy per conduct profile or ``default``).
"""

from __future__ import annotations

import enum


class RuleSetKind(enum.StrEnum):
    """The kinds of rule sets, each with one reader in its feature's domain module."""

    APPROVAL_LIMITS = "APPROVAL_LIMITS"  # domain.restructuring
    RESTRUCTURING_POLICY = "RESTRUCTURING_POLICY"  # domain.restructuring (cumulative period…)
    LEGAL_POLICY = "LEGAL_POLICY"  # domain.legal (thresholds, limitation periods…)
    WRITE_OFF_POLICY = "WRITE_OFF_POLICY"  # domain.writeoff (minimum DPD of a manual one)
    COLLECTION_POLICY = "COLLECTION_POLICY"  # domain.collection_policy (promise grace, watch…)
    CONDUCT_PROFILE = "CONDUCT_PROFILE"  # domain.conduct
    WATERFALL = "WATERFALL"  # domain.payments
    WARNING_RULES = "WARNING_RULES"  # domain.warnings
    # Open kinds (any well-formed name, e.g. a new strategy): strategies and notice templates.
    STRATEGY = "STRATEGY"  # domain.strategies (a champion: segments and their steps)
    STRATEGY_CHALLENGER = "STRATEGY_CHALLENGER"  # domain.strategies (share, segments, steps)
    NOTICE_TEMPLATE = "NOTICE_TEMPLATE"  # domain.notices (texts per language, checked per profile)


DEFAULT_NAME = "default"
