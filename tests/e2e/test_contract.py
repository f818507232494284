"""The public contract read as another team reads it: the whole stack runs, every event type of
every public topic happens, and each public topic is read from the beginning by kcat (Debian's
package) and by the plain aiokafka consumer of docs/consuming.md, every record validated with the
`jsonschema` library against the committed files in docs/contract/schemas/ alone."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.topics import PUBLIC_TOPICS
from tests.e2e.stack import REPO_ROOT, HeraldStack
from tests.e2e.test_pipeline import NEW_ITEM, OLD_ITEMS, stack_env
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.fakes.webhook import FakeWebhook
from tests.support.kafka import wait_until

pytestmark = pytest.mark.e2e

SCHEMAS = REPO_ROOT / "docs" / "contract" / "schemas"
ENVELOPE = json.loads((SCHEMAS / "envelope.schema.json").read_text())
DATA = {
    path.name.removesuffix(".schema.json"): json.loads(path.read_text()) for path in SCHEMAS.glob("herald.*")
}
#: What must be seen: every event type the committed contract has, on the topic it names.
EXPECTED = {event_type: schema["x-herald-topic"] for event_type, schema in DATA.items()}
#: The AsyncAPI document's components: each message's payload is the whole record (Draft 07).
COMPONENTS = yaml.safe_load((REPO_ROOT / "docs" / "contract" / "asyncapi.yaml").read_text())["components"]
NEWS, BROKEN, MOVED = "/news.rss", "/broken.rss", "/moved.rss"
HELD = [
    {"title": "Bin strike talks resume", "link": "https://www.lowshire.example/news/10", "guid": "news-10"},
    {
        "title": "Strike ballot at the depot",
        "link": "https://www.lowshire.example/news/11",
        "guid": "news-11",
    },
]


def test_the_contract_lists_the_catalogues_public_topics() -> None:
    """The test below expects what the committed files say; they say what the catalogue says."""
    assert set(EXPECTED.values()) == {spec.name for spec in PUBLIC_TOPICS}
    assert set(EXPECTED) == {model.event_type for spec in PUBLIC_TOPICS for model in spec.payloads}


def kcat(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of a topic, from the beginning to its end, as kcat's JSON (-J) gives them."""
    result = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def validated(record: dict[str, Any], topic: str) -> dict[str, Any]:
    """A kcat record's value checked against the committed files only: the envelope and its data
    (the JSON Schemas), the whole record (the AsyncAPI message's payload), its topic, its key and
    its headers."""
    event = json.loads(record["payload"])
    jsonschema.validate(event, ENVELOPE)
    schema = DATA.get(event["type"])
    assert schema is not None, f"{event['type']} on {topic} is not in docs/contract/schemas/"
    jsonschema.validate(event["data"], schema)
    payload = COMPONENTS["messages"][event["type"]]["payload"]
    jsonschema.Draft7Validator({**payload, "components": COMPONENTS}).validate(event)
    assert topic.endswith(schema["x-herald-topic"]), f"{event['type']} on {topic}"
    assert record["key"] == event["data"][schema["x-herald-key"]], (record["key"], event["type"])
    headers = dict(zip(record["headers"][::2], record["headers"][1::2], strict=True))
    assert headers == {"content-type": "application/cloudevents+json", "ce_type": event["type"]}
    return event


class Topics:
    """The public topics of one namespace, read with kcat."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.bootstrap, self.namespace = bootstrap, namespace

    def events(self) -> list[dict[str, Any]]:
        found = []
        for spec in PUBLIC_TOPICS:
            topic = self.namespace + spec.name
            found += [validated(record, topic) for record in kcat(self.bootstrap, topic)]
        return found

    def types(self) -> set[str]:
        return {event["type"] for event in self.events()}

    def item_id(self, title: str) -> str:
        for event in self.events():
            if event["type"] == "herald.feed.item.discovered.v1" and event["data"]["title"] == title:
                return event["data"]["item_id"]
        raise AssertionError(f"no item {title!r} discovered")


def consuming_md_code() -> str:
    """The aiokafka consumer exactly as docs/consuming.md gives it."""
    text = (REPO_ROOT / "docs" / "consuming.md").read_text()
    section = text[text.index("## With aiokafka") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.set_feed(NEWS, rss_xml(OLD_ITEMS))
        server.set_status(BROKEN, 500)
        yield server


def test_every_public_event_type_read_by_kcat_and_by_the_documented_consumer_is_valid(
    kafka_bootstrap: str,
    namespace: str,
    state_dir: Path,
    tmp_path: Path,
    feeds: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeWebhook() as webhook:
        webhook.fail_next(1000, status=400)  # every post to it fails, permanently: PostFailed
        config = tmp_path / "publisher.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "accounts": [
                        {"name": "corporate", "kind": "x", "dry_run": True},
                        {"name": "intranet", "kind": "webhook", "base_url": webhook.url},
                    ],
                    "routes": [{"feeds": ["*"], "to": ["x:corporate", "webhook:intranet"]}],
                    "policy": {"blocked_keywords": ["strike"]},  # held: PostHeld, then approve or drop
                }
            )
        )
        env = stack_env(
            kafka_bootstrap,
            namespace,
            state_dir,
            HERALD_PUBLISHER_CONFIG=str(config),
            HERALD_FEED_BROKEN_AFTER_SECONDS="1",
            HERALD_FEED_MAX_BACKOFF_SECONDS="2",
        )
        stack = HeraldStack(env, tmp_path / "herald-up.log")
        topics = Topics(kafka_bootstrap, namespace)

        def herald(*args: str) -> None:
            result = stack.herald(*args)
            assert result.returncode == 0, f"herald {' '.join(args)}: {result.stdout}{result.stderr}"

        def happened(*types: str, timeout: float = 60) -> None:
            try:
                asyncio.run(wait_until(lambda: set(types) <= topics.types(), timeout=timeout, interval=0.5))
            except AssertionError:
                raise AssertionError(f"never happened: {sorted(set(types) - topics.types())}") from None

        try:
            stack.up()
            herald("feeds", "add", feeds.url(NEWS), "--interval", "5")
            herald("feeds", "add", feeds.url(BROKEN), "--interval", "5")
            asyncio.run(wait_until(lambda: feeds.requests[NEWS] >= 1, timeout=30))
            feeds.set_feed(NEWS, rss_xml([NEW_ITEM, *HELD, *OLD_ITEMS]))
            happened("herald.post.published.v1", "herald.post.failed.v1", "herald.post.held.v1")
            herald("posts", "approve", topics.item_id(HELD[0]["title"]))
            herald("posts", "drop", topics.item_id(HELD[1]["title"]))

            edited = {**NEW_ITEM, "title": NEW_ITEM["title"] + " (updated)"}
            feeds.set_feed(NEWS, rss_xml([edited, *HELD, *OLD_ITEMS]))
            happened("herald.feed.item.updated.v1", "herald.feed.status.changed.v1")
            herald("feeds", "remove", feeds.url(BROKEN))
            # At its new address the feed's title differs, so the fetch is a 200 and not a 304
            # (feed_ingest reports a move only from a feed it parsed).
            feeds.set_feed(MOVED, rss_xml([edited, *HELD, *OLD_ITEMS], title="Lowshire News"))
            feeds.set_redirect(NEWS, feeds.url(MOVED), 301)
            herald("feeds", "poll", feeds.url(NEWS))
            # A record the publisher cannot read: dead-lettered, and an error on herald.ops.errors.
            subprocess.run(
                [
                    "kcat",
                    "-P",
                    "-b",
                    kafka_bootstrap,
                    "-t",
                    f"{namespace}herald.publisher.commands",
                    "-k",
                    "x",
                ],
                input=b"not an event",
                check=True,
                timeout=30,
            )
            happened(*EXPECTED, timeout=90)
        finally:
            code = stack.down() if stack.process else None
            stack.kill()
        assert code == 0, stack.tail()

    # kcat: every record of every public topic is valid (checked as read), and every type is there.
    events = topics.events()
    assert {event["type"] for event in events} == set(EXPECTED)
    distinct = {(event["source"], event["id"]): event["type"] for event in events}

    # The documented consumer, as written, reads the same.
    monkeypatch.chdir(REPO_ROOT)
    documented: dict[str, Any] = {}
    exec(compile(consuming_md_code(), "docs/consuming.md", "exec"), documented)
    seen: dict[str, int] = {}

    class Enough(Exception):
        pass

    async def handle(key: str | None, event: dict[str, Any]) -> None:
        assert key == event["data"][DATA[event["type"]]["x-herald-key"]]
        seen[event["type"]] = seen.get(event["type"], 0) + 1
        if sum(seen.values()) == len(distinct):
            raise Enough

    names = [namespace + spec.name for spec in PUBLIC_TOPICS]
    with pytest.raises(Enough):
        asyncio.run(
            asyncio.wait_for(documented["consume"](kafka_bootstrap, names, f"{namespace}other", handle), 60)
        )
    assert set(seen) == set(EXPECTED)
    assert seen == {kind: list(distinct.values()).count(kind) for kind in EXPECTED}
