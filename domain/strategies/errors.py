"""Refusals of strategy work (a strategy's payload itself is refused by maker–checker)."""

from __future__ import annotations

from domain.errors import ErrorCode, RuleViolation


class NoChallenger(RuleViolation):
    """A promotion needs a challenger running against the strategy now."""

    code = ErrorCode.NO_CHALLENGER
