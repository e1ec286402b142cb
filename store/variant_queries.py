"""Champion against challenger: each metric of a strategy's two variants over the period, from
per-variant aggregates computed in the database (the statistics are the domain's)."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.reports.model import VariantComparison
from store.report_basis import Observations


async def variant_comparison(
    conn: AsyncConnection,
    observations: Observations,
    strategy: str,
    scope: ColumnElement[bool],
) -> list[VariantComparison]:
    raise NotImplementedError
