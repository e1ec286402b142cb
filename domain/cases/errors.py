"""Errors raised by the Case aggregate and its services."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class CaseNotFound(NotFound):
    code = ErrorCode.CASE_NOT_FOUND


class StaffNotFound(NotFound):
    code = ErrorCode.STAFF_NOT_FOUND


class AgencyNotFound(NotFound):
    code = ErrorCode.AGENCY_NOT_FOUND


class CaseClosed(RuleViolation):
    code = ErrorCode.CASE_CLOSED


class CasePlacedWithAgency(RuleViolation):
    code = ErrorCode.CASE_PLACED_WITH_AGENCY


class CaseNotPlaced(RuleViolation):
    code = ErrorCode.CASE_NOT_PLACED


class StaffInactive(RuleViolation):
    code = ErrorCode.STAFF_INACTIVE


class StaffCannotCarryCases(RuleViolation):
    code = ErrorCode.STAFF_CANNOT_CARRY_CASES


class CapacityExceeded(RuleViolation):
    code = ErrorCode.CAPACITY_EXCEEDED


class AgencyInactive(RuleViolation):
    code = ErrorCode.AGENCY_INACTIVE


class PlacementEndInvalid(RuleViolation):
    """The requested end of a placement is before its start or beyond the contract's period."""

    code = ErrorCode.PLACEMENT_END_INVALID
