"""Maker–checker over rules and roles: proposeRuleChange, approveRuleChange, rejectRuleChange,
ruleChanges, ruleSet and ruleSets (grantRole and revokeRole propose role changes: api.admin)."""
