"""The typed per-request context: the viewer, their scopes, one read session, the DataLoaders.

Resolvers take ``info: Info`` (``strawberry.Info[Context, None]``), so ``info.context`` is a
``Context`` to the type checker as well."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

import strawberry
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from api.audit import RequestAudit
from api.settings import Settings
from authz.enforcer import Authorizer
from authz.masking import depends_on_legal_stage
from authz.scopes import Scope, assignable_staff_clause, scope_for
from domain.agencies.model import Agency
from domain.arrangements.promises import Promise
from domain.borrowers.model import Borrower
from domain.cases.model import Case
from domain.clock import Clock
from domain.complaints.model import Complaint
from domain.contacts.model import Contact, ContactPoint
from domain.debts.model import Debt, Instalment
from domain.flags.effects import Protection
from domain.flags.model import BorrowerFlag
from domain.legal.model import LegalAction, LegalReferral
from domain.payments.model import Payment
from domain.payments.waterfall import ComponentAllocation
from domain.restructuring.model import Restructuring
from domain.retention.model import LegalHold
from domain.staff.model import Staff
from domain.tasks.model import Task
from domain.warnings.model import EarlyWarning
from store import (
    contacts_queries,
    legal_queries,
    loaders,
    nested_pages,
    notice_queries,
    payment_queries,
    promise_queries,
    protections_queries,
    restructuring_queries,
    tasks_queries,
    warnings_queries,
)
from store.daily_queries import ClassificationPeriod, periods_by_case_id
from store.db import Clause, Session, Sessions
from store.legal_holds_repository import holds_by_case_id
from store.nested_pages import Page, PageKey
from store.timeline_queries import TimelineRow
from store.uow import IdempotencyClaim, SqlUnitOfWork

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

# Who reads free text about a collection in clear (``Context.may_read_notes``): the roles that
# work cases.
NOTES_PERMISSION = "contact:make"
# The most keys one loader statement binds: asyncpg refuses a statement of more than 32,767
# parameters (SQLite more than 32,766), so a bigger batch goes in several statements — the
# 50,000 cases an allocateCases payload lists at a million cases failed after the commit.
MAX_BATCH = 10_000


@dataclass
class Context:
    request: Request
    settings: Settings
    sessions: Sessions
    clock: Clock
    viewer: Staff
    authorizer: Authorizer
    audit: RequestAudit
    # The viewer's row scopes at the request's instant, and one batch loader per relation;
    # each loader's statement carries the matching scope (a row out of scope loads as None).
    scope: Scope = field(init=False)
    cases: DataLoader[int, Case | None] = field(init=False)
    borrowers: DataLoader[int, Borrower | None] = field(init=False)
    # Whether a borrower is in legal proceedings, for masking (see api.cases.types).
    legal_borrowers: DataLoader[int, bool] = field(init=False)
    debts: DataLoader[int, Debt | None] = field(init=False)
    debts_of_case: DataLoader[int, list[Debt]] = field(init=False)
    instalments: DataLoader[int, list[Instalment]] = field(init=False)
    staff: DataLoader[int, Staff | None] = field(init=False)
    agencies: DataLoader[int, Agency | None] = field(init=False)
    # Payments and promises (each by id through the case scope; allocations of loaded payments).
    payments: DataLoader[int, Payment | None] = field(init=False)
    payment_allocations: DataLoader[int, list[ComponentAllocation]] = field(init=False)
    promises: DataLoader[int, Promise | None] = field(init=False)
    promises_of_case: DataLoader[int, list[Promise]] = field(init=False)
    # Contact points (by borrower, by id: through the borrower scope) and contacts (case scope).
    contact_points_of_borrower: DataLoader[int, list[ContactPoint]] = field(init=False)
    contact_points: DataLoader[int, ContactPoint | None] = field(init=False)
    contacts: DataLoader[int, Contact | None] = field(init=False)
    # A case's nested pages and counts, batched over a list of cases (store.nested_pages): one
    # statement per page size and position, whatever the number of cases. Not cached, so that
    # a later mutation's payload in the same request reads fresh pages.
    contact_pages: DataLoader[PageKey, Page[Contact]] = field(init=False)
    contact_counts: DataLoader[int, int] = field(init=False)
    payment_pages: DataLoader[PageKey, Page[Payment]] = field(init=False)
    payment_counts: DataLoader[int, int] = field(init=False)
    timeline_pages: DataLoader[PageKey, Page[TimelineRow]] = field(init=False)
    timeline_counts: DataLoader[int, int] = field(init=False)
    # A case's classification periods, as the daily run keeps them (through the case scope).
    classification_history: DataLoader[int, list[ClassificationPeriod]] = field(init=False)
    # Complaints (by id, by case) and the protections in force on cases (complaints, flags),
    # through the case scope; active flags by borrower, through the borrower scope. Not cached
    # where a mutation of the same request changes them.
    complaints: DataLoader[int, tuple[Complaint, str] | None] = field(init=False)
    complaints_of_case: DataLoader[int, list[Complaint]] = field(init=False)
    flags_of_borrower: DataLoader[int, list[BorrowerFlag]] = field(init=False)
    protections: DataLoader[int, Protection] = field(init=False)
    clock_pauses: DataLoader[int, list[protections_queries.Span]] = field(init=False)
    # Warnings by id, through their case's scope (domain.warnings).
    warnings: DataLoader[int, EarlyWarning | None] = field(init=False)
    # Restructurings (by id, by case), through the case scope; fresh after a mutation.
    restructurings: DataLoader[int, Restructuring | None] = field(init=False)
    restructurings_of_case: DataLoader[int, list[Restructuring]] = field(init=False)
    # A restructuring's maker by restructuring id, through the case scope but not the staff
    # scope (api.restructuring.types: the maker of a concession on a case you see is shown).
    restructuring_proposers: DataLoader[int, Staff | None] = field(init=False)
    # Legal escalation: referrals (by id, by case) and legal actions (by case), case scope.
    legal_referrals: DataLoader[int, LegalReferral | None] = field(init=False)
    legal_referrals_of_case: DataLoader[int, list[LegalReferral]] = field(init=False)
    legal_actions_of_case: DataLoader[int, list[LegalAction]] = field(init=False)
    # Legal holds by case (the data life cycle), case scope; fresh after a mutation.
    legal_holds_of_case: DataLoader[int, list[LegalHold]] = field(init=False)
    # Notices by id, through their case's scope; fresh after a receipt.
    notices: DataLoader[int, notice_queries.NoticeRow | None] = field(init=False)
    # Strategies: each case's treatment, and tasks (by id, by case, a case's OPEN ones), case
    # scope; tasks fresh after a mutation.
    treatments: DataLoader[int, tasks_queries.Treatment | None] = field(init=False)
    tasks: DataLoader[int, Task | None] = field(init=False)
    tasks_of_case: DataLoader[int, list[Task]] = field(init=False)
    open_tasks_of_case: DataLoader[int, list[Task]] = field(init=False)
    _session: Session | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _decisions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scope = scope_for(self.viewer, self.clock.now())
        self.cases = self._loader(loaders.cases_by_id, self.scope.case)
        self.borrowers = self._loader(loaders.borrowers_by_id, self.scope.borrower)
        self.legal_borrowers = self._loader(loaders.borrowers_in_legal_stage, self.scope.case)
        self.debts = self._loader(loaders.debts_by_id, self.scope.debt)
        self.debts_of_case = self._loader(loaders.debts_by_case_id, self.scope.debt)
        self.instalments = self._loader(loaders.instalments_by_debt_id, self.scope.debt)
        self.staff = self._loader(loaders.staff_by_id, self.scope.staff)
        self.agencies = self._loader(loaders.agencies_by_id, self.scope.agency)
        self.payments = self._loader(payment_queries.payments_by_id, self.scope.case)
        self.payment_allocations = self._loader(
            payment_queries.allocations_by_payment_id, self.scope.case
        )
        self.promises = self._loader(promise_queries.promises_by_id, self.scope.case)
        self.promises_of_case = self._loader(promise_queries.promises_by_case_id, self.scope.case)
        self.contact_points_of_borrower = self._loader(
            contacts_queries.points_by_borrower_id, self.scope.borrower
        )
        self.contact_points = self._loader(contacts_queries.points_by_id, self.scope.borrower)
        self.contacts = self._loader(contacts_queries.contacts_by_id, self.scope.case)
        case = self.scope.case
        self.contact_pages = self._loader(nested_pages.contact_pages, case, cache=False)
        self.contact_counts = self._loader(nested_pages.contact_counts, case, cache=False)
        self.payment_pages = self._loader(nested_pages.payment_pages, case, cache=False)
        self.payment_counts = self._loader(nested_pages.payment_counts, case, cache=False)
        self.timeline_pages = self._loader(nested_pages.timeline_pages, case, cache=False)
        self.timeline_counts = self._loader(nested_pages.timeline_counts, case, cache=False)
        self.classification_history = self._loader(periods_by_case_id, case)
        protections = protections_queries
        self.complaints = self._loader(protections.complaints_by_id, case)
        self.complaints_of_case = self._loader(protections.complaints_by_case_id, case, cache=False)
        self.flags_of_borrower = self._loader(
            protections.active_flags_by_borrower_id, self.scope.borrower, cache=False
        )
        self.protections = self._loader(protections.protections_by_case_id, case, cache=False)
        self.clock_pauses = self._loader(protections.clock_pauses_by_case_id, case, cache=False)
        self.warnings = self._loader(warnings_queries.warnings_by_id, case)
        rq = restructuring_queries
        self.restructurings = self._loader(rq.restructurings_by_id, case, cache=False)
        self.restructurings_of_case = self._loader(rq.restructurings_by_case_id, case, cache=False)
        self.restructuring_proposers = self._loader(rq.proposers_by_restructuring_id, case)
        legal = legal_queries
        self.legal_referrals = self._loader(legal.referrals_by_id, case, cache=False)
        self.legal_referrals_of_case = self._loader(legal.referrals_by_case_id, case, cache=False)
        self.legal_actions_of_case = self._loader(legal.legal_actions_by_case_id, case, cache=False)
        self.legal_holds_of_case = self._loader(holds_by_case_id, case, cache=False)
        self.notices = self._loader(notice_queries.notices_by_id, case, cache=False)
        tq = tasks_queries
        self.treatments = self._loader(tq.treatments_by_case_id, case)
        self.tasks = self._loader(tq.tasks_by_id, case, cache=False)
        self.tasks_of_case = self._loader(tq.tasks_by_case_id, case, cache=False)
        self.open_tasks_of_case = self._loader(tq.open_tasks_by_case_id, case, cache=False)

    def twin(self, sessions: Sessions, audit: RequestAudit) -> Context:
        """The same request for a second run of its query (``api.plans.compare``): the same
        viewer, clock, settings and authorisation decisions so far; its own loaders, read
        session (on ``sessions``) and audit notes."""
        return Context(
            request=self.request,
            settings=self.settings,
            sessions=sessions,
            clock=self.clock,
            viewer=self.viewer,
            authorizer=self.authorizer,
            audit=audit,
            _decisions=dict(self._decisions),
        )

    async def legal_stage(self, borrower_id: int) -> bool:
        """Whether masking treats the borrower as in legal proceedings for this viewer: asked
        (in one statement per batch) only of roles whose rules depend on it."""
        if not depends_on_legal_stage(self.viewer.roles):
            return False
        return await self.legal_borrowers.load(borrower_id)

    def may_read_notes(self) -> bool:
        """Whether the viewer reads free text written about a collection in clear (contact
        notes, complaint descriptions and resolutions, flag notes and evidence references,
        warning notes): only the roles that work cases (``NOTES_PERMISSION``); text can say
        anything, so every other role (auditors, integrations) gets null."""
        return self.allows(NOTES_PERMISSION)

    def allows(self, permission: str) -> bool:
        """Returns the enforcer's decision for the viewer, asked once per permission."""
        if permission not in self._decisions:
            self._decisions[permission] = self.authorizer.allows(self.viewer.roles, permission)
        return self._decisions[permission]

    async def read(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Runs read work on the request's session, one at a time (sessions are not
        safe for concurrent use, and resolvers run concurrently)."""
        async with self._lock:
            if self._session is None:
                self._session = self.sessions()
            return await work(self._session)

    def _loader(
        self,
        fetch: Callable[[Session, Sequence[K], Clause], Awaitable[Sequence[V]]],
        scope: Clause,
        *,
        cache: bool = True,
    ) -> DataLoader[K, V]:
        async def load(keys: list[K]) -> Sequence[V]:
            return await self.read(lambda session: fetch(session, keys, scope))

        return DataLoader(load_fn=load, cache=cache, max_batch_size=MAX_BATCH)

    def unit_of_work(self, claim: IdempotencyClaim | None = None) -> SqlUnitOfWork:
        """Returns a fresh unit of work (its own transaction) limited to the viewer's scope."""
        return SqlUnitOfWork(
            self.sessions,
            case_scope=self.scope.case,
            assignable_staff=assignable_staff_clause(self.viewer),
            borrower_scope=self.scope.borrower,
            audit=self.audit.for_changes,
            idempotency=claim,
        )

    async def release(self) -> None:
        """Gives the read session's connection back to the pool (it reopens on the next read).

        Called before a request opens a write transaction of its own, so that no request ever
        holds two connections and a burst of writers cannot exhaust the pool."""
        async with self._lock:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def close(self) -> None:
        await self.release()


# What every resolver takes: ``info.context`` is a Context.
Info: TypeAlias = strawberry.Info[Context, None]
