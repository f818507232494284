"""directory: the council's staff social-media directory.

Reads commands from `herald.directory.commands` (CLI, imports, `POST /staff/commands`, HR systems),
decides them (pure, in `decide.py`) in one worker at a time against a view of everyone, records
what changed (ids and non-personal facts only) on `herald.directory.events`, keeps the full records
on the compacted `herald.directory.staff` (its only state, read by every worker;
docs/adr/0013-directory-one-decider.md), and serves its HTTP API from any worker (`http_api.py`:
`GET /staff` with search and filters, `/staff/{id}?min_version=`, `POST /staff/commands?wait=`,
`/verify`, CSV and JSON exports, the Atom feed `/changes.atom`, described by `GET /openapi.json`,
built in `openapi.py` from `api_models.py`).
"""
