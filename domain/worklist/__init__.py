"""The worklist: the order in which a collector or agency works its cases, and why."""
