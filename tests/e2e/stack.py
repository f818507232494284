"""`herald up` as a subprocess, the way a person runs it: readiness from every service's /ready,
Ctrl-C (SIGINT) to stop, and a check that no process is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from shared.topics import SERVICES
from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    """Direct children of a process, from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class HeraldStack:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.ports = {service: free_port() for service in SERVICES}
        self.env = {
            **os.environ,
            **{f"HERALD_{service.upper()}_PORT": str(port) for service, port in self.ports.items()},
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.child_pids: list[int] = []

    def herald(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a `herald` command against this stack's settings."""
        return subprocess.run(
            [sys.executable, "-m", "herald", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self, timeout: float = 120) -> HeraldStack:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "herald", "up"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        waiting = set(SERVICES)
        while waiting and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"herald up exited with {self.process.returncode}:\n{self.tail()}")
            for service in list(waiting):
                try:
                    response = httpx.get(f"http://127.0.0.1:{self.ports[service]}/ready", timeout=1)
                    if response.status_code == 200:
                        waiting.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.25)
        if waiting:
            raise RuntimeError(f"not ready within {timeout}s: {sorted(waiting)}\n{self.tail()}")
        self.child_pids = children_of(self.process.pid)
        return self

    def down(self, timeout: float = 60) -> int:
        """Ctrl-C, as a person would; returns the exit code after checking nothing is left."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"herald up did not stop within {timeout}s:\n{self.tail()}") from None
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in self.child_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in self.child_pids if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"processes left behind after Ctrl-C: {left}"
        return code

    def kill(self) -> None:
        """Last-resort cleanup for a failed test."""
        if self.process and self.process.poll() is None:
            self.process.kill()
        for pid in self.child_pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
