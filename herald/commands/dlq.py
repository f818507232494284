"""`herald ops dlq list|replay`: what the services could not process, and sending it back after a fix.

`list` reads the dead-letter topics (`herald.dlq.<service>`) from their beginning; `replay` puts the
chosen records back, unchanged, on the topic each came from (`shared.dead_letters`). A replay is
safe to repeat: the services handle a replayed event as any redelivery, and what they had already
handled stays as it was.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.topic_reader import read_to_end
from shared.dead_letters import DeadLetter, ReplayRefused, check_origin, choose, summarise
from shared.topics import ALL_TOPICS, SERVICES, dead_letter

app = typer.Typer(help="Dead letters: list them, replay them after a fix.", no_args_is_help=True)
console = Console()


def _service(name: str) -> str:
    if name not in SERVICES:
        raise typer.BadParameter(f"{name!r} is no Herald service; one of {', '.join(SERVICES)}")
    return name


async def dead_letters(bootstrap: str, namespace: str, service: str) -> list[DeadLetter]:
    return [
        DeadLetter.from_record(record)
        async for record in read_to_end(bootstrap, dead_letter(service), namespace=namespace)
    ]


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command("list")
def list_dead_letters(
    service: str | None = typer.Argument(None, callback=lambda v: v and _service(v), help="One service."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per dead letter, per line."),
) -> None:
    """Each service's dead letters (id, age, event type, origin, reason), then counts by kind."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    services = [service] if service else list(SERVICES)
    now = datetime.now(UTC)
    found = {name: asyncio.run(dead_letters(bootstrap, config.topic_namespace, name)) for name in services}
    if as_json:
        for name, letters in found.items():
            for letter in letters:
                row = {
                    "service": name,
                    "id": letter.id,
                    "event_type": letter.event_type,
                    "event_id": letter.event_id,
                    "origin": letter.origin_topic,
                    "reason": letter.reason,
                    "dead_lettered_at": letter.timestamp.isoformat(),
                    "age_seconds": int(letter.age(now).total_seconds()),
                }
                print(json.dumps(row, ensure_ascii=False))
        return
    for name, letters in found.items():
        title = f"{name}: {len(letters)} dead letters"
        table = Table("id", "age", "event type", "from", "reason", title=title)
        table.columns[4].overflow = "fold"
        for letter in letters:
            table.add_row(
                letter.id, _age(letter.age(now)), letter.event_type, letter.origin_topic or "?", letter.reason
            )
        if letters:
            console.print(table)
            counts = Table("count", "event type", "reason", "oldest", "newest", title=f"{name} by kind")
            for group in summarise(letters):
                counts.add_row(
                    str(group.count),
                    group.event_type,
                    group.reason_kind,
                    _age(now - group.oldest),
                    _age(now - group.newest),
                )
            console.print(counts)
        else:
            console.print(f"{name}: no dead letters")


@app.command()
def replay(
    service: str = typer.Argument(..., callback=_service, help="The service whose dead letters to replay."),
    ids: list[str] = typer.Option([], "--id", help="A dead letter's id from `list` (repeatable)."),
    everything: bool = typer.Option(False, "--all", help="Replay every dead letter of the service."),
) -> None:
    """Put dead letters back on the topic they came from, unchanged, for the service to handle again."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    namespace = config.topic_namespace
    letters = asyncio.run(dead_letters(bootstrap, namespace, service))
    readable = {namespace + spec.name for spec in ALL_TOPICS if service in spec.consumers}
    try:
        chosen = choose(letters, ids, everything=everything)
        origins = [check_origin(letter, readable) for letter in chosen]
    except ReplayRefused as exc:
        raise UserError(str(exc)) from None
    asyncio.run(_send_back(bootstrap, namespace + dead_letter(service).name, chosen, origins))
    console.print(f"replayed {len(chosen)} dead letters of {service}", soft_wrap=True)


async def _send_back(bootstrap: str, dlq_topic: str, letters: list[DeadLetter], origins: list[str]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=15000
    )
    try:
        await producer.start()
        for letter, origin in zip(letters, origins, strict=True):
            await producer.send_and_wait(
                origin,
                letter.value,
                key=letter.key,
                partition=letter.origin_partition,
                headers=letter.replay_headers(dlq_topic),
            )
    except KafkaError as exc:
        raise UserError(f"Kafka did not take the replay: {exc}") from None
    finally:
        await producer.stop()
