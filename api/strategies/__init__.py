"""Strategies over GraphQL: the strategies listing (strategy:read) and promoteChallenger
(rule_change:propose)."""
