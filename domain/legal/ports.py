"""Ports of legal escalation: what the services need from the store, held by the unit of work."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from domain.cases.model import Case
from domain.legal.conditions import LegalFacts
from domain.legal.model import LegalAction, LegalReferral
from domain.legal.policy import LegalPolicy
from domain.ports import UnitOfWork


class LegalRepository(Protocol):
    async def policy(self, profile: str, at: datetime) -> tuple[LegalPolicy, str]:
        """Returns the legal policy of a conduct profile in effect at ``at`` and its version
        ("CN@3", or "CN@builtin" for the checked-in default)."""
        ...

    async def facts(self, case: Case, today: date) -> LegalFacts:
        """Returns what the legal conditions look at for a case (locked by the caller) as of
        the portfolio's local date ``today``; the borrower's row is locked until commit, as
        flag work locks it, so a new flag and a referral's check never overlap."""
        ...

    async def pending_referral(self, case_id: int) -> int | None:
        """Returns the id of the case's pending referral, if there is one."""
        ...

    async def approved_referral(self, case_id: int) -> bool:
        """Whether a referral of the case was approved (its legal work may go on after a
        write-off)."""
        ...

    async def get_referral(self, referral_id: int) -> LegalReferral | None:
        """Returns the referral, locked, if the caller may see its case, else None."""
        ...

    async def add_referral(self, referral: LegalReferral) -> None:
        """Adds a new referral and gives it its id (REFERRAL_PENDING if one is pending)."""
        ...

    async def save_referral(self, referral: LegalReferral) -> None:
        """Writes a decided referral (ALREADY_DECIDED if it was decided meanwhile)."""
        ...

    async def add_action(self, action: LegalAction) -> None:
        """Adds a legal action and gives it its id."""
        ...


class LegalUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> LegalUnitOfWork: ...

    @property
    def legal(self) -> LegalRepository: ...
