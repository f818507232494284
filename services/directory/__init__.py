"""directory: the council's staff social-media directory.

Reads change requests from `herald.directory.commands`, decides them (pure, in `decide.py`), keeps
the accounts in a faust Table keyed by staff id, tells the world on `herald.directory.events` and
the compacted `herald.directory.accounts` snapshot, and serves `GET /staff` (issue 3).
"""
