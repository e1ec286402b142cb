"""Allocation: handing the unassigned pool to a team's collectors, by a strategy, within their
capacity (the rule in ``rule.py``; the set-based writes in ``store.allocation``)."""
