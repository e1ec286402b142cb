"""ruleChanges (newest first, keyset-paginated), ruleSet and ruleSets: the versions in effect now
and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.changes.types import RuleChangeNode, RuleSet, RuleSetVersion
from api.common.inputs import check_text
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from domain.changes import registry
from domain.changes.model import ChangeStatus
from domain.rulesets import RuleSetKind
from store import changes_queries
from store.changes_queries import VersionRow
from store.keyset import InvalidCursor


def _in_effect(rows: list[VersionRow], now: datetime) -> VersionRow | None:
    """The version the loader (``store.rule_sets.in_effect``) takes at ``now``: the newest
    approved one whose start has passed."""
    started = [r for r in rows if r.effective_from <= now]
    return max(started, key=lambda r: r.version, default=None)


def _rule_set(kind: RuleSetKind, name: str, rows: list[VersionRow], now: datetime) -> RuleSet:
    found = registry.entry(kind)
    current = _in_effect(rows, now)
    builtin: Any = found.default(name) if found and name in found.names else None
    return RuleSet(
        kind=kind,
        name=name,
        in_effect=RuleSetVersion.from_row(current) if current else None,
        builtin=builtin,
        versions=[RuleSetVersion.from_row(r) for r in rows],
    )


@strawberry.type
class ChangeQuery:
    @strawberry.field(
        description="Changes to rules and roles, newest first; `status` keeps those in it.",
        extensions=needs("rule_change:read"),
    )
    async def rule_changes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[ChangeStatus] | None = None,
    ) -> Connection[RuleChangeNode]:
        ctx = info.context
        limit = page_size(first)
        statuses = [s.value for s in status or ()]
        try:
            position = changes_queries.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(
            lambda session: changes_queries.fetch_page(session, statuses, position, limit)
        )
        return connection(
            rows,
            more,
            after=after,
            cursor=changes_queries.encode_cursor,
            node=RuleChangeNode.from_domain,
            count=lambda: ctx.read(lambda session: changes_queries.count(session, statuses)),
        )

    @strawberry.field(
        description="One rule set: the version in effect now and every approved version.",
        extensions=needs("rule_change:read"),
    )
    async def rule_set(self, info: Info, kind: RuleSetKind, name: str = "default") -> RuleSet:
        ctx = info.context
        check_text("name", name)
        if len(name) > 64:
            raise BadUserInput("name is longer than 64 characters")
        rows = await ctx.read(lambda session: changes_queries.versions(session, kind.value, name))
        return _rule_set(kind, name, rows, ctx.clock.now())

    @strawberry.field(
        description="Every rule set with a checked-in default or an approved version, by kind "
        "and name.",
        extensions=needs("rule_change:read"),
    )
    async def rule_sets(self, info: Info) -> list[RuleSet]:
        ctx = info.context
        rows = await ctx.read(lambda session: changes_queries.versions(session))
        grouped: dict[tuple[RuleSetKind, str], list[VersionRow]] = {}
        for kind in RuleSetKind:
            found = registry.entry(kind)
            for name in found.names if found else ():
                grouped[(kind, name)] = []
        for row in rows:
            grouped.setdefault((RuleSetKind(row.kind), row.name), []).append(row)
        now = ctx.clock.now()
        return [
            _rule_set(kind, name, versions, now)
            for (kind, name), versions in sorted(grouped.items())
        ]
