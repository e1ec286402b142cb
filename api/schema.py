"""The schema: per-aggregate query and mutation classes merged by inheritance."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.admin.mutations import AdminMutation
from api.allocation.mutations import AllocationMutation
from api.arrangements.mutations import ArrangementMutation
from api.arrangements.types import PromiseToPay
from api.auditing.queries import AuditQuery
from api.borrowers.mutations import BorrowerMutation
from api.cases.mutations import CaseMutation
from api.cases.queries import CaseQuery
from api.cases.types import Borrower, Case, Debt
from api.changes.mutations import ChangeMutation
from api.changes.queries import ChangeQuery
from api.clients.mutations import ApiClientMutation
from api.clients.queries import ApiClientQuery
from api.common.queries import CommonQuery
from api.complaints.mutations import ComplaintMutation
from api.complaints.types import Complaint
from api.contacts.mutations import ContactMutation
from api.contacts.queries import ContactQuery
from api.contacts.types import Contact, ContactPoint
from api.decisions.queries import DecisionQuery
from api.errors import MaskInternalErrors
from api.evidence.queries import EvidenceQuery
from api.extensions import AuditOperation
from api.flags.mutations import FlagMutation
from api.legal.mutations import LegalMutation
from api.legal.types import LegalReferral
from api.limits_extension import RequestLimits, bound_overlap_validation
from api.logging import log_unexpected_error
from api.metrics import ObserveOperation
from api.notices.mutations import NoticeMutation
from api.notices.queries import NoticeQuery
from api.notices.types import Notice
from api.payments.mutations import PaymentMutation
from api.payments.types import Payment
from api.plans.executor import PlannedExecutor
from api.reports.queries import ReportQuery
from api.restructuring.mutations import RestructuringMutation
from api.restructuring.types import Restructuring
from api.retention.mutations import RetentionMutation
from api.staff.types import Agency, Staff
from api.strategies.mutations import StrategyMutation
from api.strategies.queries import StrategyQuery
from api.tasks.mutations import TaskMutation
from api.tasks.queries import TaskQuery
from api.tasks.types import Task
from api.warnings.mutations import WarningMutation
from api.warnings.queries import WarningQuery
from api.warnings.types import WarningNode
from api.worklist.queries import WorklistQuery
from api.writeoff.mutations import WriteOffMutation
from store.errors import is_unavailable


@strawberry.type
class Query(
    CommonQuery,
    CaseQuery,
    AuditQuery,
    WorklistQuery,
    ContactQuery,
    WarningQuery,
    DecisionQuery,
    EvidenceQuery,
    ChangeQuery,
    StrategyQuery,
    NoticeQuery,
    TaskQuery,
    ReportQuery,
    ApiClientQuery,
):
    pass


@strawberry.type
class Mutation(
    CaseMutation,
    BorrowerMutation,
    AdminMutation,
    AllocationMutation,
    PaymentMutation,
    ArrangementMutation,
    ContactMutation,
    WarningMutation,
    ComplaintMutation,
    FlagMutation,
    LegalMutation,
    RetentionMutation,
    RestructuringMutation,
    WriteOffMutation,
    ChangeMutation,
    StrategyMutation,
    TaskMutation,
    NoticeMutation,
    ApiClientMutation,
):
    pass


class ArrearsSchema(strawberry.Schema):
    """Logs only unexpected errors: refusals and bad input are answers, not incidents."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logs each unexpected error as one line (type, operation, path). Not strawberry's
        logger: it writes the error with the query text around it and the traceback, both of
        which can hold personal data (a phone in a filter, a value in a driver's message)."""
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                continue
            # A lost database is an outage, not a fault of this code: the request answers 503
            # and the gate logs it once as a warning (database.unavailable).
            if not is_unavailable(original):
                log_unexpected_error(original, operation, error.path)


def build_schema(introspection: bool = True) -> strawberry.Schema:
    """Returns the schema; production turns introspection off.

    Request limits (tokens, operations, directives, depth, aliases, cost) are checked before
    validation; they are read per request from the context's settings and viewer."""
    from strawberry.extensions import DisableIntrospection

    bound_overlap_validation()
    # ObserveOperation first: it ends last, and sees the errors as the others leave them.
    extensions: list[type] = [ObserveOperation, AuditOperation, MaskInternalErrors, RequestLimits]
    if not introspection:
        extensions.append(DisableIntrospection)
    return ArrearsSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Case,
            Borrower,
            Debt,
            Staff,
            Agency,
            Payment,
            PromiseToPay,
            ContactPoint,
            Contact,
            WarningNode,
            Complaint,
            LegalReferral,
            Restructuring,
            Task,
            Notice,
        ],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=PlannedExecutor,
    )


schema = build_schema()
