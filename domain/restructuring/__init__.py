"""Restructurings (manual ch. 6): instalment plans, settlements and penalty waivers, proposed by
one person and approved by another whose role's limits cover the case's cumulative concession
(maker–checker)."""
