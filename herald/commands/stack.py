"""`herald up` (the whole local stack in one foreground command) and `herald run SERVICE`."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from enum import StrEnum

import typer
from rich.console import Console
from rich.panel import Panel

from herald import context
from herald.supervisor import Supervisor
from shared.topics import SERVICES

console = Console()


class Service(StrEnum):
    feed_ingest = "feed_ingest"
    publisher = "publisher"
    notifier = "notifier"
    directory = "directory"


def up() -> None:
    """Start the local broker and all four services; Ctrl-C stops everything."""
    config = context.settings()
    started = time.monotonic()
    bootstrap, started_broker = context.bootstrap(config, start=True)
    console.print(f"[bold]Kafka[/] at {bootstrap}" + (" (started)" if started_broker else ""))
    asyncio.run(context.prepare_topics(bootstrap, config))
    ports = {service: config.service_port(service) for service in SERVICES}
    outbox = config.outbox_dir / "x.jsonl"
    mode = "X API" if config.publisher.x_credentials_set else f"dry-run outbox {outbox}"

    def all_ready() -> None:
        lines = [
            f"Herald is up in {time.monotonic() - started:.1f}s — broker {bootstrap}",
            *(f"  {service:<12} http://127.0.0.1:{port}/health" for service, port in ports.items()),
            f"  posts go to: {mode}",
            f"  staff directory: http://127.0.0.1:{ports['directory']}/staff",
            "Next: `herald feeds add URL`, `herald staff import FILE`, `herald ops tail`. Ctrl-C stops.",
        ]
        console.print(Panel("\n".join(lines), title="ready", border_style="green"))

    supervisor = Supervisor({"HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap}, ports, console)
    try:
        code = asyncio.run(supervisor.run(on_all_ready=all_ready))
    finally:
        if started_broker:
            context.local_broker(config).stop()
            console.print("broker stopped")
    console.print("Herald stopped")
    raise typer.Exit(code)


def run(service: Service = typer.Argument(..., help="Which service to run.")) -> None:
    """Run one service in the foreground (for compose/k8s, or to debug one piece)."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=True)
    env = {**os.environ, "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    sys.stdout.flush()
    os.execvpe(sys.executable, [sys.executable, "-m", f"services.{service.value}"], env)
