"""The case timeline: one newest-first list of everything that happened on a case."""
