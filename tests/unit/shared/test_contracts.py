"""The published contract: committed files match the models, and breaking changes are caught."""

from __future__ import annotations

import copy
import json

import pytest

from shared.contracts import ASYNCAPI_FILE, breaking_changes, committed_files, event_schemas, render_files
from shared.events import ALL_EVENTS
from shared.topics import ALL_TOPICS


def test_committed_contract_matches_the_models() -> None:
    committed, generated = committed_files(), render_files()
    assert sorted(committed) == sorted(generated), "run `herald events schema --write` and commit"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} drifted from the models: run `herald events schema --write`"


def test_every_event_field_has_a_description() -> None:
    for event_type, model in ALL_EVENTS.items():
        for name, field in model.model_fields.items():
            assert field.description, f"{event_type}.{name} has no description"


def test_every_event_module_says_who_publishes_and_consumes() -> None:
    modules = {__import__(model.__module__, fromlist=["_"]) for model in ALL_EVENTS.values()}
    for module in modules:
        doc = (module.__doc__ or "").lower()
        assert "published by" in doc and "consumed by" in doc, module.__name__


def test_asyncapi_lists_every_topic_with_its_messages() -> None:
    import yaml

    document = yaml.safe_load(render_files()[ASYNCAPI_FILE])
    assert set(document["channels"]) == {spec.name for spec in ALL_TOPICS}
    feed_items = document["channels"]["herald.feed-items"]
    refs = [message["$ref"] for message in feed_items["subscribe"]["message"]["oneOf"]]
    assert "#/components/messages/herald.feed.item.discovered.v1" in refs
    assert feed_items["bindings"]["kafka"]["partitions"] == 4


@pytest.fixture
def discovered() -> dict:
    return event_schemas()["herald.feed.item.discovered.v1.schema.json"]


def test_unchanged_schema_has_no_breaking_change(discovered: dict) -> None:
    assert breaking_changes(discovered, copy.deepcopy(discovered)) == []


def test_adding_an_optional_field_is_compatible(discovered: dict) -> None:
    new = copy.deepcopy(discovered)
    new["properties"]["language"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert breaking_changes(discovered, new) == []


def test_removed_field_breaks_consumers(discovered: dict) -> None:
    new = copy.deepcopy(discovered)
    del new["properties"]["title"]
    assert breaking_changes(discovered, new) == ["herald.feed.item.discovered.v1.title: removed"]


def test_narrowed_type_breaks_consumers(discovered: dict) -> None:
    new = copy.deepcopy(discovered)
    new["properties"]["link"] = {"type": "string"}  # was `str | None`
    problems = breaking_changes(discovered, new)
    assert len(problems) == 1 and "link: type changed" in problems[0]


def test_changed_type_in_nested_definition_breaks_consumers() -> None:
    schemas = event_schemas()
    old = schemas["herald.directory.account.updated.v1.schema.json"]
    new = json.loads(json.dumps(old))
    new["$defs"]["StaffAccount"]["properties"]["private"] = {"type": "string"}
    problems = breaking_changes(old, new)
    assert any("account.private: type changed" in p for p in problems), problems
