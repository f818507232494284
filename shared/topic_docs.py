"""The topic catalogue as Markdown tables, for the README, docs/architecture.md and docs/consuming.md.

Both documents carry these tables verbatim between `<!-- topics:… -->` markers; a test fails when
they differ from what the catalogue renders, and `herald events topics` prints them to paste in.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.topics import ALL_TOPICS, DAY_MS, PARTIES, PUBLIC_TOPICS, SERVICES, Party, TopicSpec, dead_letter

#: How each party is named in the service table: its package.
PLACES: dict[Party, str] = {
    "feed_ingest": "`services/feed_ingest`",
    "publisher": "`services/publisher`",
    "notifier": "`services/notifier`",
    "directory": "`services/directory`",
    "cli": "`herald` (command line)",
}


def service_table(topics: tuple[TopicSpec, ...] = ALL_TOPICS) -> str:
    """Which topics each service and the command line read and write. What every service writes
    (heartbeats, errors, its own dead letters) is one last row rather than repeated on each."""
    dead_letters = {dead_letter(service).name for service in SERVICES}
    everyone = [spec for spec in topics if set(SERVICES) <= set(spec.producers)]
    lines = ["| service | reads | writes |", "|---|---|---|"]
    for party in PARTIES:
        reads = [spec for spec in topics if party in spec.consumers]
        writes = [
            spec
            for spec in topics
            if party in spec.producers and spec not in everyone and spec.name not in dead_letters
        ]
        lines.append(f"| {PLACES[party]} | {_names(reads)} | {_names(writes)} |")
    if everyone:
        lines.append(f"| every service | — | {_names(everyone)}, its own `herald.dlq.<service>` |")
    return "\n".join(lines) + "\n"


def topic_table(topics: tuple[TopicSpec, ...] = ALL_TOPICS) -> str:
    """Every topic: its key, who in Herald writes and reads it, how long Kafka keeps its records,
    what they may hold, and whether other teams may subscribe (the public contract)."""
    lines = [
        "| topic | key | written by | read by | kept | holds | contract |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in topics:
        key = f"`{spec.key}`: {spec.key_description}" if spec.key_description else f"`{spec.key}`"
        lines.append(
            f"| `{spec.name}` | {key} | {_parties(spec.producers)} | {_parties(spec.consumers)} "
            f"| {kept(spec)} | {spec.classification} | {'public' if spec.public else '—'} |"
        )
    return "\n".join(lines) + "\n"


def contract_table(topics: tuple[TopicSpec, ...] = PUBLIC_TOPICS) -> str:
    """The public topics, as docs/consuming.md gives them to other teams: key, event types, how
    long they are kept and what they hold."""
    lines = ["| topic | key | event types | kept | holds |", "|---|---|---|---|---|"]
    for spec in topics:
        types = ", ".join(f"`{model.event_type}`" for model in spec.payloads)
        lines.append(f"| `{spec.name}` | `{spec.key}` | {types} | {kept(spec)} | {spec.classification} |")
    return "\n".join(lines) + "\n"


def kept(spec: TopicSpec) -> str:
    """How Kafka keeps a topic's records: compacted (latest per key), or for how long."""
    if spec.cleanup_policy == "compact":
        return "compacted: latest per key"
    if spec.retention_ms is None:
        return "broker default"
    return f"{spec.retention_ms // DAY_MS} day{'s' if spec.retention_ms != DAY_MS else ''}"


def _names(specs: Iterable[TopicSpec]) -> str:
    return ", ".join(f"`{spec.name}`" for spec in specs) or "—"


def _parties(parties: tuple[Party, ...]) -> str:
    return ", ".join(parties) or "nothing in Herald"
