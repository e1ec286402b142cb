"""Restructurings over GraphQL: proposeRestructuring, approveRestructuring, rejectRestructuring
and the Restructuring node (``Case.restructurings``)."""
