"""Herald services as real subprocesses in tests, each with its own environment and ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def feed_ingest_env(
    bootstrap: str, namespace: str, state_dir: Path, port: int, **extra: str
) -> dict[str, str]:
    """A feed_ingest worker for tests: loopback feeds allowed, quick ticks and timeouts."""
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_FEED_INGEST_PORT": str(port),
        "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
        "HERALD_POLL_TICK_SECONDS": "0.2",
        "HERALD_HTTP_TIMEOUT_SECONDS": "5",
        **extra,
    }


def run_herald(*args: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `herald` command line (`python -m herald ARGS`) with `env` over this process's."""
    return subprocess.run(
        [sys.executable, "-m", "herald", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_service(
    service: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m services.<service>` to its end with `env` over this process's (a start-up that
    must fail, and how)."""
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServiceProcess:
    """`python -m services.<name>`; `start()` waits for `/ready` to say ready; `stop()` reaps it."""

    def __init__(self, service: str, env: Mapping[str, str], port: int, log_dir: Path) -> None:
        self.service = service
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.port = port
        self.log_path = log_dir / f"{service}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.service}"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.service} not ready within {timeout}s:\n{self.tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
