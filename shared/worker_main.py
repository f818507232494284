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
import time
from collections.abc import Callable
from typing import Any

import faust

from shared.kafka_admin import TopicSetupError, ensure_topics
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings, SettingsError, load_settings

RuntimeFactory = Callable[[HeraldSettings, str], ServiceRuntime]

log = logging.getLogger(__name__)

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


class HeraldWorker(faust.Worker):
    """faust's worker, telling the runtime when start-up (recovery included) is over: the web port
    opens earlier, so "port open" is not "ready"."""

    def __init__(self, runtime: ServiceRuntime, **kwargs: Any) -> None:
        self.runtime = runtime
        super().__init__(runtime.app, **kwargs)

    async def on_first_start(self) -> None:
        await super().on_first_start()
        self.add_future(self.runtime.watch_recovery())  # its RecoveryStalled crashes the worker
        self.add_future(self.runtime.beat())

    async def on_stop(self) -> None:
        await self.runtime.announce_stopping()
        await super().on_stop()

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        await self.runtime.mark_ready()


class HeraldWorkerQuiet(HeraldWorker):
    """Herald's own loggers at the chosen level; faust/aiokafka internals only from WARNING, so a
    person watching `herald up` sees what Herald does, not the consumer machinery."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        logger.setLevel(logging.WARNING)
        for name in HERALD_LOGGERS:
            logging.getLogger(name).setLevel(level)


HERALD_LOGGERS = ("services", "shared", "herald")


def run_worker(runtime: ServiceRuntime) -> None:
    """Run a service in the foreground until SIGINT/SIGTERM (faust's worker handles the signals)."""
    started = time.monotonic()
    level = runtime.settings.log_level
    worker_class = HeraldWorker if runtime.settings.log_framework else HeraldWorkerQuiet
    worker = worker_class(runtime, loglevel=level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        log.info("%s stopped after %.1fs", runtime.service, time.monotonic() - started)
