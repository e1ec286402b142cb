"""GraphQL types of maker–checker: RuleChange, RuleSet and RuleSetVersion."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.changes.model import ChangeKind, ChangeStatus, RuleChange
from domain.rulesets import RuleSetKind
from store import changes_queries
from store.changes_queries import VersionRow

if TYPE_CHECKING:
    from api.staff.types import Staff

strawberry.enum(
    RuleSetKind,
    name="RuleSetKind",
    description="A kind of versioned rules changed through maker–checker.",
)
strawberry.enum(
    ChangeKind,
    name="RuleChangeKind",
    description="What a change changes: a rule set (a RuleSetKind), or one role of one staff "
    "member (ROLE_GRANT, ROLE_REVOKE: proposed through grantRole and revokeRole).",
)
strawberry.enum(
    ChangeStatus,
    name="RuleChangeStatus",
    description="PENDING until a second person approves (APPROVED) or rejects (REJECTED) it.",
)

StaffRef = Annotated["Staff", strawberry.lazy("api.staff.types")]


async def _staff(info: Info, staff_id: int | None) -> Staff | None:
    from api.staff.types import Staff

    if staff_id is None:
        return None
    found = await info.context.staff.load(staff_id)
    return Staff.from_domain(found) if found is not None else None


@strawberry.type(
    name="RuleChange",
    description="A proposed change to a rule set or to someone's role, and its decision.",
)
class RuleChangeNode(Node):
    kind: ChangeKind
    name: str = strawberry.field(
        description="The rule set's name within its kind (`default`, a conduct profile's name), "
        "or the login whose role changes."
    )
    payload: JSON = strawberry.field(
        description="The whole new rule set, or `{login, role}` for a role change."
    )
    status: ChangeStatus
    reason: str = strawberry.field(description="Why the change is proposed.")
    effective_from: datetime = strawberry.field(
        description="When it takes effect (once approved; an approval after this instant makes "
        "it take effect at the approval)."
    )
    proposed_at: datetime
    decided_at: datetime | None
    decision_reason: str | None = strawberry.field(description="Why it was rejected.")
    rule_set_version: int | None = strawberry.field(
        description="The rule set's version number the approval wrote (null otherwise)."
    )
    _proposed_by: strawberry.Private[int]
    _decided_by: strawberry.Private[int | None]

    @strawberry.field(description="Who proposed it (the maker).")
    async def proposed_by(self, info: Info) -> StaffRef | None:
        return await _staff(info, self._proposed_by)

    @strawberry.field(description="Who approved or rejected it (the checker).")
    async def decided_by(self, info: Info) -> StaffRef | None:
        return await _staff(info, self._decided_by)

    @classmethod
    def from_domain(cls, change: RuleChange) -> RuleChangeNode:
        assert change.id is not None
        payload: Any = change.payload
        return cls(
            id=strawberry.ID(to_global_id("RuleChange", change.id)),
            kind=change.kind,
            name=change.name,
            payload=payload,
            status=change.status,
            reason=change.reason,
            effective_from=change.effective_from,
            proposed_at=change.proposed_at,
            decided_at=change.decided_at,
            decision_reason=change.decision_reason,
            rule_set_version=change.ruleset_version,
            _proposed_by=change.proposed_by,
            _decided_by=change.decided_by,
        )


async def rule_change_node(info: Info, pk: int) -> RuleChangeNode | None:
    """A change by id for ``node(id:)``: null without rule_change:read, or when there is none."""
    ctx = info.context
    if not ctx.allows("rule_change:read"):
        return None
    found = await ctx.read(lambda session: changes_queries.change_by_id(session, pk))
    return RuleChangeNode.from_domain(found) if found is not None else None


@strawberry.type(description="An approved version of a rule set.")
class RuleSetVersion:
    version: int
    payload: JSON
    effective_from: datetime
    change_id: strawberry.ID | None = strawberry.field(description="The change that made it.")

    @classmethod
    def from_row(cls, row: VersionRow) -> RuleSetVersion:
        payload: Any = row.payload
        change = to_global_id("RuleChange", row.change_id) if row.change_id else None
        return cls(
            version=row.version,
            payload=payload,
            effective_from=row.effective_from,
            change_id=strawberry.ID(change) if change else None,
        )


@strawberry.type(
    description="A rule set: the version in effect now, and its history. The version in effect "
    "at an instant is the newest approved one (highest version) whose effectiveFrom has passed: "
    "a version approved later supersedes an earlier-approved one from its own start on, even if "
    "the earlier one starts later (it then never takes effect)."
)
class RuleSet:
    kind: RuleSetKind
    name: str
    in_effect: RuleSetVersion | None = strawberry.field(
        description="The approved version in effect now (the newest started one); null while "
        "the checked-in default applies."
    )
    builtin: JSON | None = strawberry.field(
        description="The checked-in default (what applies until a version takes effect); null "
        "where this service does not know it."
    )
    versions: list[RuleSetVersion] = strawberry.field(
        description="Every approved version, newest first (future ones included)."
    )
