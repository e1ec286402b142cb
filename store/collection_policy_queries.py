"""The collection policy in effect (``domain.collection_policy``): promise grace days and horizon,
the watch window after a cure, the escalation point. Read by ``recordPromise``, ``postPayment``
and ``reversePayment`` at the request's instant, by the daily run at each date's instant and by
the feed import at its instant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.collection_policy import (
    DEFAULT,
    KIND,
    NAME,
    CollectionPolicy,
    from_payload,
    version_name,
)
from store import rule_sets


async def policy_in_effect(db: AsyncConnection | AsyncSession, at: datetime) -> CollectionPolicy:
    """Returns the collection policy in effect at ``at``: the latest stored version, else the
    checked-in default (``default@builtin``)."""
    stored = await rule_sets.in_effect(db, KIND, NAME, at)
    if stored is None:
        return DEFAULT
    return from_payload(stored.payload, version_name(stored.version))
