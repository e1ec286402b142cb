"""Use cases of maker–checker: propose a change to a rule set or to someone's role, and approve
or reject it as a second person. An approval writes the rule set's next version (or changes the
role) in the same transaction, and every step is audited with who proposed, who decided and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.cases.errors import StaffNotFound
from domain.changes import registry
from domain.changes.errors import (
    ApproverNotEntitled,
    CannotGrantOwnRole,
    ChangeInvalid,
    ChangeNotFound,
    LastAdmin,
    ProposerNotEntitled,
)
from domain.changes.events import RuleChangeApproved, RuleChangeProposed, RuleChangeRejected
from domain.changes.model import ChangeKind, RuleChange, effective_start
from domain.changes.ports import ChangesUnitOfWork, Permissions
from domain.clock import Clock
from domain.errors import stated_reason
from domain.rulesets import RuleSetKind
from domain.staff.model import Role, Staff

UowFactory = Callable[[], ChangesUnitOfWork]


def _reason(text: str) -> str:
    return stated_reason(text, "reason", "say why the change is made")


async def propose_rule_change(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int,
    kind: RuleSetKind,
    name: str,
    payload: dict[str, Any],
    effective_from: datetime,
    reason: str,
) -> RuleChange:
    """Proposes a new version of a rule set, effective from a stated instant (not in the past);
    the payload is checked by the rule set's own reader (CHANGE_INVALID naming the field)."""
    now = clock.now()
    start = effective_start(effective_from, now)
    text = _reason(reason)
    found = registry.changeable(kind)
    normal = found.normalise(name, payload)
    change = RuleChange(
        kind=ChangeKind(kind.value),
        name=name,
        payload=normal,
        reason=text,
        effective_from=start,
        proposed_by=actor_id,
        proposed_at=now,
    )
    async with uow_factory() as uow:
        await _check_label(uow, found, change)
        await uow.changes.add(change)
        _proposed(uow, change)
        await uow.commit()
    return change


def label_of(payload: dict[str, Any]) -> str | None:
    """A rule set's version label (``2026.2``), for the kinds whose payload carries one."""
    label = payload.get("version")
    return label if isinstance(label, str) else None


async def _check_label(uow: ChangesUnitOfWork, found: registry.Entry, change: RuleChange) -> None:
    """Refuses a version label that the checked-in default or a stored version of the same rule
    set already carries: what a decision records (``CN-2026.2``) names one version only."""
    label = label_of(change.payload)
    if label is None:
        return
    builtin = found.default(change.name)
    used = await uow.changes.labels(change.kind.value, change.name)
    if (builtin is not None and label_of(builtin) == label) or label in used:
        raise ChangeInvalid(
            f"version {label!r} of {change.kind} {change.name} exists already: give the new "
            "version a label of its own",
            field="payload.version",
        )


# The permission whose holder may propose a change of each sort (checked again at approval).
PROPOSE_ROLE_CHANGE = "role:grant"
PROPOSE_RULE_CHANGE = "rule_change:propose"


async def _check_proposer(
    uow: ChangesUnitOfWork, change: RuleChange, permissions: Permissions
) -> None:
    """Refuses to approve a change whose proposer is no longer active or no longer holds the
    permission to propose it: the four eyes are two entitled people at the approval."""
    needed = PROPOSE_ROLE_CHANGE if change.kind.is_role_change else PROPOSE_RULE_CHANGE
    proposer = await uow.staff.get(change.proposed_by)
    if proposer is None or not proposer.active or not permissions.allows(proposer.roles, needed):
        raise ProposerNotEntitled(
            f"its proposer is no longer active or no longer holds {needed}: propose it again",
            field="changeId",
        )


async def _check_approver(
    uow: ChangesUnitOfWork, change: RuleChange, actor_id: int, permissions: Permissions
) -> None:
    """A change of the admin role is approved by an admin (``role:grant``) only."""
    if change.payload.get("role") != Role.ADMIN.value:
        return
    approver = await uow.staff.get(actor_id)
    if approver is None or not permissions.allows(approver.roles, PROPOSE_ROLE_CHANGE):
        raise ApproverNotEntitled(
            f"a change of the admin role is approved by another admin ({PROPOSE_ROLE_CHANGE})",
            field="changeId",
        )


async def _check_admins_remain(
    uow: ChangesUnitOfWork, change: RuleChange, staff: Staff, field: str
) -> None:
    """Refuses an admin revoke that would leave no active admin. The active admins are locked
    first (before the staff member's row), so that two revokes decided at once queue."""
    if change.kind != ChangeKind.ROLE_REVOKE or change.payload.get("role") != Role.ADMIN.value:
        return
    admins = await uow.changes.lock_active_admins()
    if not [i for i in admins if i != staff.id]:
        raise LastAdmin(
            "this would leave no active admin: grant the admin role to someone else first",
            field=field,
        )


def _proposed(uow: ChangesUnitOfWork, change: RuleChange, staff_id: int | None = None) -> None:
    assert change.id is not None
    uow.record(
        RuleChangeProposed(
            change.id,
            change.kind.value,
            change.name,
            change.effective_from,
            change.proposed_by,
            change.proposed_at,
            change.reason,
            staff_id,
        )
    )


@dataclass(frozen=True)
class RoleChangeResult:
    staff: Staff
    change: RuleChange


def _apply_role(staff: Staff, change: RuleChange, at: datetime, actor_id: int) -> None:
    role = str(change.payload["role"])
    if change.kind == ChangeKind.ROLE_GRANT:
        staff.grant(role, at, actor_id)
    else:
        staff.revoke(role, at, actor_id)


async def propose_role_change(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int,
    login: str,
    role: str,
    grant: bool,
    reason: str | None = None,
) -> RoleChangeResult:
    """Proposes granting or revoking a role; it takes effect when someone else approves it.
    Refused at once: a grant to oneself, an unknown or inapplicable role, one's own admin role,
    and a change that would change nothing."""
    now = clock.now()
    text = _reason(reason or "")
    async with uow_factory() as uow:
        if not grant and role == Role.ADMIN.value:
            await uow.changes.lock_active_admins()  # before the staff member's row (approve)
        staff = await uow.staff.get_by_login(login)
        if staff is None or staff.id is None:
            raise StaffNotFound(f"no staff member {login!r}", field="login")
        if grant and staff.id == actor_id:
            raise CannotGrantOwnRole("nobody grants a role to themselves", field="login")
        change = RuleChange(
            kind=ChangeKind.ROLE_GRANT if grant else ChangeKind.ROLE_REVOKE,
            name=staff.login,
            payload={"login": staff.login, "role": role},
            reason=text,
            effective_from=now,
            proposed_by=actor_id,
            proposed_at=now,
        )
        # The same checks the approval makes, on a copy: refused now rather than at approval.
        probe = Staff(staff.login, staff.name, list(staff.roles), agency_id=staff.agency_id)
        probe.id = staff.id
        _apply_role(probe, change, now, actor_id)
        if probe.roles == staff.roles:
            held = "already holds" if grant else "does not hold"
            raise ChangeInvalid(f"{staff.login} {held} the role {role}", field="role")
        await _check_admins_remain(uow, change, staff, "login")
        await uow.changes.add(change)
        _proposed(uow, change, staff.id)
        await uow.commit()
        return RoleChangeResult(staff, change)


async def approve(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int,
    change_id: int,
    permissions: Permissions,
) -> tuple[RuleChange, Staff | None]:
    """Approves a pending change as a second person: never its maker, and for a role change
    never the staff member whose role it changes. A rule set is checked again and written as the
    next version of its kind and name, in effect from the change's start (or now, if that has
    passed); a role change applies at once. Returns the change and the staff member whose
    role changed (None for a rule set).

    Refused also: a change whose proposer is no longer active or entitled to propose it
    (PROPOSER_NOT_ENTITLED), a change of the admin role approved by someone without role:grant
    (APPROVER_NOT_ENTITLED), an admin revoke that would leave no active admin (LAST_ADMIN), and a
    version label another version of the rule set carries (CHANGE_INVALID)."""
    now = clock.now()
    async with uow_factory() as uow:
        change = await uow.changes.get(change_id)
        if change is None:
            raise ChangeNotFound("no such change", field="changeId")
        change.check_decidable(actor_id)
        await _check_proposer(uow, change, permissions)
        staff: Staff | None = None
        if change.kind.is_role_change:
            await _check_approver(uow, change, actor_id, permissions)
            if change.kind == ChangeKind.ROLE_REVOKE and change.payload["role"] == Role.ADMIN:
                await uow.changes.lock_active_admins()  # before the staff member's row
            staff = await _role_staff(uow, change, actor_id)
            await _check_admins_remain(uow, change, staff, "changeId")
            change.approve(actor_id, now)
            _apply_role(staff, change, now, actor_id)
        else:
            found = registry.changeable(RuleSetKind(change.kind.value))
            found.validate(change.name, change.payload)
            await uow.changes.lock_rule_set(change.kind.value, change.name)
            await _check_label(uow, found, change)
            change.approve(actor_id, now)
            change.ruleset_version = await uow.changes.add_version(change)
        await uow.changes.save_decision(change)
        assert change.id is not None and change.decided_at is not None
        uow.record(
            RuleChangeApproved(
                change.id,
                change.kind.value,
                change.name,
                change.ruleset_version,
                change.effective_from,
                change.proposed_by,
                actor_id,
                now,
                change.reason,
                staff.id if staff is not None else None,
            )
        )
        await uow.commit()
        return change, staff


async def _role_staff(uow: ChangesUnitOfWork, change: RuleChange, actor_id: int) -> Staff:
    """The staff member of a role change, refusing a decision by that staff member."""
    staff = await uow.staff.get_by_login(str(change.payload["login"]))
    if staff is None:
        raise StaffNotFound("the staff member of this change is gone", field="changeId")
    if staff.id == actor_id:
        raise CannotGrantOwnRole("nobody decides a change of their own roles", field="changeId")
    return staff


async def reject(
    uow_factory: UowFactory, clock: Clock, actor_id: int, change_id: int, reason: str
) -> RuleChange:
    """Rejects a pending change as a second person (never its maker, nor for a role change the
    staff member it concerns), saying why."""
    now = clock.now()
    async with uow_factory() as uow:
        change = await uow.changes.get(change_id)
        if change is None:
            raise ChangeNotFound("no such change", field="changeId")
        change.check_decidable(actor_id)
        staff_id = None
        if change.kind.is_role_change:
            staff_id = (await _role_staff(uow, change, actor_id)).id
        change.reject(actor_id, now, reason)
        await uow.changes.save_decision(change)
        assert change.id is not None and change.decision_reason is not None
        uow.record(
            RuleChangeRejected(
                change.id,
                change.kind.value,
                change.name,
                change.proposed_by,
                actor_id,
                now,
                change.decision_reason,
                staff_id,
            )
        )
        await uow.commit()
        return change
