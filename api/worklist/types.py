"""GraphQL types of the worklist."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.cases.types import Case
from api.tasks.types import Task


@strawberry.type(
    description="A case on your worklist: why it stands where it does, and whether its borrower "
    "may be called now."
)
class WorklistItem:
    case: Case
    reasons: list[str] = strawberry.field(
        description="Why the case is where it is, first the one that ranks it: "
        "`CALLBACK_REQUESTED <instant>` (a callback the borrower asked for, due by the end of "
        "the portfolio's day), `PROMISE_DUE_TODAY <date>`, `PROMISE_BROKEN <due date>`, then "
        "always `DPD <days>` and `OUTSTANDING <amount> <currency>`; last, for each OPEN task "
        "due by the portfolio's today, earliest first, `TASK_DUE <kind> <step>` (tasks do not "
        "change the order)."
    )
    tasks: list[Task] = strawberry.field(
        description="The case's OPEN tasks, earliest due first: what the strategy asks of you "
        "on it, each with its step and reason."
    )
    contact_allowed_now: bool = strawberry.field(
        description="Whether the conduct rules allow a PHONE call to the borrower's primary "
        "usable phone number now."
    )
    next_contact_at: datetime | None = strawberry.field(
        description="The earliest instant such a call is allowed (now, when it is); null when "
        "waiting will not allow it (e.g. no usable number)."
    )
