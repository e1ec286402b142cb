"""Errors raised by the Case aggregate and its services."""

from __future__ import annotations

from domain.errors import NotFound, RuleViolation


class CaseNotFound(NotFound):
    code = "CASE_NOT_FOUND"


class StaffNotFound(NotFound):
    code = "STAFF_NOT_FOUND"


class AgencyNotFound(NotFound):
    code = "AGENCY_NOT_FOUND"


class CaseClosed(RuleViolation):
    code = "CASE_CLOSED"


class CasePlacedWithAgency(RuleViolation):
    code = "CASE_PLACED_WITH_AGENCY"


class CaseNotPlaced(RuleViolation):
    code = "CASE_NOT_PLACED"


class StaffInactive(RuleViolation):
    code = "STAFF_INACTIVE"


class StaffCannotCarryCases(RuleViolation):
    code = "STAFF_CANNOT_CARRY_CASES"


class CapacityExceeded(RuleViolation):
    code = "CAPACITY_EXCEEDED"


class AgencyInactive(RuleViolation):
    code = "AGENCY_INACTIVE"
