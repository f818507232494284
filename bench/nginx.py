"""Debian's nginx on loopback, serving a directory of static files, for the benchmarks.

Static files get `ETag` and `Last-Modified` from nginx for free, and it answers a matching
`If-None-Match`/`If-Modified-Since` with 304: the "unchanged" pass needs nothing else. The config,
pid file, logs and temp paths all live in a temp dir; nothing under /etc or /var is touched.

Importable helper; run alone (`python bench/nginx.py DIR`) it serves DIR until Ctrl-C.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

CONFIG = """\
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    open_file_cache max=4096 inactive=60s;
    server {{
{listens}
        root {root};
        etag on;
        if_modified_since exact;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if Path(path).exists()), None
    )


class Nginx:
    """`with Nginx(root) as server: server.base_url` — stopped (and its temp dir removed) on exit."""

    def __init__(self, root: Path, *, port: int | None = None, workers: int = 1, hosts: int = 1) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx not found: install Debian's package (apt-get install -y nginx)")
        self.binary = binary
        self.root = root.resolve()
        self.port = port or free_port()
        self.workers = workers
        #: Loopback addresses served (127.0.0.1 … 127.0.0.N, all loopback on Linux): a client's
        #: per-host connection limit then applies per address, as it would across council hosts.
        self.hosts = tuple(f"127.0.0.{index}" for index in range(1, hosts + 1))
        self.prefix = Path(tempfile.mkdtemp(prefix="herald-bench-nginx-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_urls(self) -> list[str]:
        return [f"http://{host}:{self.port}" for host in self.hosts]

    def start(self, timeout: float = 10.0) -> None:
        # As root, nginx's workers run as `nobody`: they must be able to read the web root.
        user = "user root;" if _is_root() else ""
        config = self.prefix / "nginx.conf"
        config.write_text(
            CONFIG.format(
                workers=self.workers,
                prefix=self.prefix,
                user=user,
                listens="\n".join(f"        listen {host}:{self.port};" for host in self.hosts),
                root=self.root,
            )
        )
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(config), "-e", str(self.prefix / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise RuntimeError(f"nginx exited at start ({self.process.returncode}): {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(3)  # SIGQUIT: graceful shutdown, workers included
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python bench/nginx.py DIR  (serves DIR on a free loopback port until Ctrl-C)")
    else:
        with Nginx(Path(sys.argv[1])) as server:
            print(f"serving {server.root} at {server.base_url} (Ctrl-C stops)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
