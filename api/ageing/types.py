"""GraphQL types of what the daily run keeps: a case's classification history."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from domain.cases.classification import Classification as DomainClassification
from store.daily_queries import ClassificationPeriod as PeriodRow

if TYPE_CHECKING:
    from api.cases.types import Classification


@strawberry.type(
    description="A span of days in one classification and bucket, both dates inclusive "
    "(`toDate` null: the current period). The daily run opens a period on the first date a "
    "case is in a new class or bucket (or under a new policy version) and ends the previous one "
    "the day before, so periods are contiguous."
)
class ClassificationPeriod:
    # The enum as api.cases.types registers it (this module is imported before it is).
    classification: Annotated[Classification, strawberry.lazy("api.cases.types")]
    bucket: str = strawberry.field(description="M0 (current), M1 (1–30 DPD) … M7 (181+).")
    from_date: date
    to_date: date | None
    policy_version: str = strawberry.field(description="The classification policy that decided.")

    @classmethod
    def from_row(cls, row: PeriodRow) -> ClassificationPeriod:
        return cls(
            classification=DomainClassification(row.classification),
            bucket=row.bucket,
            from_date=row.from_date,
            to_date=row.to_date,
            policy_version=row.policy_version,
        )


async def classification_history_of(info: Info, case_id: int) -> list[ClassificationPeriod]:
    """A case's periods, oldest first, through the request's DataLoader (one statement for a
    page of cases)."""
    rows = await info.context.classification_history.load(case_id)
    return [ClassificationPeriod.from_row(row) for row in rows]
