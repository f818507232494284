"""Runs Herald's four services as child processes for `herald up`: output prefixed by service,
readiness from each one's `/ready`, a crashed service restarted with backoff, and on Ctrl-C or
SIGTERM every child stopped (SIGTERM, then SIGKILL after a deadline) so nothing is left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from rich.console import Console
from rich.text import Text

from shared.topics import SERVICES

COLOURS = {"feed_ingest": "cyan", "publisher": "magenta", "notifier": "yellow", "directory": "green"}
STOP_DEADLINE_SECONDS = 15.0
MAX_RESTARTS = 5


@dataclass
class Child:
    service: str
    port: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    restarts: int = 0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Supervisor:
    def __init__(self, env: Mapping[str, str], ports: Mapping[str, int], console: Console) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.children = {service: Child(service, ports[service]) for service in SERVICES}
        self.console = console
        self.stopping = asyncio.Event()

    async def run(self, *, on_all_ready: object = None) -> int:
        """Start everything, supervise until asked to stop, then stop everything. Returns an exit code."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        exit_code = 0
        try:
            for child in self.children.values():
                await self._spawn(child)
            watchers = [asyncio.create_task(self._watch(child)) for child in self.children.values()]
            ready = asyncio.create_task(self._await_ready(on_all_ready))
            await self.stopping.wait()
            ready.cancel()
            for watcher in watchers:
                watcher.cancel()
            if any(child.restarts > MAX_RESTARTS for child in self.children.values()):
                exit_code = 1
        finally:
            await self._stop_all()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        return exit_code

    async def _spawn(self, child: Child) -> None:
        child.ready = False
        child.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{child.service}",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        child.pumps = [asyncio.create_task(self._pump(child, child.process))]

    async def _pump(self, child: Child, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        prefix = Text(f"{child.service:>11} │ ", style=COLOURS.get(child.service, "white"))
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.console.print(prefix + Text(line), highlight=False, soft_wrap=True)

    async def _watch(self, child: Child) -> None:
        """Restart a child that exits on its own, with backoff; give up after MAX_RESTARTS."""
        while not self.stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            child.restarts += 1
            if child.restarts > MAX_RESTARTS:
                self.console.print(f"[red]{child.service} keeps failing (exit {code}); stopping Herald[/]")
                self.stopping.set()
                return
            delay = min(2**child.restarts, 30)
            self.console.print(f"[red]{child.service} exited with {code}; restarting in {delay}s[/]")
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                await self._spawn(child)

    async def _await_ready(self, on_all_ready: object) -> None:
        async with httpx.AsyncClient(timeout=1.0) as client:
            while not all(child.ready for child in self.children.values()):
                for child in self.children.values():
                    if child.ready:
                        continue
                    try:
                        response = await client.get(f"http://127.0.0.1:{child.port}/ready")
                        child.ready = response.status_code == 200
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.25)
        if callable(on_all_ready):
            on_all_ready()

    async def _stop_all(self) -> None:
        running = [c for c in self.children.values() if c.process and c.process.returncode is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        for child in running:
            assert child.process is not None
            try:
                await asyncio.wait_for(child.process.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self.console.print(f"[yellow]{child.service} did not stop in time; killing it[/]")
                os.killpg(child.process.pid, signal.SIGKILL)
                await child.process.wait()
        for child in self.children.values():
            for pump in child.pumps:
                try:
                    await asyncio.wait_for(pump, timeout=2)
                except (TimeoutError, asyncio.CancelledError):
                    pump.cancel()
