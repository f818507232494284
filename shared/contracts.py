"""Herald's published contract, generated from the models and the topic catalogue: the envelope's
JSON Schema, one JSON Schema per event type on a public topic (naming its topic and key), and an
AsyncAPI 3.0 document of the public topics (`shared/asyncapi.py`); and, in its internal section,
the schemas of what other teams' systems send on Herald's inbound topics (the directory's
commands), which hold personal data and so are not public, but are a contract all the same. The
files are committed under docs/contract/; tests fail when the models drift from them and when a
model change breaks a consumer (or a sender) of what was published (`shared/compat.py`, rules
in docs/contract/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared.asyncapi import asyncapi_document
from shared.compat import Breach, breaches
from shared.envelope import CloudEvent, EventPayload
from shared.topics import INBOUND_TOPICS, PUBLIC_TOPICS, TopicSpec

CONTRACT_DIR = Path(__file__).resolve().parents[1] / "docs" / "contract"
SCHEMAS = "schemas"
INTERNAL = "internal"
ENVELOPE_FILE = f"{SCHEMAS}/envelope.schema.json"
ASYNCAPI_FILE = "asyncapi.yaml"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file(event_type: str) -> str:
    """Where an event type's published schema lives, relative to docs/contract/."""
    return f"{SCHEMAS}/{event_type}.schema.json"


def internal_schema_file(event_type: str) -> str:
    """Where an inbound message type's schema lives, relative to docs/contract/."""
    return f"{INTERNAL}/{event_type}.schema.json"


def public_events() -> dict[str, tuple[type[EventPayload], TopicSpec]]:
    """Every event type of the public contract → its model and the one topic that carries it."""
    return _events(PUBLIC_TOPICS)


def inbound_events() -> dict[str, tuple[type[EventPayload], TopicSpec]]:
    """Every message type other teams send to Herald → its model and its topic."""
    return _events(INBOUND_TOPICS)


def _events(topics: tuple[TopicSpec, ...]) -> dict[str, tuple[type[EventPayload], TopicSpec]]:
    found: dict[str, tuple[type[EventPayload], TopicSpec]] = {}
    for spec in topics:
        for model in spec.payloads:
            if model.event_type in found:
                raise ValueError(f"{model.event_type} is on two topics: {found[model.event_type][1].name}")
            found[model.event_type] = (model, spec)
    return dict(sorted(found.items()))


def envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": "urn:herald:schema:envelope", **schema}


def event_schema(model: type[EventPayload], spec: TopicSpec) -> dict[str, Any]:
    """The JSON Schema of one event type's `data`, with the type, topic and key it is published on."""
    schema = model.model_json_schema()
    schema["description"] = (model.__doc__ or "").strip()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:herald:schema:{model.event_type}",
        **schema,
        "x-cloudevents-type": model.event_type,
        "x-herald-topic": spec.name,
        "x-herald-key": spec.key,
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """File (relative to docs/contract/) → JSON Schema: the envelope and every public event type."""
    schemas = {ENVELOPE_FILE: envelope_schema()}
    for event_type, (model, spec) in public_events().items():
        schemas[schema_file(event_type)] = event_schema(model, spec)
    return schemas


def inbound_schemas() -> dict[str, dict[str, Any]]:
    """File (relative to docs/contract/) → JSON Schema of each inbound message type's `data`; the
    record is the same CloudEvents envelope (`schemas/envelope.schema.json`)."""
    return {
        internal_schema_file(event_type): {**event_schema(model, spec), "x-herald-classification": "personal"}
        for event_type, (model, spec) in inbound_events().items()
    }


def contract_schemas() -> dict[str, dict[str, Any]]:
    """Every schema the contract publishes: public events, the envelope, inbound messages. The
    same rules protect them all (for an inbound message, senders stand where readers stand)."""
    return {**event_schemas(), **inbound_schemas()}


def render_files() -> dict[str, str]:
    """File (relative to docs/contract/) → exact text, as committed."""
    schemas = event_schemas()
    events = {
        event_type: (model, spec, schemas[schema_file(event_type)])
        for event_type, (model, spec) in public_events().items()
    }
    document = asyncapi_document(schemas[ENVELOPE_FILE], events)
    files = {name: _json(schema) for name, schema in {**schemas, **inbound_schemas()}.items()}
    files[ASYNCAPI_FILE] = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return files


def committed_files(directory: Path = CONTRACT_DIR) -> dict[str, str]:
    """The generated files as committed (the hand-written README.md is not one)."""
    found = {ASYNCAPI_FILE: directory / ASYNCAPI_FILE, **_schema_paths(directory)}
    return {name: path.read_text(encoding="utf-8") for name, path in found.items() if path.is_file()}


def published_schemas(directory: Path = CONTRACT_DIR) -> dict[str, dict[str, Any]]:
    """File → schema, as committed: what consumers were given."""
    return {
        name: json.loads(path.read_text(encoding="utf-8")) for name, path in _schema_paths(directory).items()
    }


def contract_breaches(
    published: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[Breach]:
    """Every change from the published schemas to the current ones that breaks a consumer. A type
    version may leave only once a later version of it is published (rule 7)."""
    found = []
    for name, schema in sorted(published.items()):
        now = current.get(name)
        if now is None and _has_successor(schema.get("x-cloudevents-type", ""), current):
            continue
        found += breaches(schema, now)
    return found


def _has_successor(event_type: str, current: dict[str, dict[str, Any]]) -> bool:
    base, _, version = event_type.rpartition(".v")
    if not version.isdigit():
        return False
    for schema in current.values():
        other_base, _, other = str(schema.get("x-cloudevents-type", "")).rpartition(".v")
        if other_base == base and other.isdigit() and int(other) > int(version):
            return True
    return False


def write(directory: Path = CONTRACT_DIR) -> list[str]:
    """Regenerate the committed files, unless the change breaks a consumer of what is published:
    then nothing is written and the breaches are returned (there is no override)."""
    problems = [str(breach) for breach in contract_breaches(published_schemas(directory), contract_schemas())]
    if problems:
        return problems
    files = render_files()
    for stale in set(committed_files(directory)) - set(files):
        (directory / stale).unlink()
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return []


def _schema_paths(directory: Path) -> dict[str, Path]:
    found = {}
    for section in (SCHEMAS, INTERNAL):
        folder = directory / section
        if folder.is_dir():
            found |= {f"{section}/{path.name}": path for path in sorted(folder.glob("*.schema.json"))}
    return found


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
