"""The one entry point of every service process (`python -m services.<name>`, `herald run <name>`).

The broker address comes from `HERALD_KAFKA_BOOTSTRAP_SERVERS` (set by `herald up` / `herald run`
after they start the local broker, or by compose/k8s). Topics are created from the catalogue
before the faust worker starts, so agents and tables find them with the right partition counts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable

from shared.kafka_admin import TopicSetupError, ensure_topics
from shared.runtime import ServiceRuntime, run_worker
from shared.settings import HeraldSettings, SettingsError, load_settings

RuntimeFactory = Callable[[HeraldSettings, str], ServiceRuntime]

#: The cyclic GC's thresholds in a worker (CPython's default: 700, 10, 10). A worker allocates
#: hundreds of thousands of short-lived objects a second (parsed items, events, Kafka records), and
#: at the default every few hundred of them started a young collection and, often, a scan of all
#: the long-lived ones (faust, tables, states). Reference counting frees almost all of them anyway.
#: With these (and the start-up objects frozen out of every scan) feed_ingest's all-new benchmark
#: pass ran ~15 % faster.
GC_THRESHOLDS = (20_000, 50, 100)


def main(service: str, build: RuntimeFactory) -> None:
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"herald {service}: invalid setting {exc}")
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
    gc.collect()
    gc.freeze()  # what start-up built (modules, faust's app) lives on: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    run_worker(runtime)
