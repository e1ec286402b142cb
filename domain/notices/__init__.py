"""Notices: templates per channel and language (checked per conduct profile), and the outbox."""
