"""The real directory and the real notifier against the real broker: `examples/staff.yaml` imported
and an account added, heard by an outside webhook target and an internal one. Each person's welcome
names them (the notifier's view of `herald.directory.staff`); a private account's handle and every
e-mail reach only the internal target; after an erase nobody is named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald.staff_file import plan_import, read_staff_file
from shared.events import PostPublished, StaffCommand
from shared.producer import EventProducer
from shared.topics import DIRECTORY_COMMANDS, POSTS
from tests.fakes.smtp import FakeSMTP
from tests.fakes.webhook import FakeWebhook
from tests.integration.test_notifier import published, start_service, targets_file
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PIP_WELCOME = "Welcome: Pip Tucker (Head of Strategic Intelligence) joined the directory with"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@staff\.devon\.example")


def bodies(receiver: FakeWebhook, path: str) -> list[dict[str, Any]]:
    return [r.body for r in list(receiver.requests) if r.path == path]


def headline_about(receiver: FakeWebhook, path: str, words: str) -> list[str]:
    return [b["headline"] for b in bodies(receiver, path) if words in b["headline"]]


async def test_directory_changes_reach_the_forum_named_and_privately(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    with FakeWebhook(any_path=True) as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        env = {"TEST_OUTSIDE_URL": f"{base}/outside", "TEST_INSIDE_URL": f"{base}/inside"}
        targets = [
            {"name": "outside", "kind": "webhook", "url": {"env": "TEST_OUTSIDE_URL"}},
            {"name": "inside", "kind": "webhook", "internal": True, "url": {"env": "TEST_INSIDE_URL"}},
        ]
        env.update(targets_file(tmp_path / "notifier.yaml", targets))
        directory = start_service("directory", kafka_bootstrap, herald_topics, state_dir / "d", tmp_path)
        notifier = start_service("notifier", kafka_bootstrap, herald_topics, state_dir / "n", tmp_path, **env)
        try:
            commands = plan_import(
                read_staff_file(REPO / "examples" / "staff.yaml"), [], requested_by="import"
            )
            pip = next(c.staff_id for c in commands if c.name == "Pip Tucker")
            async with EventProducer(
                kafka_bootstrap, source="/herald/tests", namespace=herald_topics
            ) as producer:
                for command in commands:
                    await producer.send(DIRECTORY_COMMANDS, command.staff_id, command)
                await wait_until(
                    lambda: all(len(bodies(receiver, p)) >= len(commands) for p in ("/inside", "/outside")),
                    timeout=45,
                )
                added = StaffCommand(
                    request_id="add-1",
                    action="add_account",
                    staff_id=pip,
                    platform="mastodon",
                    handle="@pip@social.example",
                    visibility="private",
                )
                await producer.send(DIRECTORY_COMMANDS, pip, added)
                await wait_until(lambda: headline_about(receiver, "/outside", "added"), timeout=20)
                erase = StaffCommand(request_id="erase-1", action="erase", staff_id=pip)
                await producer.send(DIRECTORY_COMMANDS, pip, erase)
                await wait_until(lambda: headline_about(receiver, "/inside", "erased"), timeout=20)

            inside, outside = bodies(receiver, "/inside"), bodies(receiver, "/outside")
            welcomes = [b for b in outside if b["headline"].startswith("Welcome: ")]
            assert len(welcomes) == len(commands)  # one each, none worded without the record
            assert headline_about(receiver, "/outside", "Sue Tylcoat") == [
                "Welcome: Sue Tylcoat (Solutions Development Manager) joined the directory with X @suety"
            ]
            assert headline_about(receiver, "/outside", "Pip Tucker (") == [
                f"{PIP_WELCOME} a private X account"
            ]
            assert headline_about(receiver, "/inside", "Pip Tucker (") == [
                f"{PIP_WELCOME} X @piptucker (private)"
            ]
            assert headline_about(receiver, "/outside", "added") == [
                "Directory: Pip Tucker added a private Mastodon account"
            ]
            assert headline_about(receiver, "/inside", "added") == [
                "Directory: Pip Tucker added Mastodon @pip@social.example (private)"
            ]
            for body in outside:
                text = body["headline"] + body["text"]
                assert "piptucker" not in text and "rcarter" not in text and "pip@social" not in text
                assert not EMAIL.search(text), text
            assert any("pip.tucker@staff.devon.example" in b["text"] for b in inside)
            [erased_inside] = [b for b in inside if "erased" in b["headline"]]
            assert "Pip" not in erased_inside["headline"] + erased_inside["text"]
        finally:
            notifier.stop()
            directory.stop()


async def test_an_email_to_the_forum_members_reaches_the_directorys_members(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    """`to: forum_members`: the seed staff list imported with three of them marked forum members
    (one with a private account); a published post's e-mail goes to exactly those three, over a
    real aiosmtpd server, the To header naming the group and no address."""
    seed = yaml.safe_load((REPO / "examples" / "staff.yaml").read_text())
    members = {"Sue Tylcoat", "Pip Tucker", "Katie Bacon"}
    for row in seed["accounts"]:
        row["forum_member"] = row["name"] in members
    staff_file = tmp_path / "staff.yaml"
    staff_file.write_text(yaml.safe_dump(seed))
    with FakeSMTP() as smtp, FakeWebhook(any_path=True) as receiver:
        env = {"TEST_INSIDE_URL": f"http://127.0.0.1:{receiver.port}/inside"}
        targets = [
            {
                "name": "forum",
                "kind": "email",
                "internal": True,
                "host": "127.0.0.1",
                "port": smtp.port,
                "from": "herald@council.example",
                "to": "forum_members",
                "wants": {"kinds": [PostPublished.event_type]},
            },
            {"name": "inside", "kind": "webhook", "internal": True, "url": {"env": "TEST_INSIDE_URL"}},
        ]
        env.update(targets_file(tmp_path / "notifier.yaml", targets))
        directory = start_service("directory", kafka_bootstrap, herald_topics, state_dir / "d", tmp_path)
        notifier = start_service("notifier", kafka_bootstrap, herald_topics, state_dir / "n", tmp_path, **env)
        try:
            commands = plan_import(read_staff_file(staff_file), [], requested_by="import")
            async with EventProducer(
                kafka_bootstrap, source="/herald/tests", namespace=herald_topics
            ) as producer:
                for command in commands:
                    await producer.send(DIRECTORY_COMMANDS, command.staff_id, command)
                # the notifier has every record once it has worded every welcome from it
                await wait_until(
                    lambda: len(headline_about(receiver, "/inside", "Welcome: ")) >= len(commands), timeout=45
                )
                await producer.send(POSTS, "item-roads", published())
                await wait_until(lambda: smtp.messages, timeout=30)
            [envelope] = smtp.envelopes
            assert sorted(envelope.rcpt_tos) == [
                "katie.bacon@staff.devon.example",
                "pip.tucker@staff.devon.example",
                "sue.tylcoat@staff.devon.example",
            ]
            [message] = smtp.messages
            assert str(message["To"]) == "Social Media Forum members:;"
            assert message["Subject"] == "Posted to X (corporate): Road closures this week"
        finally:
            notifier.stop()
            directory.stop()
