"""The published contract (docs/contract/): the committed files are what the models and the
catalogue generate, the models break no consumer of what was published, and the AsyncAPI
document says what the catalogue says."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from shared.asyncapi import channel_id
from shared.contracts import (
    ASYNCAPI_FILE,
    CONTRACT_DIR,
    ENVELOPE_FILE,
    committed_files,
    contract_breaches,
    contract_schemas,
    event_schemas,
    inbound_events,
    internal_schema_file,
    public_events,
    published_schemas,
    render_files,
    schema_file,
    write,
)
from shared.envelope import encode
from shared.events import ALL_EVENTS, ServiceHeartbeat, StaffCommand
from shared.topics import ALL_TOPICS, DIRECTORY_COMMANDS, INBOUND_TOPICS, PUBLIC_TOPICS, TopicSpec


def test_committed_contract_matches_the_models() -> None:
    committed, generated = committed_files(), render_files()
    assert sorted(committed) == sorted(generated), "run `herald events schema --write` and commit"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} drifted from the models: run `herald events schema --write`"


def test_the_models_break_no_consumer_of_what_was_published() -> None:
    """The gate: the committed schemas are what consumers were given; the models must keep to the
    rules for each published type version (docs/contract/README.md)."""
    problems = [str(breach) for breach in contract_breaches(published_schemas(), contract_schemas())]
    assert problems == [], "\n".join(problems)


def test_a_renamed_field_in_a_model_fails_the_gate_naming_the_field_and_rule() -> None:
    current = contract_schemas()
    name = schema_file("herald.feed.item.discovered.v1")
    properties = current[name]["properties"]
    properties["headline"] = properties.pop("title")
    problems = [str(breach) for breach in contract_breaches(published_schemas(), current)]
    assert problems and problems[0].startswith(
        "herald.feed.item.discovered.v1: data.title renamed to 'headline'; breaks rule 1, "
    ), problems


def test_write_refuses_a_breaking_change_and_writes_an_allowed_one(tmp_path: Path) -> None:
    directory = tmp_path / "contract"
    shutil.copytree(CONTRACT_DIR, directory)
    moved = directory / schema_file("herald.feed.moved.v1")
    schema = json.loads(moved.read_text())
    schema["properties"]["reason"] = {"type": "string", "description": "a field the model lacks"}
    moved.write_text(json.dumps(schema))
    problems = write(directory)
    assert len(problems) == 1 and "data.reason removed; breaks rule 1," in problems[0], problems
    assert json.loads(moved.read_text()) == schema, "nothing is written when a change breaks"

    shutil.copy(CONTRACT_DIR / schema_file("herald.feed.moved.v1"), moved)
    discovered = directory / schema_file("herald.feed.item.discovered.v1")
    older = json.loads(discovered.read_text())
    del older["properties"]["author"]  # as if the model had just gained this optional field
    discovered.write_text(json.dumps(older))
    assert write(directory) == []
    assert committed_files(directory) == render_files()


def test_only_public_topics_are_in_the_contract_and_no_personal_one_is_public() -> None:
    assert {spec.classification for spec in PUBLIC_TOPICS} <= {"public", "internal"}
    assert all(not spec.public for spec in ALL_TOPICS if spec.classification == "personal")
    published = {
        schema["x-herald-topic"] for schema in event_schemas().values() if "x-herald-topic" in schema
    }
    assert published == {spec.name for spec in PUBLIC_TOPICS}
    for personal in ("herald.directory.events", "herald.directory.staff", "herald.forum.alerts"):
        assert personal not in render_files()[ASYNCAPI_FILE]


def test_what_hr_systems_send_is_published_in_the_internal_section_and_gated() -> None:
    """The directory's commands topic is personal, so not public, but other teams' HR systems
    write to it: its message schema is in docs/contract/internal/ and the same gate protects it."""
    assert INBOUND_TOPICS == (DIRECTORY_COMMANDS,) and DIRECTORY_COMMANDS.classification == "personal"
    assert set(inbound_events()) == {"herald.directory.command.v1"}
    name = internal_schema_file("herald.directory.command.v1")
    committed = published_schemas()[name]
    assert (
        committed["x-herald-topic"] == "herald.directory.commands" and committed["x-herald-key"] == "staff_id"
    )
    assert committed["x-herald-classification"] == "personal"
    assert {"request_id", "action", "staff_id"} <= set(committed["required"])

    command = StaffCommand(request_id="hr-1", action="leave", staff_id="staff-1", requested_by="hr:payroll")
    record = json.loads(encode(command, source="/hr/payroll"))
    jsonschema.Draft202012Validator(published_schemas()[ENVELOPE_FILE]).validate(record)
    validator = jsonschema.Draft202012Validator(committed)
    validator.validate(record["data"])
    assert not validator.is_valid({**record["data"], "action": "promote"})

    current = contract_schemas()
    current[name]["properties"]["person_id"] = current[name]["properties"].pop("staff_id")
    problems = [str(breach) for breach in contract_breaches(published_schemas(), current)]
    assert problems and problems[0].startswith("herald.directory.command.v1: data.staff_id "), problems


def test_a_personal_topic_cannot_be_made_public() -> None:
    with pytest.raises(ValueError, match="herald.x holds personal data"):
        TopicSpec(name="herald.x", key="staff_id", description="", public=True, classification="personal")


def test_every_event_field_has_a_description() -> None:
    for event_type, model in ALL_EVENTS.items():
        for name, field in model.model_fields.items():
            assert field.description, f"{event_type}.{name} has no description"


def test_every_event_module_says_who_publishes_and_consumes() -> None:
    modules = {__import__(model.__module__, fromlist=["_"]) for model in ALL_EVENTS.values()}
    for module in modules:
        doc = (module.__doc__ or "").lower()
        assert "published by" in doc and "consumed by" in doc, module.__name__


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(render_files()[ASYNCAPI_FILE])


def test_asyncapi_channels_are_the_public_topics_with_their_kafka_bindings(document: dict) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert {channel["address"] for channel in document["channels"].values()} == {
        s.name for s in PUBLIC_TOPICS
    }
    for spec in PUBLIC_TOPICS:
        kafka = document["channels"][channel_id(spec)]["bindings"]["kafka"]
        assert kafka["topic"] == spec.name and kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.cleanup_policy]
    assert document["servers"]["cluster"]["protocol"] == "kafka-secure"
    assert document["servers"]["cluster"]["security"]


def test_asyncapi_messages_are_whole_records_with_their_key(document: dict) -> None:
    schemas, messages = document["components"]["schemas"], document["components"]["messages"]
    assert set(messages) == set(public_events())
    for event_type, (_, spec) in public_events().items():
        message = messages[event_type]
        assert message["payload"] == {"$ref": f"#/components/schemas/{event_type}"}
        envelope, typed = schemas[event_type]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
        assert typed["properties"]["type"]["const"] == event_type
        assert typed["properties"]["data"] == {"$ref": f"#/components/schemas/{event_type}.data"}
        assert spec.key in message["bindings"]["kafka"]["key"]["description"]
    assert "$defs" not in json.dumps(schemas) and "$id" not in json.dumps(schemas)


def test_asyncapi_operations_are_the_catalogues_producers_and_consumers(document: dict) -> None:
    claimed = {
        (
            operation["channel"]["$ref"].removeprefix("#/channels/"),
            operation["action"],
            operation["tags"][0]["name"],
        )
        for operation in document["operations"].values()
    }
    declared = {
        (channel_id(spec), action, "herald-cli" if party == "cli" else party)
        for spec in PUBLIC_TOPICS
        for action, parties in (("send", spec.producers), ("receive", spec.consumers))
        for party in parties
    }
    assert claimed == declared
    assert ("feed-items", "receive", "notifier") in claimed  # items routed to forum targets


def test_an_asyncapi_message_payload_is_the_whole_record_herald_writes(document: dict) -> None:
    """Herald's own encoding of an event validates against its message's payload (Draft 07, the
    components as the document has them), and a record whose data breaks the schema does not."""
    beat = ServiceHeartbeat(
        service="publisher",
        instance="host:1",
        status="ready",
        started_at=datetime.now(UTC),
        uptime_seconds=1.5,
        version="0.1.0",
    )
    record = json.loads(encode(beat, source="/herald/publisher"))
    components = document["components"]
    payload = components["messages"][beat.event_type]["payload"]
    validator = jsonschema.Draft7Validator({**payload, "components": components})
    validator.validate(record)
    record["data"]["status"] = "asleep"
    assert [error.message for error in validator.iter_errors(record)] == [
        "'asleep' is not one of ['starting', 'ready', 'stopping']"
    ]
    assert not validator.is_valid({**record, "type": "herald.ops.error.v1"})
