"""The directory's OpenAPI 3.1 document (`GET /openapi.json`), built from the pydantic models the
handlers answer with (`api_models.py`, `StaffMember`, `StaffCommand`), so it cannot drift from the
responses; a test compares its paths with the routes the worker serves, and schemathesis checks
a real worker against it in the suite."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.directory import api_models as api
from services.directory.queries import ACCOUNT_STATUSES, DEFAULT_READ_WAIT_SECONDS
from shared.events import StaffCommand, StaffMember
from shared.events.directory import PLATFORMS

PROBLEM = "application/problem+json"
#: Reads: anyone, or the admin token for the full records.
READ_SECURITY: list[dict[str, list[str]]] = [{}, {"adminToken": []}]
WRITE_SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]

_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    api.PublicStaff,
    StaffMember,
    api.VerifyAnswer,
    api.Accepted,
    api.Decided,
    api.Problem,
    api.Export,
    api.Health,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref(api.Problem)}}}


def _text(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_UNAUTHORIZED = _problem("A wrong or malformed admin token (no token is public access).")
_LOADING = _problem("The worker is still reading the directory; try again shortly.")
_BAD_QUERY = _problem("A query parameter is not valid; `errors` names it.")
_FILTERS = [
    _query("q", "Search name, role, department or handle (any case, part of a word).", {"type": "string"}),
    _query("platform", "Only accounts on this platform.", {"type": "string", "enum": list(PLATFORMS)}),
    _query("status", "Only accounts in this status.", {"type": "string", "enum": list(ACCOUNT_STATUSES)}),
]
_LIST = {"anyOf": [{"type": "array", "items": _ref(model)} for model in (api.PublicStaff, StaffMember)]}


def _read(summary: str, ok: dict[str, Any], *, parameters: list[Any] | None = None, **more: Any) -> dict:
    operation: dict[str, Any] = {"summary": summary, "security": READ_SECURITY}
    if parameters:
        operation["parameters"] = parameters
    operation["responses"] = {"200": ok, "401": _UNAUTHORIZED, "503": _LOADING, **more}
    return {"get": operation}


def _paths(longest_wait: float) -> dict[str, Any]:
    staff_id = {"name": "staff_id", "in": "path", "required": True, "schema": {"type": "string"}}
    seconds = {"type": "number", "minimum": 0, "maximum": longest_wait}
    default_wait = min(DEFAULT_READ_WAIT_SECONDS, longest_wait)
    return {
        "/staff": _read(
            "Staff and their accounts: what anyone may see, or everything with the admin token.",
            _json(_LIST, "The matching staff, sorted by name."),
            parameters=_FILTERS,
            **{"422": _BAD_QUERY},
        ),
        "/staff/export.csv": _read(
            "The same records as CSV, one row per account (more columns with the admin token).",
            _text("text/csv", "CSV with a header row."),
            parameters=_FILTERS,
            **{"422": _BAD_QUERY},
        ),
        "/staff/export.json": _read(
            "The same records as one JSON document, with the time it was made.",
            _json(_ref(api.Export), "The export."),
            parameters=_FILTERS,
            **{"422": _BAD_QUERY},
        ),
        "/staff/commands": {
            "post": {
                "summary": "Queue a change (a StaffCommand) on herald.directory.commands; admin token only.",
                "security": WRITE_SECURITY,
                "parameters": [
                    _query(
                        "wait",
                        "Wait up to this many seconds for the outcome, decided by whichever worker decides.",
                        seconds,
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(StaffCommand)}},
                },
                "responses": {
                    "200": _json(_ref(api.Decided), "Decided (with `?wait=`): the outcome and the version."),
                    "202": _json(
                        _ref(api.Accepted),
                        "Queued (no `?wait=`, or no outcome in time); the outcome comes on"
                        " herald.directory.events.",
                    ),
                    "401": _problem("No admin token, or a wrong one."),
                    "422": _problem(
                        "The body is not a valid StaffCommand, or `wait` is not; `errors` names it."
                    ),
                },
            }
        },
        "/staff/{staff_id}": _read(
            "One person (404 without the token when nothing of them may be shown).",
            _json({"anyOf": [_ref(api.PublicStaff), _ref(StaffMember)]}, "The person."),
            parameters=[
                staff_id,
                _query(
                    "min_version",
                    "First wait until this worker holds this version of them (a `POST ?wait=` returned it).",
                    {"type": "integer", "minimum": 1},
                ),
                _query(
                    "wait",
                    f"How long `min_version` may wait, in seconds (without it: {default_wait:g}).",
                    seconds,
                ),
            ],
            **{
                "404": _problem("No such person, or nothing of them may be shown."),
                "422": _BAD_QUERY,
                "503": _problem(
                    "The worker is still reading the directory, or the version asked for did not reach"
                    " it in the wait; try again."
                ),
            },
        ),
        "/verify": _read(
            "Is this a council account? Yes only for a public, active account; a private or unknown"
            " one gets the same answer.",
            _json(_ref(api.VerifyAnswer), "The answer."),
            parameters=[
                _query(
                    "platform",
                    "The platform (needed with `handle`).",
                    {"type": "string", "enum": list(PLATFORMS)},
                ),
                _query("handle", "The handle, in any form its platform accepts.", {"type": "string"}),
                _query("url", "Or a profile URL (instead of `handle`).", {"type": "string"}),
            ],
            **{"422": _problem("No handle or url, or one its platform would not accept.")},
        ),
        "/changes.atom": _read(
            "An Atom 1.0 feed of the public directory's changes, newest first.",
            _text("application/atom+xml", "The feed."),
        ),
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness.",
                "responses": {
                    "200": _json(_ref(api.Health), "Ready."),
                    "503": _json(_ref(api.Health), "Starting."),
                },
            }
        },
        "/ready": {
            "get": {
                "summary": "Readiness: caught up and holding its partitions (what a load balancer asks).",
                "responses": {
                    "200": _json(_ref(api.Health), "Ready to serve."),
                    "503": _json(_ref(api.Health), "Not yet, and why."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics.",
                "responses": {"200": _text("text/plain", "Prometheus text format.")},
            }
        },
    }


def _components() -> dict[str, Any]:
    models = [(model, "serialization") for model in _RESPONSE_MODELS] + [(StaffCommand, "validation")]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    return {
        "schemas": top["$defs"],
        "securitySchemes": {
            "adminToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "HERALD_ADMIN_TOKEN: private accounts and e-mails in reads; writes.",
            }
        },
    }


def openapi_document(version: str, *, longest_wait: float = 30.0) -> dict[str, Any]:
    """The whole document; `version` is Herald's, `longest_wait` the most a `?wait=` may ask."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Herald staff directory",
            "version": version,
            "description": (
                "The council's register of staff social-media accounts. Without a token: public, active"
                " accounts only, no e-mail addresses; with the admin token: everything."
            ),
        },
        "paths": _paths(longest_wait),
        "components": _components(),
    }
