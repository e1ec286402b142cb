"""Maker–checker over rules and power: changes to rule sets and role grants are proposed by one
person, approved by another, versioned, and take effect from a stated time."""
