"""Herald's own local Apache Kafka broker (KRaft, single node) run from Maven jars.

Why: developers and integration tests need a real broker without Docker or a
downloaded Kafka distribution. Maven resolves the broker jars once into a cache
outside the repo; each state directory then holds one formatted single-node
cluster (combined broker + controller) that survives restarts.

Nothing here touches the network or spawns processes at import time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from herald.errors import UserError, one_line

__all__ = ["BrokerError", "BrokerStatus", "LocalBroker"]

_DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kafka"
_HOST = "127.0.0.1"
_NODE_ID = 1
_JARS_MARKER = ".herald-complete"
_LOG_TAIL_LINES = 5
_STACK_FRAME = re.compile(r"^(at |\.\.\. \d+ more)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BrokerError(UserError):
    """A failure of the local broker, shown to the user as one line (never with a stack trace)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass(frozen=True)
class BrokerStatus:
    """Snapshot of the local broker belonging to one state directory."""

    running: bool
    pid: int | None
    bootstrap: str | None
    state_dir: Path
    log_path: Path


class LocalBroker:
    """A single-node KRaft Kafka broker whose state lives in ``state_dir/broker``."""

    def __init__(
        self,
        state_dir: Path,
        cache_dir: Path,
        port: int | None = None,
        kafka_version: str = "4.1.1",
    ) -> None:
        # Absolute: the JVM runs with cwd=state_dir/broker, and the pid check matches paths.
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.cache_dir = Path(cache_dir).expanduser().resolve()
        self.port = port
        self.kafka_version = kafka_version
        self.home = self.state_dir / "broker"
        self.data_dir = self.home / "data"
        self.config_path = self.home / "server.properties"
        self.log_path = self.home / "broker.log"
        self.pid_path = self.home / "broker.pid"
        self.port_path = self.home / "ports.json"
        self.cluster_id_path = self.home / "cluster.id"
        self.libs_dir = self.cache_dir / f"kafka-{kafka_version}" / "libs"
        # Kept so a broker we spawned can be reaped (no zombie, no ResourceWarning).
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ jars

    def ensure_jars(self) -> Path:
        """Return the cached libs dir, resolving the jars with Maven if incomplete.

        Jars are copied into a private temp dir and renamed into place only after
        Maven succeeded, so an interrupted or concurrent copy never leaves a
        half-filled libs dir that looks complete.
        """
        if (self.libs_dir / _JARS_MARKER).is_file():
            return self.libs_dir
        self._require_tools("java", "mvn")
        pom = _DEPLOY_DIR / "pom.xml"
        if not pom.is_file():
            raise BrokerError(f"Kafka Maven project not found at {pom}.")
        parent = self.libs_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f"libs.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
            f"-Dkafka.version={self.kafka_version}",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise BrokerError(f"Could not run Maven: {exc}.") from None
        if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            detail = _last_maven_error(proc.stdout + "\n" + proc.stderr)
            raise BrokerError(
                f"Could not resolve the Kafka {self.kafka_version} jars with Maven "
                f"(is Maven Central reachable?): {detail}"
            )
        (tmp / _JARS_MARKER).write_text(self.kafka_version + "\n")
        if (self.libs_dir / _JARS_MARKER).is_file():  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            os.replace(tmp, self.libs_dir)
        return self.libs_dir

    # ------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 60) -> str:
        """Start the broker (or find the running one) and return its bootstrap.

        Idempotent: a broker already running from this state dir is reused, so
        callers can simply call ``start()`` before every use.
        """
        deadline = time.monotonic() + timeout
        pid = self._running_pid()
        if pid is not None:
            ports = self._read_ports()
            if ports is None:
                raise BrokerError(
                    f"Broker (pid {pid}) is running but {self.port_path} is missing; stop it first."
                )
            self._wait_ready(ports[0], pid, deadline)
            return f"{_HOST}:{ports[0]}"

        libs = self.ensure_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        port, controller_port = self._choose_ports()
        self._write_config(port, controller_port)
        self._format_storage(libs)
        self._write_ports(port, controller_port)

        log4j = _DEPLOY_DIR / "log4j2.properties"
        cmd = [
            self._require_tools("java")[0],
            "-Xms128m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            str(libs / "*"),
            "kafka.Kafka",
            str(self.config_path),
        ]
        if self.log_path.exists():  # one run per log, so a crash tail is never stale
            os.replace(self.log_path, self.log_path.with_name("broker.log.1"))
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(port, self._proc.pid, deadline)
        except BrokerError:
            if self._alive(self._proc.pid):  # timed out: don't leave a half-started JVM
                self.stop(timeout=10)
            raise
        return f"{_HOST}:{port}"

    def stop(self, timeout: float = 30) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL at the deadline); True if one ran."""
        pid = self._running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, signal.SIGTERM)  # Kafka's hook shuts down cleanly, no log recovery next time
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while self._alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            kill_deadline = time.monotonic() + 10
            while self._alive(pid) and time.monotonic() < kill_deadline:
                time.sleep(0.05)
        self.pid_path.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        """Report whether this state dir's broker runs and where (no network I/O)."""
        pid = self._running_pid()
        ports = self._read_ports() if pid is not None else None
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=f"{_HOST}:{ports[0]}" if ports else None,
            state_dir=self.state_dir,
            log_path=self.log_path,
        )

    # --------------------------------------------------------------- helpers

    @staticmethod
    def _require_tools(*names: str) -> list[str]:
        paths = []
        for name in names:
            found = shutil.which(name)
            if found is None:
                hint = "a Java 17+ runtime" if name == "java" else "Apache Maven"
                raise BrokerError(f"'{name}' was not found on PATH; install {hint} to run the local broker.")
            paths.append(found)
        return paths

    def _choose_ports(self) -> tuple[int, int]:
        """Pick client and controller ports: explicit, else previous if free, else new.

        Reusing the previous ports keeps the bootstrap stable across restarts.
        """
        previous = self._read_ports()
        if self.port is not None:
            if not _port_free(self.port):
                raise BrokerError(f"Port {self.port} on {_HOST} is already in use.")
            port = self.port
        elif previous and _port_free(previous[0]):
            port = previous[0]
        else:
            port = _free_port(avoid={previous[1]} if previous else set())
        if previous and previous[1] != port and _port_free(previous[1]):
            controller_port = previous[1]
        else:
            controller_port = _free_port(avoid={port})
        return port, controller_port

    def _write_config(self, port: int, controller_port: int) -> None:
        """Write server.properties; rewritten each start since ports may change.

        The controller endpoint in ``controller.quorum.voters`` is static config,
        not stored in the formatted log, so a new controller port is harmless.
        """
        internal = {
            "min.insync.replicas": 1,  # Kafka has no offsets-topic-specific min ISR; this covers it
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
        }
        props = {
            "process.roles": "broker,controller",
            "node.id": _NODE_ID,
            "controller.quorum.voters": f"{_NODE_ID}@{_HOST}:{controller_port}",
            "listeners": f"PLAINTEXT://{_HOST}:{port},CONTROLLER://{_HOST}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{_HOST}:{port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            **internal,
            "offsets.topic.num.partitions": 8,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            "log.retention.hours": 168,
        }
        body = "".join(f"{key}={value}\n" for key, value in props.items())
        self.config_path.write_text("# Written by herald.broker on every start; edits are lost.\n" + body)

    def _format_storage(self, libs: Path) -> None:
        """Format the data dir once; later starts keep topics and offsets."""
        if (self.data_dir / "meta.properties").is_file():
            return
        if not self.cluster_id_path.is_file():
            self.cluster_id_path.write_text(new_cluster_id() + "\n")
        cluster_id = self.cluster_id_path.read_text().strip()
        cmd = [
            "java",
            "-cp",
            str(libs / "*"),
            "kafka.tools.StorageTool",
            "format",
            # One token: an id that starts with "-" would otherwise be read as an option.
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.config_path),
            "--ignore-formatted",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            raise BrokerError(f"Formatting Kafka storage failed: {lines[-1] if lines else 'no output'}")

    def _read_ports(self) -> tuple[int, int] | None:
        try:
            data = json.loads(self.port_path.read_text())
            return int(data["port"]), int(data["controller_port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_ports(self, port: int, controller_port: int) -> None:
        self.port_path.write_text(json.dumps({"port": port, "controller_port": controller_port}) + "\n")

    def _running_pid(self) -> int | None:
        """PID from the pid file if that process is alive and is our broker."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        if not self._alive(pid):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():  # guards against PID reuse after a reboot or crash
            try:
                if str(self.config_path).encode() not in cmdline.read_bytes():
                    return None
            except OSError:
                return None
        return pid

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None  # also reaps our own child
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie still "exists" for kill(0)
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def _wait_ready(self, port: int, pid: int, deadline: float) -> None:
        """Poll until the broker answers a Metadata request listing itself."""
        last = "no answer yet"
        while True:
            if not self._alive(pid):
                self.pid_path.unlink(missing_ok=True)
                raise BrokerError(f"Kafka broker exited during startup; last log lines: {self._log_tail()}")
            try:
                if _broker_ready(port):
                    return
                last = "broker not registered yet"
            except (OSError, ValueError, struct.error) as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"Kafka broker (pid {pid}) did not answer on {_HOST}:{port} in time ({last}); "
                    f"see {self.log_path}."
                )
            time.sleep(0.2)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no broker.log)"
        # Java stack frames would drown the actual error message.
        keep = [ln.strip() for ln in lines if ln.strip() and not _STACK_FRAME.match(ln.strip())]
        tail = keep[-_LOG_TAIL_LINES:]
        return " | ".join(tail) or "(broker.log is empty)"


# ------------------------------------------------------------ module helpers


def new_cluster_id() -> str:
    """A random KRaft cluster id (a url-safe base64 UUID, as Kafka's own) that never starts with "-".

    Kafka's ``Uuid.randomUuid`` redraws such ids for the same reason: command-line tools read a
    leading dash as an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _last_maven_error(output: str) -> str:
    noise = ("-e switch", "-X switch", "[Help ", "For more information", "re-run Maven", "Re-run Maven")
    errors = []
    for raw in output.splitlines():
        line = _ANSI.sub("", raw).strip()
        if line.startswith("[ERROR]"):
            text = line[len("[ERROR]") :].strip()
            if text and not any(n in text for n in noise):
                errors.append(text.replace(" -> [Help 1]", ""))
    if not errors:
        return "Maven failed without an error message."
    last = errors[-1]
    return last if len(last) <= 400 else last[:397] + "..."


def _port_free(port: int) -> bool:
    # SO_REUSEADDR like the JVM's server sockets, so TIME_WAIT leftovers don't count as busy.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((_HOST, port))
        except OSError:
            return False
    return True


def _free_port(avoid: set[int]) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((_HOST, 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port
    raise BrokerError("Could not find a free TCP port on 127.0.0.1.")


def _kafka_request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    """Send one non-flexible (header v1) request and return the response body."""
    client_id = b"herald-probe"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    data = _recv_exact(sock, size)
    if struct.unpack(">i", data[:4])[0] != corr:
        raise ValueError("mismatched Kafka correlation id")
    return data[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _broker_ready(port: int) -> bool:
    """True once the broker serves Metadata and lists at least one live broker.

    ApiVersions alone can succeed before the broker is unfenced; a non-empty
    broker list means clients can actually create topics and produce.
    """
    with socket.create_connection((_HOST, port), timeout=2) as sock:
        sock.settimeout(2)
        body = _kafka_request(sock, 18, 0, 1, b"")  # ApiVersions v0
        error, count = struct.unpack(">hi", body[:6])
        if error:
            raise ValueError(f"ApiVersions error {error}")
        ranges = {}
        for i in range(count):
            key, lo, hi = struct.unpack(">hhh", body[6 + 6 * i : 12 + 6 * i])
            ranges[key] = (lo, hi)
        lo, hi = ranges.get(3, (0, -1))
        version = min(hi, 8)  # v4..v8 share the non-flexible layout parsed below
        if version < max(lo, 4):
            raise ValueError("broker lacks a supported Metadata version")
        req = struct.pack(">i", 0) + b"\x00"  # no topics, no auto-create
        if version >= 8:
            req += b"\x00\x00"  # include cluster/topic authorized operations: false
        resp = _kafka_request(sock, 3, version, 2, req)
        brokers = struct.unpack(">i", resp[4:8])[0]  # after throttle_time_ms
        return brokers > 0
