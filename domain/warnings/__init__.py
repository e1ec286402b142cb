"""Early warning (manual ch. 3): rules as versioned data, the warning's life cycle, its services."""
