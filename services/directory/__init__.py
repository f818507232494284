"""directory: the council's staff social-media directory.

Reads commands from `herald.directory.commands` (CLI, imports, `POST /staff/commands`, HR systems),
decides them (pure, in `decide.py`), keeps each person in a faust Table keyed by staff id, records
what changed (ids and non-personal facts only) on `herald.directory.events`, keeps the full records
on the compacted `herald.directory.staff`, and serves its HTTP API (`http_api.py`: `GET /staff` with
search and filters, `/verify`, CSV and JSON exports, the Atom feed `/changes.atom`, described by
`GET /openapi.json`, built in `openapi.py` from `api_models.py`).
"""
