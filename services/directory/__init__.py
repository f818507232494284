"""directory: the council's staff social-media directory.

Reads commands from `herald.directory.commands` (CLI, imports, `POST /staff/commands`, HR systems),
decides them (pure, in `decide.py`; each worker its partitions' people, `decider.py`) against a
view of everyone, a new handle first claimed on `herald.directory.handle-claims` (`claims.py`),
records what changed (ids and non-personal facts only) on `herald.directory.events`, keeps the
full records on the compacted `herald.directory.staff` (read by every worker;
docs/adr/0014-directory-split-by-partition.md), and serves its HTTP API from any worker (`http_api.py`:
`GET /staff` with search and filters, `/staff/{id}?min_version=`, `POST /staff/commands?wait=`,
`/verify`, CSV and JSON exports, the Atom feed `/changes.atom`, described by `GET /openapi.json`,
built in `openapi.py` from `api_models.py`).
"""
