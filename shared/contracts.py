"""Herald's published contract, generated from the models: one JSON Schema per event type, the
envelope's schema, and an AsyncAPI 2.6 document of the topics. The generated files are committed
under `shared/contracts/`; tests fail when the models drift from them, and `breaking_changes()`
tells whether a change would break an existing consumer (a removed field, a narrowed type).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared import __version__
from shared.envelope import CloudEvent
from shared.events import ALL_EVENTS
from shared.topics import ALL_TOPICS

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ENVELOPE_FILE = "envelope.schema.json"
ASYNCAPI_FILE = "asyncapi.yaml"


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for every event type and for the envelope."""
    schemas: dict[str, dict[str, Any]] = {ENVELOPE_FILE: CloudEvent.model_json_schema()}
    for event_type, model in sorted(ALL_EVENTS.items()):
        schema = model.model_json_schema()
        schema["$id"] = f"urn:herald:schema:{event_type}"
        schema["x-cloudevents-type"] = event_type
        schema["description"] = (model.__doc__ or "").strip()
        schemas[f"{event_type}.schema.json"] = schema
    return schemas


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in ALL_TOPICS:
        refs = []
        for model in spec.payloads:
            name = model.event_type
            messages[name] = {
                "name": name,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().splitlines()[0],
                "contentType": "application/cloudevents+json",
                "payload": {"$ref": f"./{name}.schema.json"},
            }
            refs.append({"$ref": f"#/components/messages/{name}"})
        channel: dict[str, Any] = {
            "description": spec.description,
            "bindings": {
                "kafka": {
                    "partitions": spec.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [spec.cleanup_policy],
                        **({"retention.ms": spec.retention_ms} if spec.retention_ms else {}),
                    },
                }
            },
            "x-key": spec.key,
            "x-public": spec.public,
        }
        if refs:
            channel["subscribe"] = {"message": {"oneOf": refs} if len(refs) > 1 else refs[0]}
        channels[spec.name] = channel
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "Herald events",
            "version": __version__,
            "description": "Every event is a CloudEvents 1.0 envelope (structured JSON) whose `data` "
            "follows the schema named by its `type`. Keys decide ordering.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "components": {"messages": messages},
    }


def render_files() -> dict[str, str]:
    """File name → exact text, as committed."""
    files = {
        name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in event_schemas().items()
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi_document(), sort_keys=True, allow_unicode=True)
    return files


def committed_files(directory: Path = CONTRACTS_DIR) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {path.name: path.read_text() for path in sorted(directory.iterdir()) if path.is_file()}


# --- compatibility ---------------------------------------------------------------------------


def breaking_changes(old: dict[str, Any], new: dict[str, Any], *, where: str = "") -> list[str]:
    """What in `new` would break a consumer written against `old`, one line each: a removed
    property, a type that changed or narrowed (any type or literal value a consumer may have seen
    that is no longer possible, e.g. `str | None` → `str`), and a property that was always present
    becoming optional. `$defs` are followed."""
    problems: list[str] = []
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    _compare(old, new, old_defs, new_defs, where or old.get("x-cloudevents-type", "(root)"), problems, set())
    return problems


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"), {})
    return schema


def _types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return set().union(*(_types(option, defs) for option in schema["anyOf"]))
    if "const" in schema:
        return {f"const:{schema['const']}"}
    if "enum" in schema:
        return {f"const:{value}" for value in schema["enum"]}
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind is None:
        return {"object"} if "properties" in schema else {"any"}
    kinds = kind if isinstance(kind, list) else [kind]
    return {f"{k}:{fmt}" if fmt else k for k in kinds}


def _compare(
    old: dict[str, Any],
    new: dict[str, Any],
    old_defs: dict[str, Any],
    new_defs: dict[str, Any],
    where: str,
    problems: list[str],
    seen: set[str],
) -> None:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    old_types, new_types = _types(old, old_defs), _types(new, new_defs)
    if "any" not in new_types and not old_types <= new_types:
        gone = sorted(old_types - new_types)
        added = sorted(new_types - old_types)
        problems.append(f"{where}: type changed ({', '.join(gone)} → {', '.join(added) or 'nothing'})")
        return
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        path = f"{where}.{name}"
        if name not in new_props:
            problems.append(f"{path}: removed")
            continue
        if name in old_required and name not in new_required:
            problems.append(f"{path}: was always present, now optional")
        key = f"{path}:{id(old_prop)}"
        if key not in seen:
            seen.add(key)
            _compare(old_prop, new_props[name], old_defs, new_defs, path, problems, seen)
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_defs, new_defs, f"{where}[]", problems, seen)
