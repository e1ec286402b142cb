"""Conduct rules: profiles as versioned data (``profiles``) and the pure engine (``engine``)."""
