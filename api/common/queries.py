"""Root fields shared by every client: ``viewer`` and ``node(id:)``."""

from __future__ import annotations

import strawberry

from api.arrangements.types import promise_node
from api.cases.types import Case, Debt, borrower_view
from api.changes.types import rule_change_node
from api.clients.queries import api_client_node
from api.common.ids import InvalidGlobalId, from_global_id
from api.common.types import Node
from api.complaints.types import complaint_node
from api.contacts.types import contact_node, contact_point_node
from api.context import Info
from api.legal.types import legal_referral_node
from api.notices.types import notice_node
from api.payments.types import payment_node
from api.permissions import needs
from api.restructuring.types import restructuring_node
from api.retention.types import legal_hold_node
from api.staff.types import Agency, Staff, Viewer
from api.tasks.types import task_node
from api.warnings.types import warning_node


@strawberry.type
class CommonQuery:
    @strawberry.field(description="The authenticated caller: login, roles, team, agency.")
    def viewer(self, info: Info) -> Viewer:
        ctx = info.context
        return Viewer.from_domain(ctx.viewer, ctx.authorizer.permissions_of(ctx.viewer.roles))

    @strawberry.field(
        description="Any object by its global ID, or null if there is none you may see.",
        extensions=needs("case:read"),
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        try:
            type_name, pk = from_global_id(id)
        except InvalidGlobalId:
            return None
        ctx = info.context
        if type_name == "Case":
            case = await ctx.cases.load(pk)
            if case is None:
                return None
            ctx.audit.saw_cases([pk])
            return Case.from_domain(case)
        if type_name == "Borrower":
            return await borrower_view(ctx, pk)
        if type_name == "Debt":
            debt = await ctx.debts.load(pk)
            return Debt.from_domain(debt) if debt else None
        if type_name == "Payment":
            return await payment_node(info, pk)
        if type_name == "PromiseToPay":
            return await promise_node(info, pk)
        if type_name == "ContactPoint":
            return await contact_point_node(ctx, pk)
        if type_name == "Contact":
            return await contact_node(ctx, pk)
        if type_name == "Warning":
            return await warning_node(info, pk)
        if type_name == "Complaint":
            return await complaint_node(info, pk)
        if type_name == "LegalReferral":
            return await legal_referral_node(info, pk)
        if type_name == "Restructuring":
            return await restructuring_node(info, pk)
        if type_name == "Staff":
            staff = await ctx.staff.load(pk)
            return Staff.from_domain(staff) if staff else None
        if type_name == "Notice":
            return await notice_node(info, pk)
        if type_name == "RuleChange":
            return await rule_change_node(info, pk)
        if type_name == "Task":
            return await task_node(info, pk)
        if type_name == "ApiClient":
            return await api_client_node(info, pk)
        if type_name == "LegalHold":
            return await legal_hold_node(info, pk)
        if type_name != "Agency":
            return None
        agency = await ctx.agencies.load(pk)
        return Agency.from_domain(agency) if agency else None
