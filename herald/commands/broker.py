"""`herald broker start|stop|status`: the local single-node Kafka broker."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.console import Console

from herald import context
from herald.errors import UserError

app = typer.Typer(help="The local Kafka broker (KRaft, one node, from Maven jars).", no_args_is_help=True)
console = Console()


@app.command()
def start(timeout: float = typer.Option(120.0, min=1, help="Seconds to wait for the broker.")) -> None:
    """Start the broker (fetching the jars on first use) and create Herald's topics."""
    config = context.settings()
    if config.kafka_bootstrap_servers:
        raise UserError(
            f"HERALD_KAFKA_BOOTSTRAP_SERVERS is set ({config.kafka_bootstrap_servers}): no local broker"
        )
    started = time.monotonic()
    bootstrap = context.local_broker(config).start(timeout=timeout)
    created = asyncio.run(context.prepare_topics(bootstrap, config))
    console.print(f"[green]Kafka broker answering at {bootstrap}[/] ({time.monotonic() - started:.1f}s)")
    if created:
        console.print(f"created {len(created)} topics")


@app.command()
def stop() -> None:
    """Stop the local broker cleanly."""
    config = context.settings()
    stopped = context.local_broker(config).stop()
    console.print("broker stopped" if stopped else "no local broker was running")


@app.command()
def status() -> None:
    """Say whether the local broker runs, where, and where its log is."""
    config = context.settings()
    if config.kafka_bootstrap_servers:
        console.print(f"external broker: {config.kafka_bootstrap_servers} (HERALD_KAFKA_BOOTSTRAP_SERVERS)")
        return
    state = context.local_broker(config).status()
    if state.running:
        console.print(f"[green]running[/] pid {state.pid} at {state.bootstrap}; log {state.log_path}")
    else:
        console.print(f"[yellow]not running[/] (state in {state.state_dir})")
        raise typer.Exit(1)
