"""The one loader of notice templates: the checked-in ones overlaid by the approved versions in
effect (rule-set kind NOTICE_TEMPLATE, one statement)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.errors import DomainError
from domain.notices.model import Template
from domain.notices.templates import DEFAULT_TEMPLATES, template_from_payload
from domain.rulesets import RuleSetKind
from store import rule_sets


async def templates_in_effect(
    db: AsyncConnection | AsyncSession, at: datetime
) -> dict[str, Template]:
    """Returns every template in effect at ``at``, by name: the newest approved version whose
    start has passed, else the checked-in default. A stored version this release's checks refuse
    (a catalogue or a requirement changed since its approval) is left out, default included, so
    that a notice needing it is suppressed NO_APPROVED_TEMPLATE rather than sent from a text its
    approver did not see."""
    found = dict(DEFAULT_TEMPLATES)
    for stored in await rule_sets.all_in_effect(db, RuleSetKind.NOTICE_TEMPLATE, at):
        try:
            found[stored.name] = template_from_payload(stored.name, stored.payload)
        except DomainError:
            found.pop(stored.name, None)
    return found
