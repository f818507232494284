"""directory: the council's staff social-media directory.

Reads commands from `herald.directory.commands` (CLI, imports, `POST /staff/commands`, HR systems),
decides them (pure, in `decide.py`) in one worker at a time against a view of everyone, records
what changed (ids and non-personal facts only) on `herald.directory.events`, keeps the full records
on the compacted `herald.directory.staff` (its only state, read by every worker), and serves
`GET /staff` from any worker (docs/adr/0013-directory-one-decider.md).
"""
