"""The ``notices`` connection: the notices of the cases the viewer can see, newest first."""

from __future__ import annotations

from dataclasses import replace

import strawberry

import api.contacts.types  # noqa: F401 - registers ContactChannel
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.notices.types import Notice, NoticeStatus
from api.permissions import needs
from domain.contacts.model import ContactChannel
from store import notice_queries
from store.keyset import InvalidCursor
from store.notice_queries import NoticeFilterSpec


@strawberry.input(description="Every condition given must hold (AND); lists match any value (OR).")
class NoticeFilter:
    case_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this case's notices."
    )
    status: list[NoticeStatus] | None = strawberry.field(
        default=None, description="Notices in any of these statuses (e.g. [QUEUED])."
    )
    channel: list[ContactChannel] | None = strawberry.field(
        default=None, description="SMS, EMAIL, LETTER."
    )
    template: list[str] | None = strawberry.field(
        default=None, description="Template names, e.g. PAYMENT_REMINDER."
    )

    def to_spec(self) -> NoticeFilterSpec:
        """Returns the store's filter; refuses a malformed case ID."""
        case_pk = None
        if self.case_id is not None:
            case_pk = pk_of(self.case_id, "Case")
            if case_pk is None:
                raise BadUserInput("filter.caseId is not a case ID")
        for name in self.template or ():
            check_text("filter.template", name)
        return NoticeFilterSpec(
            case_id=case_pk,
            statuses=[s.value for s in self.status or ()],
            channels=[c.value for c in self.channel or ()],
            templates=[t[:64] for t in self.template or ()],
        )


@strawberry.type
class NoticeQuery:
    @strawberry.field(
        description="Notices on the cases you can see, newest first (by when they were "
        "queued); totalCount counts those you can see.",
        extensions=needs("notice:read"),
    )
    async def notices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: NoticeFilter | None = None,
    ) -> Connection[Notice]:
        ctx = info.context
        limit = page_size(first)
        spec = filter.to_spec() if filter else NoticeFilterSpec()
        spec = replace(spec, case_scope=ctx.scope.case)
        try:
            position = notice_queries.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(
            lambda session: notice_queries.fetch_page(session, spec, position, limit)
        )
        return connection(
            rows,
            more,
            after=after,
            cursor=notice_queries.encode_cursor,
            node=Notice.from_row,
            count=lambda: ctx.read(lambda session: notice_queries.count(session, spec)),
        )
