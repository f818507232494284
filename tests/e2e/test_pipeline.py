"""The whole of Herald as a person runs it: `herald up`, `herald feeds add`, `herald staff add`,
with real protocol servers on loopback for the outside world (a council feed over HTTP, the X API
over TLS with OAuth 1.0a, an SMTP server for the forum)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.topics import POSTS
from tests.e2e.stack import HeraldStack
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.fakes.smtp import FakeSMTP
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.support.kafka import collect_events, wait_until

pytestmark = pytest.mark.e2e

FEED_PATH = "/news/feed.rss"
OLD_ITEMS = [
    {
        "title": "Library opening hours over the holidays",
        "link": "https://www.lowshire.example/news/1",
        "guid": "news-1",
        "pubDate": "Mon, 23 Nov 2026 09:00:00 GMT",
    },
    {
        "title": "Consultation on bus routes",
        "link": "https://www.lowshire.example/news/2",
        "guid": "news-2",
        "pubDate": "Tue, 24 Nov 2026 09:00:00 GMT",
    },
]
NEW_ITEM = {
    "title": "Gritters out tonight as temperatures fall",
    "link": "https://www.lowshire.example/news/3",
    "guid": "news-3",
    "pubDate": "Wed, 25 Nov 2026 17:00:00 GMT",
}
LATER_ITEM = {
    "title": "Flood warning for the river valley",
    "link": "https://www.lowshire.example/news/4",
    "guid": "news-4",
    "pubDate": "Wed, 25 Nov 2026 18:00:00 GMT",
}
ADMIN_TOKEN = "e2e-admin-token"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.set_feed(FEED_PATH, rss_xml(OLD_ITEMS))
        yield server


def stack_env(kafka_bootstrap: str, namespace: str, state_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
        "HERALD_POLL_TICK_SECONDS": "0.2",
        "HERALD_ADMIN_TOKEN": ADMIN_TOKEN,
        "HERALD_HEARTBEAT_INTERVAL_SECONDS": "2",
        **extra,
    }


def test_a_new_feed_item_becomes_one_post_one_forum_alert_and_staff_changes_show(
    kafka_bootstrap: str, namespace: str, state_dir: Path, tmp_path: Path, feed_server: FeedServer
) -> None:
    with FakeXApi(tmp_path) as x_api, FakeSMTP() as smtp:
        stack = HeraldStack(
            stack_env(
                kafka_bootstrap,
                namespace,
                state_dir,
                HERALD_X_API_BASE_URL=x_api.base_url,
                HERALD_X_CA_BUNDLE=str(x_api.ca_path),
                HERALD_SMTP_HOST="127.0.0.1",
                HERALD_SMTP_PORT=str(smtp.port),
                HERALD_FORUM_EMAIL_TO="forum@lowshire.example",
                **CREDENTIALS,
            ),
            tmp_path / "herald-up.log",
        )
        try:
            stack.up()
            added = stack.herald("feeds", "add", feed_server.url(FEED_PATH), "--interval", "5")
            assert added.returncode == 0, added.stderr
            listed = stack.herald("feeds", "list", "--json")
            assert feed_server.url(FEED_PATH) in listed.stdout

            # The first poll sees the back catalogue and posts none of it.
            asyncio.run(wait_until(lambda: feed_server.requests[FEED_PATH] >= 1, timeout=30))
            feed_server.set_feed(FEED_PATH, rss_xml([NEW_ITEM, *OLD_ITEMS]))

            asyncio.run(wait_until(lambda: len(x_api.posts) >= 1, timeout=60))
            assert x_api.texts() == [f"{NEW_ITEM['title']} {NEW_ITEM['link']}"]
            published = asyncio.run(collect_events(kafka_bootstrap, POSTS, namespace=namespace, count=1))
            assert published[0].type == "herald.post.published.v1"
            assert published[0].data["dry_run"] is False

            asyncio.run(wait_until(lambda: any(NEW_ITEM["title"] in s for s in smtp.subjects()), timeout=60))

            staff = stack.herald(
                "staff",
                "add",
                "--name",
                "Katie Bacon",
                "--handle",
                "@katie_bacon",
                "--role",
                "Youth Participation",
            )
            assert staff.returncode == 0 and "added" in staff.stdout, staff.stdout + staff.stderr
            private = stack.herald(
                "staff", "add", "--name", "Pip Tucker", "--handle", "piptucker", "--private"
            )
            assert "added" in private.stdout, private.stdout + private.stderr
            directory = f"http://127.0.0.1:{stack.ports['directory']}/staff"

            def handles(headers: dict[str, str] | None = None) -> set[str]:
                response = httpx.get(directory, headers=headers or {}, timeout=5)
                if response.status_code != 200:
                    return set()
                return {account["handle"] for person in response.json() for account in person["accounts"]}

            asyncio.run(wait_until(lambda: "katie_bacon" in handles(), timeout=30))
            assert "piptucker" not in handles()
            assert {"katie_bacon", "piptucker"} <= handles({"Authorization": f"Bearer {ADMIN_TOKEN}"})

            # Nothing more is posted while the feed stays the same.
            polls = feed_server.requests[FEED_PATH]
            asyncio.run(wait_until(lambda: feed_server.requests[FEED_PATH] >= polls + 2, timeout=30))
            assert len(x_api.posts) == 1
        finally:
            code = stack.down() if stack.process else None
            stack.kill()
        assert code == 0, stack.tail()


def test_dry_run_outbox_gets_each_item_once_across_restarts(
    kafka_bootstrap: str, namespace: str, state_dir: Path, tmp_path: Path, feed_server: FeedServer
) -> None:
    env = stack_env(kafka_bootstrap, namespace, state_dir)
    outbox = state_dir / "outbox" / "x.jsonl"

    def outbox_titles() -> list[str]:
        if not outbox.exists():
            return []
        return [json.loads(line)["title"] for line in outbox.read_text().splitlines() if line.strip()]

    first = HeraldStack(env, tmp_path / "up-1.log")
    try:
        first.up()
        assert first.herald("feeds", "add", feed_server.url(FEED_PATH), "--interval", "5").returncode == 0
        asyncio.run(wait_until(lambda: feed_server.requests[FEED_PATH] >= 1, timeout=30))
        feed_server.set_feed(FEED_PATH, rss_xml([NEW_ITEM, *OLD_ITEMS]))
        asyncio.run(wait_until(lambda: outbox_titles() == [NEW_ITEM["title"]], timeout=60))
    finally:
        assert first.down() == 0, first.tail()

    second = HeraldStack(env, tmp_path / "up-2.log")
    try:
        second.up()
        # After the restart the feed is polled again and a later item goes out: the first one is not repeated.
        feed_server.set_feed(FEED_PATH, rss_xml([LATER_ITEM, NEW_ITEM, *OLD_ITEMS]))
        asyncio.run(wait_until(lambda: LATER_ITEM["title"] in outbox_titles(), timeout=60))
        assert outbox_titles() == [NEW_ITEM["title"], LATER_ITEM["title"]]
    finally:
        assert second.down() == 0, second.tail()
