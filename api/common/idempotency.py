"""Exactly once per idempotency key: a mutation that takes a caller's key claims it in the
transaction that does its work, and a retry with the key answers with what the first request
made (or is refused if the key was used for anything else)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from api.context import Context
from domain.errors import ConcurrencyConflict, IdempotencyKeyTooLong
from store.audit import AuditAction
from store.uow import IdempotencyClaim, SqlUnitOfWork

T = TypeVar("T")

MAX_KEY = 128

UnitsOfWork = Callable[[], SqlUnitOfWork]


def idempotency_key(text: str | None) -> str | None:
    """The idempotency key sent (an empty one: none); refuses one longer than ``MAX_KEY``."""
    key = text or None
    if key is not None and len(key) > MAX_KEY:
        raise IdempotencyKeyTooLong(
            f"the idempotency key is longer than {MAX_KEY} characters", field="idempotencyKey"
        )
    return key


async def exactly_once(
    ctx: Context,
    key: str | None,
    operation: AuditAction,
    replay: Callable[[str], Awaitable[T | None]],
    work: Callable[[UnitsOfWork], Awaitable[T]],
    *,
    retry_on: tuple[type[Exception], ...] = (ConcurrencyConflict,),
    at: datetime | None = None,
) -> T:
    """Runs ``work`` in units of work that claim the key (if any; checked by
    ``idempotency_key``) on commit, or returns what ``replay`` finds an earlier request with
    the key made (``replay`` returns None for an unused key and refuses a key used for anything
    else). A retry that lost the race for the claim (one of ``retry_on``) answers with the
    winner's result. Whatever ``work`` raises before it commits leaves the key unclaimed.

    ``at`` is the instant of the claim (default: now)."""
    key = idempotency_key(key)
    claim = None
    if key is not None:
        prior = await replay(key)
        if prior is not None:
            return prior
        assert ctx.viewer.id is not None
        claim = IdempotencyClaim(ctx.viewer.id, key, operation, at or ctx.clock.now())
    await ctx.release()
    try:
        return await work(lambda: ctx.unit_of_work(claim))
    except retry_on:
        # A request with the same key may have committed first: answer with its result.
        prior = await replay(key) if key is not None else None
        if prior is None:
            raise
        return prior
