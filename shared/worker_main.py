"""The one entry point of every service process (`python -m services.<name>`, `herald run <name>`).

The broker address comes from `HERALD_KAFKA_BOOTSTRAP_SERVERS` (set by `herald up` / `herald run`
after they start the local broker, or by compose/k8s). Topics are created from the catalogue
before the faust worker starts, so agents and tables find them with the right partition counts.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from shared.kafka_admin import TopicSetupError, ensure_topics
from shared.runtime import ServiceRuntime, run_worker
from shared.settings import HeraldSettings, load_settings

RuntimeFactory = Callable[[HeraldSettings, str], ServiceRuntime]


def main(service: str, build: RuntimeFactory) -> None:
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings()
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap:
        sys.exit(
            f"herald {service}: HERALD_KAFKA_BOOTSTRAP_SERVERS is not set; "
            f"use `herald run {service}` to run it against the local broker"
        )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # faust's worker runs on this same loop afterwards
    runtime = build(settings, bootstrap)
    try:
        loop.run_until_complete(ensure_topics(bootstrap, namespace=settings.topic_namespace))
        # Tables' changelogs too: faust checks a changelog's partitions against its source topic
        # from client metadata, and a changelog it creates itself at start-up can be missing from
        # that metadata for the first events (PartitionsMismatch inside the agent).
        loop.run_until_complete(ensure_topics(bootstrap, runtime.changelog_topics()))
    except TopicSetupError as exc:
        sys.exit(f"herald {service}: {exc}")
    run_worker(runtime)
