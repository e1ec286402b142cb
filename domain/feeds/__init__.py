"""The core banking feed: its record types and the validation of one parsed row (pure)."""
