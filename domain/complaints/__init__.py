"""Complaints and disputes on a case: filed, resolved, and what an open one stops."""
