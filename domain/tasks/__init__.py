"""Tasks a strategy gives to people (a call, a legal review, a settlement offer), and their
completion."""
