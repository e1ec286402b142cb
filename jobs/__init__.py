"""Batch jobs: the daily cycle and its steps, import, export (DESIGN.md, "Work over many rows").

One module per job; each is idempotent per date, takes a lock (an advisory lock on PostgreSQL,
an exclusive file lock on SQLite: ``jobs.locks``) and reports progress through a callback that
the CLI turns into a progress bar. Jobs import ``domain`` and ``store``, never ``api`` or ``authz``.
"""
