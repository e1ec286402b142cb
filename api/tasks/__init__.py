"""The tasks a strategy gives to people, the treatment of a case, and completing a task."""
