"""`herald ops tail`: a live view of the ops topics (heartbeats and errors) for a person."""

from __future__ import annotations

import asyncio
import time
import uuid

import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from herald import context
from herald.commands import dlq
from shared.envelope import EventDecodeError, decode
from shared.events import ServiceError, ServiceHeartbeat
from shared.topics import OPS_ERRORS, OPS_HEARTBEAT

app = typer.Typer(help="Operations: what the services say about themselves.", no_args_is_help=True)
app.add_typer(dlq.app, name="dlq")
console = Console()


@app.command()
def tail(
    seconds: float = typer.Option(0, "--seconds", min=0, help="Stop after this long (0: until Ctrl-C)."),
) -> None:
    """Live table of every worker's last heartbeat, with errors printed as they come."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)

    async def follow() -> None:
        consumer = AIOKafkaConsumer(
            config.topic_namespace + OPS_HEARTBEAT.name,
            config.topic_namespace + OPS_ERRORS.name,
            bootstrap_servers=bootstrap,
            group_id=f"herald-ops-tail-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await context.start_consumer(consumer, bootstrap)
        workers: dict[str, ServiceHeartbeat] = {}
        accepted = {**OPS_HEARTBEAT.accepts, **OPS_ERRORS.accepts}
        deadline = time.monotonic() + seconds if seconds else None
        try:
            with Live(_table(workers), console=console, refresh_per_second=2) as live:
                while deadline is None or time.monotonic() < deadline:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        for record in records:
                            try:
                                _, payload = decode(record.value, accepted)
                            except EventDecodeError:
                                continue
                            if isinstance(payload, ServiceHeartbeat):
                                workers[payload.subject()] = payload
                            elif isinstance(payload, ServiceError):
                                live.console.print(_error_line(payload))
                    live.update(_table(workers))
        finally:
            await consumer.stop()

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        pass


def _error_line(error: ServiceError) -> str:
    return f"[red]{error.occurred_at:%H:%M:%S} {error.service} {error.kind}[/] {error.message}"


def _table(workers: dict[str, ServiceHeartbeat]) -> Table:
    table = Table("service", "instance", "status", "up", "last beat", "detail", title="Herald workers")
    for beat in sorted(workers.values(), key=lambda b: (b.service, b.instance)):
        table.add_row(
            beat.service,
            beat.instance,
            beat.status,
            f"{beat.uptime_seconds:.0f}s",
            f"{beat.started_at:%H:%M:%S}",
            ", ".join(f"{k}={v}" for k, v in beat.detail.items()),
        )
    return table
