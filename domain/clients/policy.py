"""Who may manage which agency's API clients (``api_client:manage`` says who may at all): an
admin any agency's, an agency manager only their own agency's; an operator at the command line
(no actor) any."""

from __future__ import annotations

from collections.abc import Sequence

from domain.staff.model import Role


def may_manage(roles: Sequence[str] | None, own_agency_id: int | None, agency_id: int) -> bool:
    """Whether an actor (``roles`` None: the operator) may manage the agency's clients."""
    if roles is None or Role.ADMIN in roles:
        return True
    return Role.AGENCY_MANAGER in roles and own_agency_id is not None and own_agency_id == agency_id
