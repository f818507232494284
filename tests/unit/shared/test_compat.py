"""The compatibility rules as a pure function: each breaking change is named with its field and
rule, and the changes allowed within a version pass."""

from __future__ import annotations

import copy

import pytest

from shared.compat import RULES, Breach, breaches, next_version
from shared.contracts import event_schemas, schema_file

DISCOVERED = "herald.feed.item.discovered.v1"
#: A field no model has, for the tests that add one.
NEW_FIELD = "added_for_this_test"


@pytest.fixture
def published() -> dict:
    return event_schemas()[schema_file(DISCOVERED)]


def changed(schema: dict, edit) -> dict:
    new = copy.deepcopy(schema)
    edit(new)
    return new


def test_the_same_schema_breaks_nothing(published: dict) -> None:
    assert breaches(published, copy.deepcopy(published)) == []


def test_a_renamed_field_is_named_with_its_new_name_and_the_rule(published: dict) -> None:
    def rename(schema: dict) -> None:
        schema["properties"]["headline"] = schema["properties"].pop("title")
        schema["required"] = ["headline" if name == "title" else name for name in schema["required"]]

    found = breaches(published, changed(published, rename))
    assert found[0] == Breach(DISCOVERED, "data.title", 1, "renamed to 'headline'")
    assert str(found[0]) == (
        "herald.feed.item.discovered.v1: data.title renamed to 'headline'; breaks rule 1, a field "
        "consumers may read is never removed or renamed: publish herald.feed.item.discovered.v2 "
        "beside it instead (docs/contract/README.md)"
    )
    # The new name is also a new required field: a record already on the topic lacks it.
    assert Breach(DISCOVERED, "data.headline", 5, "is new and required") in found


def test_a_removed_field_breaks_rule_1(published: dict) -> None:
    found = breaches(published, changed(published, lambda s: s["properties"].pop("summary")))
    assert found == [Breach(DISCOVERED, "data.summary", 1, "removed")]


def test_an_added_optional_field_passes(published: dict) -> None:
    def add(schema: dict) -> None:
        schema["properties"][NEW_FIELD] = {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "default": None,
            "description": "BCP 47 language of the item, if the feed says.",
        }

    assert breaches(published, changed(published, add)) == []


def test_an_added_required_field_breaks_rule_5(published: dict) -> None:
    def add(schema: dict) -> None:
        schema["properties"][NEW_FIELD] = {"type": "string"}
        schema["required"].append(NEW_FIELD)

    assert breaches(published, changed(published, add)) == [
        Breach(DISCOVERED, f"data.{NEW_FIELD}", 5, "is new and required")
    ]


def test_a_narrowed_type_breaks_rule_2(published: dict) -> None:
    new = changed(published, lambda s: s["properties"].update(link={"type": "string"}))  # was str | None
    assert breaches(published, new) == [Breach(DISCOVERED, "data.link", 2, "no longer allows null")]


def test_a_new_json_type_breaks_rule_3(published: dict) -> None:
    def widen(schema: dict) -> None:
        schema["properties"]["title"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert breaches(published, changed(published, widen)) == [
        Breach(DISCOVERED, "data.title", 3, "now allows null")
    ]


def test_an_array_whose_items_change_type_breaks(published: dict) -> None:
    new = changed(published, lambda s: s["properties"]["tags"].update(items={"type": "integer"}))
    assert [(b.where, b.rule) for b in breaches(published, new)] == [("data.tags[]", 2)]


def test_a_field_no_longer_always_present_breaks_rule_4(published: dict) -> None:
    new = changed(published, lambda s: s["required"].remove("content_hash"))
    assert breaches(published, new) == [
        Breach(DISCOVERED, "data.content_hash", 4, "was always present, now optional")
    ]


def test_an_enum_may_grow_but_not_shrink() -> None:
    published = event_schemas()[schema_file("herald.feed.status.changed.v1")]
    status = published["properties"]["status"]
    values = status.get("enum")
    assert values, status  # the check below is about an enum
    grown = changed(published, lambda s: s["properties"]["status"].update(enum=[*values, "paused"]))
    assert breaches(published, grown) == []
    shrunk = changed(published, lambda s: s["properties"]["status"].update(enum=values[:1]))
    assert [(b.where, b.rule) for b in breaches(published, shrunk)] == [("data.status", 2)]
    assert repr(values[1]) in breaches(published, shrunk)[0].change


def test_a_changed_key_or_topic_breaks_rule_6(published: dict) -> None:
    moved = changed(
        published, lambda s: s.update({"x-herald-topic": "herald.items", "x-herald-key": "feed_id"})
    )
    assert breaches(published, moved) == [
        Breach(DISCOVERED, "its topic", 6, "changed from 'herald.feed-items' to 'herald.items'"),
        Breach(DISCOVERED, "its key", 6, "changed from 'item_id' to 'feed_id'"),
    ]


def test_a_type_version_that_is_gone_breaks_rule_7(published: dict) -> None:
    assert breaches(published, None) == [Breach(DISCOVERED, "the type version", 7, "is no longer published")]


def test_a_nested_definition_is_followed() -> None:
    """`$defs` on both sides, and an `X | None` field compared as X."""
    account = {
        "properties": {"handle": {"type": "string"}, "private": {"type": "boolean"}},
        "required": ["handle", "private"],
        "type": "object",
    }
    published = {
        "x-cloudevents-type": "herald.example.v1",
        "$defs": {"Account": account},
        "properties": {"account": {"anyOf": [{"$ref": "#/$defs/Account"}, {"type": "null"}]}},
        "type": "object",
    }
    current = copy.deepcopy(published)
    current["$defs"]["Account"]["properties"]["private"] = {"type": "string"}
    assert breaches(published, current) == [
        Breach("herald.example.v1", "data.account.private", 2, "no longer allows boolean")
    ]


def test_every_rule_is_written_down() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "contract" / "README.md").read_text()
    for number, rule in RULES.items():
        assert f"{number}. **{rule[0].upper()}{rule[1:]}.**" in text, f"rule {number} is not in the README"


def test_next_version() -> None:
    assert next_version("herald.feed.moved.v1") == "herald.feed.moved.v2"
    assert next_version("herald.ops.error.v9") == "herald.ops.error.v10"
