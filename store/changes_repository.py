"""Changes to rules and roles in a unit of work: a change locked while it is decided, and the
approved rule set written as the next version of its kind and name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, UniqueConstraint, cast, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.changes.errors import AlreadyDecided
from domain.changes.model import ChangeKind, ChangeStatus, RuleChange
from domain.errors import ConcurrencyConflict
from domain.staff.model import Role
from store import tables

rc, rv = tables.rule_changes.c, tables.rule_set_versions.c
VERSION_UNIQUE = next(
    c
    for c in tables.rule_set_versions.constraints
    if isinstance(c, UniqueConstraint) and c.name == "uq_rule_set_versions_kind_name_version"
)


def change_of(row: Any) -> RuleChange:
    """The change a ``rule_changes`` row holds."""
    return RuleChange(
        kind=ChangeKind(row.kind),
        name=row.name,
        payload=dict(row.payload),
        reason=row.reason,
        effective_from=row.effective_from,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        status=ChangeStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        version=row.version,
        id=row.id,
        ruleset_version=getattr(row, "ruleset_version", None),
    )


class SqlChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, change: RuleChange) -> None:
        stmt = insert(tables.rule_changes).values(
            kind=change.kind.value,
            name=change.name,
            payload=change.payload,
            status=change.status.value,
            reason=change.reason,
            effective_from=change.effective_from,
            proposed_by=change.proposed_by,
            proposed_at=change.proposed_at,
            version=change.version,
        )
        change.id = int((await self.session.execute(stmt.returning(rc.id))).scalar_one())

    async def get(self, change_id: int) -> RuleChange | None:
        # Locked (SQLite: the unit of work's write lock): two deciders queue, and the second
        # reads the first one's decision.
        stmt = select(tables.rule_changes).where(rc.id == change_id).with_for_update()
        row = (await self.session.execute(stmt)).one_or_none()
        return change_of(row) if row is not None else None

    async def save_decision(self, change: RuleChange) -> None:
        stmt = (
            update(tables.rule_changes)
            .where(rc.id == change.id, rc.version == change.version)
            .values(
                status=change.status.value,
                effective_from=change.effective_from,
                decided_by=change.decided_by,
                decided_at=change.decided_at,
                decision_reason=change.decision_reason,
                version=change.version + 1,
            )
        )
        if (await self.session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyDecided(f"change {change.id} was decided meanwhile", field="changeId")
        change.version += 1

    async def lock_rule_set(self, kind: str, name: str) -> None:
        # PostgreSQL: a transaction-scoped advisory lock on the rule set's key (taken after the
        # change's row, so that two approvals of different changes cannot deadlock). SQLite: the
        # unit of work's write lock serialises already.
        if self.session.get_bind().dialect.name == "postgresql":
            key = func.hashtext(f"rule_set_versions:{kind}:{name}")
            await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def labels(self, kind: str, name: str) -> set[str]:
        stmt = select(rv.payload).where(rv.kind == kind, rv.name == name)
        found = set()
        for payload in (await self.session.execute(stmt)).scalars():
            label = payload.get("version") if isinstance(payload, dict) else None
            if isinstance(label, str):
                found.add(label)
        return found

    async def lock_active_admins(self) -> list[int]:
        s = tables.staff.c
        stmt = (
            select(s.id)
            .where(s.active.is_(True), cast(s.roles, String).like(f'%"{Role.ADMIN.value}"%'))
            .order_by(s.id)
            .with_for_update()
        )
        return [int(i) for i in (await self.session.execute(stmt)).scalars()]

    async def add_version(self, change: RuleChange) -> int:
        latest = select(func.coalesce(func.max(rv.version), 0)).where(
            rv.kind == change.kind.value, rv.name == change.name
        )
        number = int((await self.session.execute(latest)).scalar_one()) + 1
        try:
            await self.session.execute(
                insert(tables.rule_set_versions).values(
                    kind=change.kind.value,
                    name=change.name,
                    version=number,
                    payload=change.payload,
                    effective_from=change.effective_from,
                    change_id=change.id,
                )
            )
        except IntegrityError as exc:
            from store.uow import is_violation_of  # store.uow holds this repository

            if not is_violation_of(exc, VERSION_UNIQUE):
                raise
            # Another change of the same rule set was approved at the same moment (only where
            # lock_rule_set was not taken first).
            raise ConcurrencyConflict(
                f"another version of {change.kind} {change.name} was just approved; try again"
            ) from None
        return number
