"""The per-request loaders bind at most ``MAX_BATCH`` keys per statement: drivers refuse more
than 32,767 parameters, so a bigger batch (an allocation's 50,000 cases) goes in several."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from api.context import MAX_BATCH, Context


class Reader:
    """Stands in for the context's one read session: runs the work on none."""

    async def read(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(None)


async def test_a_batch_bigger_than_max_batch_goes_in_several_fetches() -> None:
    batches: list[int] = []

    async def fetch(_session: Any, keys: Sequence[int], _scope: Any) -> list[int]:
        batches.append(len(keys))
        return [key * 2 for key in keys]

    loader = Context._loader(Reader(), fetch, None)  # type: ignore[arg-type]
    keys = list(range(2 * MAX_BATCH + 5))
    assert await loader.load_many(keys) == [key * 2 for key in keys]
    assert batches == [MAX_BATCH, MAX_BATCH, 5]
    assert MAX_BATCH < 32_767 // 2  # room for a scope's own parameters, twice over
