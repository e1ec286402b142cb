"""The data life cycle: retention rules per record kind, placeholders, and legal holds."""
