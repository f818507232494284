"""The catalogue's producers and consumers are what the code does, and the docs' tables are the
catalogue's.

Who reads and writes each topic is derived from the source: every use of a catalogue topic in a
service package, in `herald/` (the command line) or in `shared/` (the runtime every service builds),
classified by the call it is used in. Writes: `send`, `publish`, `publish_nowait`, `send_record`,
`write_compacted` given the topic, and `.send` on `runtime.topic(T)`. Reads: `consumer`, `read_to_end` and
`SnapshotFollower` given the topic, `runtime.topic(T)` given to `app.agent`, `decode(…, T.accepts)`,
and `namespace + T.name` given to `AIOKafkaConsumer` or `TopicPartition`. Any other use (partition
counts, metric labels) is neither.

The README's service table and docs/architecture.md's tables must be exactly what the catalogue
renders, and every flow the README's diagram draws must be in the catalogue.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from herald.cli import app
from shared import topics
from shared.topic_docs import contract_table, service_table, topic_table
from shared.topics import ALL_TOPICS, PARTIES, SERVICES, TopicSpec, dead_letter

REPO = Path(__file__).resolve().parents[3]
WRITE_CALLS = {"send", "publish", "publish_nowait", "send_record", "write_compacted"}
READ_CALLS = {"consumer", "batch_consumer", "read_to_end", "SnapshotFollower"}
CONSUMER_CLASSES = {"AIOKafkaConsumer", "TopicPartition"}
CATALOGUE = {name: value for name, value in vars(topics).items() if isinstance(value, TopicSpec)}

Flow = set[tuple[str, str, str]]  # (topic name, party, "reads" | "writes")


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr
        if isinstance(func, ast.Name):
            return func.id
    return None


def _is_arg(call: ast.AST, node: ast.AST) -> bool:
    return isinstance(call, ast.Call) and any(arg is node for arg in call.args)


class _Scan:
    """The reads and writes of one module's source, for the party that owns it."""

    def __init__(self, source: str, party: str) -> None:
        self.tree = ast.parse(source)
        self.party = party
        self.parent: dict[ast.AST, ast.AST] = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }

    def topic_uses(self) -> Iterator[tuple[ast.AST, TopicSpec]]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id in CATALOGUE:
                yield node, CATALOGUE[node.id]
            elif isinstance(node, ast.Call) and _call_name(node) == "dead_letter" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant):
                    yield node, dead_letter(arg.value)
                elif self.party in SERVICES:  # a service's own runtime: its own dead letters
                    yield node, dead_letter(self.party)
                else:  # the command line, given a service by name: any service's
                    for service in SERVICES:
                        yield node, dead_letter(service)

    def flows(self) -> Iterator[tuple[str, str]]:
        for node, spec in self.topic_uses():
            way = self._way(node)
            if way is not None:
                yield spec.name, way

    def _way(self, node: ast.AST) -> str | None:
        up = self.parent.get(node)
        if _is_arg(up, node):
            name = _call_name(up)
            if name in WRITE_CALLS:
                return "writes"
            if name in READ_CALLS:
                return "reads"
            if name == "topic":
                return self._way_of_faust_topic(up)
        if isinstance(up, ast.Attribute) and up.attr == "accepts":
            call = self.parent.get(up)
            if _call_name(call) == "decode":
                return "reads"
        if isinstance(up, ast.Attribute) and up.attr == "name":
            added = self.parent.get(up)
            if isinstance(added, ast.BinOp) and isinstance(added.op, ast.Add):
                call = self.parent.get(added)
                if _call_name(call) in CONSUMER_CLASSES:
                    return "reads"
        return None

    def _way_of_faust_topic(self, call: ast.AST) -> str | None:
        """`runtime.topic(T)`: sent to, given to an agent, or kept in a variable that is sent to."""
        up = self.parent.get(call)
        if isinstance(up, ast.Attribute) and up.attr == "send":
            return "writes"
        if _is_arg(up, call) and _call_name(up) == "agent":
            return "reads"
        if isinstance(up, ast.Assign) and len(up.targets) == 1 and isinstance(up.targets[0], ast.Name):
            variable = up.targets[0].id
            scope = self._scope(up)
            for node in ast.walk(scope):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "send"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == variable
                ):
                    return "writes"
        return None

    def _scope(self, node: ast.AST) -> ast.AST:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return self.tree


def _modules(folder: Path) -> Iterator[Path]:
    yield from sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def _builds_a_runtime(service: str) -> bool:
    """Whether the service's package builds a `ServiceRuntime` (whose sends are then its own)."""
    for path in _modules(REPO / "services" / service):
        for node in ast.walk(ast.parse(path.read_text())):
            if _call_name(node) == "ServiceRuntime":
                return True
    return False


def derived_flows() -> Flow:
    flows: Flow = set()
    for service in SERVICES:
        for path in _modules(REPO / "services" / service):
            flows |= {(name, service, way) for name, way in _Scan(path.read_text(), service).flows()}
    for path in _modules(REPO / "herald"):
        flows |= {(name, "cli", way) for name, way in _Scan(path.read_text(), "cli").flows()}
    runtime_users = [service for service in SERVICES if _builds_a_runtime(service)]
    for path in _modules(REPO / "shared"):
        if path.name == "topics.py" and path.parent.name == "shared":
            continue
        for service in runtime_users:  # the runtime sends for the service that built it
            flows |= {(name, service, way) for name, way in _Scan(path.read_text(), service).flows()}
    return flows


def catalogue_flows(specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> Flow:
    return {(spec.name, party, "writes") for spec in specs for party in spec.producers} | {
        (spec.name, party, "reads") for spec in specs for party in spec.consumers
    }


def test_the_catalogue_says_who_produces_and_consumes_each_topic_as_the_code_does() -> None:
    derived, declared = derived_flows(), catalogue_flows()
    assert sorted(derived - declared) == [], "the code does this; add it to shared/topics.py"
    assert sorted(declared - derived) == [], "shared/topics.py says this; the code does not"


def test_every_service_builds_a_runtime() -> None:
    """Else the runtime's heartbeats, errors and dead letters above are not that service's."""
    assert [service for service in SERVICES if _builds_a_runtime(service)] == list(SERVICES)


def test_the_scan_sees_each_kind_of_use() -> None:
    """The derivation itself: each form of read and write is found, and other uses are not."""
    source = """
async def f(runtime, producer, namespace):
    await runtime.publish(POSTS, key, event)
    await runtime.send(FEED_ITEMS, key, event)
    await producer.send_record(FEED_POLLS, b"", partition=0)
    await runtime.topic(dead_letter(runtime.service)).send(key=b"", value=b"")
    topic = runtime.topic(DIRECTORY_SNAPSHOT)
    await topic.send(key=b"", value=None)
    runtime.consumer(FEEDS)(handler)
    SnapshotFollower(FORUM_ALERTS, view, bootstrap, namespace=namespace)
    app.agent(runtime.topic(PUBLISHER_COMMANDS))(handler)
    async for record in read_to_end(bootstrap, FEED_HEALTH):
        decode(record.value, DIRECTORY_EVENTS.accepts)
    AIOKafkaConsumer(namespace + OPS_HEARTBEAT.name)
    TopicPartition(namespace + OPS_ERRORS.name, 0)
    partitions = FORUM_ALERTS.partitions
    label = namespace + DIRECTORY_COMMANDS.name
    await alert_about(POSTS, event)
"""
    assert set(_Scan(source, "directory").flows()) == {
        ("herald.posts", "writes"),
        ("herald.feed-items", "writes"),
        ("herald.internal.feed-polls", "writes"),
        ("herald.dlq.directory", "writes"),
        ("herald.directory.staff", "writes"),
        ("herald.feeds", "reads"),
        ("herald.publisher.commands", "reads"),
        ("herald.ops.feed-health", "reads"),
        ("herald.directory.events", "reads"),
        ("herald.ops.heartbeat", "reads"),
        ("herald.ops.errors", "reads"),
        ("herald.forum.alerts", "reads"),
    }


def test_a_catalogue_that_misses_a_consumer_differs_from_the_code() -> None:
    """The check can fail: drop the notifier from feed-health's consumers and it is missed."""
    edited = tuple(
        spec.__class__(**{**vars(spec), "consumers": ("cli",)})
        if spec.name == "herald.ops.feed-health"
        else spec
        for spec in ALL_TOPICS
    )
    assert ("herald.ops.feed-health", "notifier", "reads") in derived_flows() - catalogue_flows(edited)


def test_parties_and_classifications_are_known_and_every_topic_says_its_key() -> None:
    for spec in ALL_TOPICS:
        assert set(spec.producers) | set(spec.consumers) <= set(PARTIES), spec.name
        assert spec.producers, f"{spec.name}: nothing writes it"
        assert spec.classification in topics.CLASSIFICATIONS, spec.name
        assert spec.key_description, spec.name


def test_the_directorys_topics_are_personal_and_so_are_the_dead_letters_of_their_readers() -> None:
    for name in ("herald.directory.commands", "herald.directory.events", "herald.directory.staff"):
        assert topics.by_name(name).classification == "personal"
    assert dead_letter("notifier").classification == "personal"  # it reads herald.directory.events
    assert dead_letter("feed_ingest").classification == "internal"


def _block(path: Path, marker: str) -> str:
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"<!-- topics:{marker} .*?-->\n(.*?)<!-- /topics:{marker} -->", text, re.DOTALL)
    assert found, f"{path.name} has no <!-- topics:{marker} --> block"
    return found.group(1)


@pytest.mark.parametrize(
    ("document", "marker", "render"),
    [
        ("README.md", "services", service_table),
        ("docs/architecture.md", "services", service_table),
        ("docs/architecture.md", "catalogue", topic_table),
        ("docs/consuming.md", "public", contract_table),
    ],
)
def test_the_documents_tables_are_the_catalogues(document: str, marker: str, render) -> None:
    option = {"services": " --by-service", "public": " --public"}.get(marker, "")
    assert _block(REPO / document, marker) == render(), (
        f"{document}'s {marker} table differs from shared/topics.py: paste in `herald events topics{option}`"
    )


@pytest.mark.parametrize(
    ("args", "render"),
    [([], topic_table), (["--by-service"], service_table), (["--public"], contract_table)],
)
def test_herald_events_topics_prints_the_tables_to_paste(args: list[str], render) -> None:
    result = CliRunner().invoke(app, ["events", "topics", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == render()


TOPIC_IN_TEXT = re.compile(r"herald\.[a-z][a-z.<>_-]*[a-z>]")
ARROW = re.compile(r"[─┬]*─▶")
PARTY_WORD = re.compile(r"(?<![\w.])(feed_ingest|publisher|notifier|directory)(?![\w.])")


def _diagram(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = re.search(r"## The flow\n+```\n(.*?)```", text, re.DOTALL)
    assert found, f"{path.name} has no flow diagram"
    return found.group(1).splitlines()


def _parties_named(segment: str) -> tuple[str, ...]:
    """Who a diagram segment names as reader or writer: a service, `herald …` (the command line),
    or every service; nothing for a topic or the outside world."""
    words = segment.strip(" │").split()
    if not words:
        return ()
    if words[0] == "herald":
        return ("cli",)
    if words[:2] == ["every", "service"]:
        return SERVICES
    return (words[0],) if words[0] in SERVICES else ()


def _hung_from(lines: list[str], row: int, column: int) -> str | None:
    """What a branch (`└──▶`, `├──▶`) hangs from: up its column through `│`/`├`, the service or
    topic whose name spans it, or at a `┬`, the service or topic just before it on that line."""
    for line in reversed(lines[:row]):
        names = [*PARTY_WORD.finditer(line), *TOPIC_IN_TEXT.finditer(line)]
        for name in names:
            if name.start() <= column < name.end():
                return name.group(0)
        char = line[column] if column < len(line) else " "
        if char == "┬":
            before = [name for name in names if name.end() <= column]
            return max(before, key=lambda name: name.end()).group(0) if before else None
        if char not in "│├":
            return None
    return None


def diagram_flows(lines: list[str]) -> Flow:
    """What the diagram's lines claim: `writer ──▶ topics`, `topics ──▶ reader`,
    `reader ◀── topics`, and branches from the service or topic they hang from."""
    flows: Flow = set()
    for row, line in enumerate(lines):
        starts = [0, *(arrow.end() for arrow in ARROW.finditer(line))]
        segments = [
            (start, line[start:end]) for start, end in zip(starts, [*starts[1:], len(line)], strict=True)
        ]
        for (left_at, left), (_, right) in zip(segments, segments[1:], strict=False):
            left = ARROW.sub("", left).split("◀──")[-1]
            forward, _, backward = right.partition("◀──")
            branch = re.search(r"[└├]$", left.rstrip())
            source = _hung_from(lines, row, left_at + branch.start()) if branch else None
            if branch:
                writers = (source,) if source in SERVICES else ()
                sources = [source] if source and source not in SERVICES else []
            else:
                writers, sources = _parties_named(left), TOPIC_IN_TEXT.findall(left)
            for party in writers:
                for name in TOPIC_IN_TEXT.findall(forward):
                    written = dead_letter(party).name if name == "herald.dlq.<service>" else name
                    flows.add((written, party, "writes"))
            for party in _parties_named(forward):
                for name in [*sources, *TOPIC_IN_TEXT.findall(backward)]:
                    flows.add((name, party, "reads"))
    return flows


def test_the_readmes_flow_diagram_claims_only_what_the_catalogue_says() -> None:
    claimed = diagram_flows(_diagram(REPO / "README.md"))
    assert claimed, "no flows read from the diagram"
    assert sorted(claimed - catalogue_flows()) == []


def test_a_diagram_with_the_directory_reading_items_is_caught() -> None:
    """The check can fail: the README's old diagram with its items branch drawn to the directory."""
    old = [
        " feeds ──poll──▶ feed_ingest ──▶ herald.feed-items ──┬─▶ publisher ──▶ X",
        "                                                     │       └──▶ herald.posts",
        " herald feeds add ──▶ herald.feeds (compacted)       └─▶ directory",
    ]
    claimed = diagram_flows(old)
    assert {
        ("herald.feed-items", "publisher", "reads"),
        ("herald.posts", "publisher", "writes"),
        ("herald.feeds", "cli", "writes"),
    } <= claimed
    assert claimed - catalogue_flows() == {("herald.feed-items", "directory", "reads")}


def test_the_command_line_given_a_service_by_name_reads_every_dead_letter_topic() -> None:
    flows = set(_Scan("read_to_end(bootstrap, dead_letter(service))", "cli").flows())
    assert flows == {(f"herald.dlq.{service}", "reads") for service in SERVICES}
