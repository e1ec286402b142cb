"""Special customer groups (manual 5.3): flags on a borrower, and what protections do."""
