"""The store's metrics: audit append latency, and the connection pool read at scrape time.

The API layer registers these in its own registry (``api.metrics``); the store only measures,
so it never imports the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

# One per process, unregistered: every app of the process adds it to its registry (a process
# serves one app; the test suite builds many, which then share this histogram).
AUDIT_APPEND_SECONDS = Histogram(
    "arrears_audit_append_seconds",
    "Time to append a batch of audit entries to a chain (inside its transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=None,
)


def pool_status(engine: AsyncEngine) -> dict[str, int] | None:
    """Returns the pool's size, checked-out and overflow connections (None: no such pool)."""
    pool = engine.pool
    try:
        return {
            "size": int(pool.size()),  # type: ignore[attr-defined]
            "checked_out": int(pool.checkedout()),  # type: ignore[attr-defined]
            "overflow": int(pool.overflow()),  # type: ignore[attr-defined]
        }
    except AttributeError:
        return None  # e.g. a NullPool or StaticPool keeps no such counts


class PoolCollector(Collector):
    """Reads the database connection pool when scraped (never between scrapes)."""

    def __init__(self, engine: Callable[[], AsyncEngine | None]) -> None:
        self._engine = engine

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families({"size": 0, "checked_out": 0, "overflow": 0}))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._engine()
        status = pool_status(engine) if engine is not None else None
        return iter(self._families(status) if status is not None else [])

    @staticmethod
    def _families(status: dict[str, int]) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "arrears_db_pool_size", "Connections the pool keeps open", status["size"]
            ),
            GaugeMetricFamily(
                "arrears_db_pool_checked_out",
                "Connections in use by requests at the moment of the scrape",
                status["checked_out"],
            ),
            GaugeMetricFamily(
                "arrears_db_pool_overflow",
                "Connections open beyond the pool's size (negative: not yet opened)",
                status["overflow"],
            ),
        ]
