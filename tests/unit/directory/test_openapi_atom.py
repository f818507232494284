"""The served OpenAPI document covers every route the worker serves, its schemas are JSON Schema
2020-12, and the Atom feed is valid Atom 1.0 holding only what anyone may see."""

from datetime import timedelta

import feedparser
import jsonschema

from services.directory.app import create_runtime
from services.directory.atom import changes_feed
from services.directory.openapi import openapi_document
from shared.settings import HeraldSettings
from tests.unit.directory.test_view import ANNA, NOW, PIP, SUE, account, member


def test_every_route_served_is_in_the_document_and_nothing_else() -> None:
    runtime = create_runtime(HeraldSettings(), "127.0.0.1:1")
    served = {
        (path, method.lower())
        for path, view in runtime.app.web.views.items()
        for method in view.get_methods() - {"HEAD"}
    }
    document = openapi_document("0")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented
    assert ("/staff/export.csv", "get") in served and ("/staff/commands", "post") in served


def test_the_documents_schemas_are_json_schema_and_built_from_the_models() -> None:
    document = openapi_document("0")
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    public = document["components"]["schemas"]["PublicStaff"]
    assert set(public["properties"]) == {"staff_id", "name", "role", "department", "accounts"}
    assert "email" not in str(document["components"]["schemas"]["PublicAccount"])
    command = document["paths"]["/staff/commands"]["post"]
    assert command["security"] == [{"adminToken": []}]
    assert set(command["responses"]) == {"200", "202", "401", "422"}


def test_the_waits_are_query_parameters_bounded_by_the_setting() -> None:
    document = openapi_document("0", longest_wait=0.5)
    command = document["paths"]["/staff/commands"]["post"]
    assert command["parameters"] == [
        {
            "name": "wait",
            "in": "query",
            "required": False,
            "description": command["parameters"][0]["description"],
            "schema": {"type": "number", "minimum": 0, "maximum": 0.5},
        }
    ]
    one = document["paths"]["/staff/{staff_id}"]["get"]
    params = {p["name"]: p["schema"] for p in one["parameters"]}
    assert params["min_version"] == {"type": "integer", "minimum": 1}
    assert params["wait"] == {"type": "number", "minimum": 0, "maximum": 0.5}
    assert {"404", "422", "503"} <= set(one["responses"])
    decided = document["components"]["schemas"]["Decided"]
    assert {"request_id", "staff_id", "outcome", "version", "field", "reason"} == set(decided["properties"])


def test_the_atom_feed_is_atom_1_0_with_only_shown_accounts_newest_first() -> None:
    later = account("later", changed_at=NOW + timedelta(hours=1), verified=True)
    bob = member("bob", "Bob <Builder> & Co\x07", later, role="Planner", department="Planning")
    feed = feedparser.parse(changes_feed([SUE, PIP, ANNA, bob], self_url="http://h/changes.atom", now=NOW))
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == [
        "Bob <Builder> & Co on X: later",
        "Sue Tylcoat on X: suety",  # a tie in time: by account id, descending
        "Anna Matthews on X: localgovgrad",
    ]
    assert feed.entries[0].link == "https://x.com/later" and "verified" in feed.entries[0].summary
    assert feed.feed.updated == "2026-03-01T01:00:00Z"
    text = changes_feed([SUE, PIP, ANNA], self_url="http://h/", now=NOW).decode()
    assert "piptucker" not in text and "anna_hidden" not in text and "@staff" not in text
    assert len({e.id for e in feed.entries}) == 3 and all(e.id.startswith("urn:uuid:") for e in feed.entries)
    empty = feedparser.parse(changes_feed([], self_url="http://h/", now=NOW))
    assert not empty.bozo and empty.entries == [] and empty.feed.updated == "2026-03-01T00:00:00Z"
