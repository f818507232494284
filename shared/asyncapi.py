"""The AsyncAPI 3.0 document of Herald's public topics, from the models and the catalogue.

Each channel is a public topic with its Kafka binding; each message is a whole Kafka record: the
CloudEvents envelope, with `data` per event type, its key and headers. Operations say which part
of Herald sends or receives what. Schemas are `components.schemas` with Draft-07-style references
(`#/components/schemas/…`, no `$defs`, no `$id`), which AsyncAPI 3 tools read. AsyncAPI's own
parser checks the document in the suite (tools/asyncapi/check.mjs).
"""

from __future__ import annotations

from typing import Any

from shared import __version__
from shared.envelope import CLOUDEVENTS_CONTENT_TYPE, EventPayload
from shared.topic_docs import kept
from shared.topics import PUBLIC_TOPICS, Party, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
ENVELOPE = "CloudEvent"
#: How operations name each party of Herald.
APPLICATIONS: dict[Party, str] = {
    "feed_ingest": "feed_ingest",
    "publisher": "publisher",
    "notifier": "notifier",
    "directory": "directory",
    "cli": "herald-cli",
}
DESCRIPTION = " ".join(
    """
Herald's public events on Kafka. Every record's value is a CloudEvents 1.0 envelope in structured
JSON mode (header `content-type: application/cloudevents+json`); its `data` follows the schema named
by its `type` (dotted and versioned, e.g. `herald.feed.item.discovered.v1`). The record key is given
per message: all events with one key are in one partition, in order. Delivery is at least once:
de-duplicate on the envelope's `id`. Within a type version only compatible changes are made (new
optional fields, new enum values); anything else is a new version, published beside the old one.
How to subscribe: docs/consuming.md; the rules: docs/contract/README.md. Topics holding personal data
are not part of this contract.""".split()
)


def channel_id(spec: TopicSpec) -> str:
    """`herald.ops.feed-health` → `ops-feed-health`."""
    return spec.name.removeprefix("herald.").replace(".", "-")


def asyncapi_document(
    envelope: dict[str, Any], events: dict[str, tuple[type[EventPayload], TopicSpec, dict[str, Any]]]
) -> dict[str, Any]:
    """The document, given the envelope's JSON Schema and each public event type's model, topic
    and JSON Schema (`shared.contracts` makes them)."""
    schemas: dict[str, Any] = {ENVELOPE: _draft07(envelope)}
    messages: dict[str, Any] = {}
    for event_type, (model, spec, schema) in events.items():
        data = _draft07(schema, hoist_into=schemas)
        schemas[f"{event_type}.data"] = data
        schemas[event_type] = _record_schema(event_type)
        messages[event_type] = _message(model, spec)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:herald:events",
        "info": {
            "title": "Herald events",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "Open Government Licence v3.0"},
            "tags": [{"name": spec.name, "description": spec.description} for spec in PUBLIC_TOPICS],
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": _servers(),
        "channels": {channel_id(spec): _channel(spec) for spec in PUBLIC_TOPICS},
        "operations": _operations(),
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "SASL/SCRAM-SHA-512 over TLS (SASL_SSL); ask the council's "
                    "platform team for a user and the CA certificate.",
                }
            },
        },
    }


def _servers() -> dict[str, Any]:
    return {
        "local": {
            "host": "127.0.0.1:9092",
            "protocol": "kafka",
            "title": "Local broker",
            "summary": "The broker `make run` starts (PLAINTEXT, loopback only).",
            "description": "`make run` picks a free port unless HERALD_KAFKA_PORT is set, and prints "
            "the bootstrap address; 9092 is the usual one.",
        },
        "cluster": {
            "host": "kafka.council.example:9093",
            "protocol": "kafka-secure",
            "title": "Example production cluster",
            "summary": "How a council cluster looks: SASL_SSL with SCRAM-SHA-512.",
            "description": "An example: the real bootstrap addresses come with your credentials. "
            "Topic names may carry the installation's prefix (HERALD_TOPIC_NAMESPACE).",
            "security": [{"$ref": "#/components/securitySchemes/scram"}],
        },
    }


def _channel(spec: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [spec.cleanup_policy]}
    if spec.retention_ms is not None:
        config["retention.ms"] = spec.retention_ms
    return {
        "address": spec.name,
        "title": spec.name,
        "summary": spec.description,
        "description": (
            f"{spec.description} Key: `{spec.key}`, {spec.key_description}. Kept: {kept(spec)}. "
            f"Holds {spec.classification} data."
        ),
        "messages": {
            model.event_type: {"$ref": f"#/components/messages/{model.event_type}"} for model in spec.payloads
        },
        "tags": [{"name": spec.classification}],
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": config,
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for spec in PUBLIC_TOPICS:
        channel = channel_id(spec)
        refs = [{"$ref": f"#/channels/{channel}/messages/{model.event_type}"} for model in spec.payloads]
        for action, parties in (("send", spec.producers), ("receive", spec.consumers)):
            for party in parties:
                name = APPLICATIONS[party]
                operations[f"{name}.{action}.{channel}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel}"},
                    "title": f"{name} {'writes' if action == 'send' else 'reads'} {spec.name}",
                    "summary": f"{name} {action}s {', '.join(m.event_type for m in spec.payloads)}.",
                    "messages": refs,
                    "tags": [{"name": name}],
                }
    return operations


def _message(model: type[EventPayload], spec: TopicSpec) -> dict[str, Any]:
    doc = (model.__doc__ or "").strip()
    return {
        "name": model.event_type,
        "title": model.__name__,
        "summary": doc.splitlines()[0],
        "description": doc,
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": CLOUDEVENTS_CONTENT_TYPE},
                "ce_type": {
                    "type": "string",
                    "const": model.event_type,
                    "description": "The envelope's `type`, for consumers that filter without parsing.",
                },
            },
        },
        "payload": {"$ref": f"#/components/schemas/{model.event_type}"},
        "tags": [{"name": spec.name}],
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"`{spec.key}`: {spec.key_description}"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _record_schema(event_type: str) -> dict[str, Any]:
    """A whole record's value: the envelope, with this `type` and its `data`."""
    return {
        "title": event_type,
        "description": f"A CloudEvents envelope whose `data` is a {event_type}.",
        "allOf": [
            {"$ref": f"#/components/schemas/{ENVELOPE}"},
            {
                "type": "object",
                "required": ["type", "data"],
                "properties": {
                    "type": {"type": "string", "const": event_type},
                    "data": {"$ref": f"#/components/schemas/{event_type}.data"},
                },
            },
        ],
    }


def _draft07(schema: dict[str, Any], hoist_into: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON Schema as AsyncAPI 3's default schema format reads it: no `$schema`, `$id` or
    Herald's `x-herald-*`; `$defs` moved into components (`hoist_into`) and referenced there; a
    `$ref` with siblings wrapped in `allOf` (Draft 07 ignores a `$ref`'s siblings)."""
    drop = {"$schema", "$id", "$defs", "x-herald-topic", "x-herald-key"}
    for name, definition in schema.get("$defs", {}).items():
        if hoist_into is None:
            raise ValueError(f"nowhere to put $defs/{name}")
        converted = _draft07(definition, hoist_into)
        if hoist_into.setdefault(name, converted) != converted:
            raise ValueError(f"two different schemas are both named {name}")
    return _refs({key: value for key, value in schema.items() if key not in drop})


def _refs(node: Any) -> Any:
    if isinstance(node, list):
        return [_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _refs(value) for key, value in node.items()}
    ref = converted.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        converted["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        if len(converted) > 1:
            target = {"$ref": converted.pop("$ref")}
            converted["allOf"] = [target]
    return converted
