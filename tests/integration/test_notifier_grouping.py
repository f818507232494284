"""An item posted to three channels is one forum message per target, naming each channel's post:
the notifier as a real subprocess against the real broker, a real loopback Slack receiver and a real
SMTP server. A redelivered event adds nothing, and a channel that publishes after the message went
gets a message of its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.producer import EventProducer
from shared.topics import POSTS
from tests.fakes.smtp import FakeSMTP
from tests.fakes.webhook import FakeWebhook
from tests.integration.test_notifier import NOW, mail_target, published, start_service, targets_file
from tests.support.kafka import raw_records, send_again, wait_until

pytestmark = pytest.mark.integration

CHANNELS = {
    "x": "https://x.com/devoncc/status/1790001",
    "mastodon": "https://social.devon.example/@devoncc/112",
    "bluesky": "https://bsky.app/profile/devon.gov.uk/post/3kq",
}


async def test_one_message_per_item_with_every_channels_link_and_a_late_channel_alone(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    with FakeSMTP() as smtp, FakeWebhook(any_path=True) as receiver:
        env = {"TEST_SLACK_URL": f"http://127.0.0.1:{receiver.port}/slack"}
        mail = mail_target(smtp)
        slack = {"name": "slack", "kind": "slack", "url": {"env": "TEST_SLACK_URL"}}
        env |= targets_file(tmp_path / "notifier.yaml", [mail, slack], group_published=3)
        notifier = start_service("notifier", kafka_bootstrap, herald_topics, state_dir, tmp_path, **env)
        try:
            async with EventProducer(
                kafka_bootstrap, source="/herald/tests", namespace=herald_topics
            ) as producer:
                for offset, (channel, url) in enumerate(CHANNELS.items()):
                    post = published().model_copy(
                        update={
                            "channel": channel,
                            "post_url": url,
                            "text": f"Road closures this week ({channel})",
                            "published_at": NOW + timedelta(seconds=offset),
                        }
                    )
                    await producer.send(POSTS, "item-roads", post)
            # The first post's record once more, as a redelivery after a rebalance would bring it.
            first, *_ = await raw_records(kafka_bootstrap, herald_topics + POSTS.name, count=3)
            await send_again(kafka_bootstrap, herald_topics + POSTS.name, first)

            await wait_until(lambda: receiver.requests and smtp.messages, timeout=60)
            [message] = smtp.messages
            channels = "X (corporate), Mastodon (corporate) and Bluesky (corporate)"
            assert message["Subject"] == f"Posted to {channels}: Road closures this week"
            plain = message.get_body(("plain",)).get_content()
            assert all(plain.count(url) == 1 for url in CHANNELS.values())
            [request] = receiver.requests
            blocks = str(request.body["blocks"])
            assert all(url in blocks for url in CHANNELS.values())

            async with EventProducer(
                kafka_bootstrap, source="/herald/tests", namespace=herald_topics
            ) as producer:
                late = published().model_copy(
                    update={"channel": "facebook", "post_url": "https://facebook.com/devoncc/posts/9"}
                )
                await producer.send(POSTS, "item-roads", late)
            await wait_until(lambda: len(receiver.requests) >= 2 and len(smtp.messages) >= 2, timeout=60)
            assert smtp.messages[1]["Subject"] == "Posted to facebook (corporate): Road closures this week"
            assert "https://facebook.com/devoncc/posts/9" in str(receiver.requests[1].body["blocks"])
            assert "x.com" not in str(receiver.requests[1].body["blocks"])

            # Nothing else arrives: a marker alert behind everything is the next and last.
            async with EventProducer(
                kafka_bootstrap, source="/herald/tests", namespace=herald_topics
            ) as producer:
                await producer.send(POSTS, "item-marker", published(item="item-marker"))
            await wait_until(lambda: len(receiver.requests) >= 3 and len(smtp.messages) >= 3, timeout=60)
            assert len(receiver.requests) == 3 and len(smtp.messages) == 3
            assert "item-marker" in smtp.messages[2].get_body(("plain",)).get_content()
        finally:
            notifier.stop()
