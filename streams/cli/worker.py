"""``newsetl worker``: prepare ClickHouse and topics, then run the Faust worker until stopped."""

from __future__ import annotations

import asyncio
import logging

import faust

from streams import heap
from streams.observability import serve_metrics, setup_logging
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations
from streams.stream.app import create_app
from streams.stream.topics import ensure_topics, topic_replication

log = logging.getLogger("newsetl.worker")


def run_worker(settings: Settings) -> None:
    """Blocking: apply migrations, create topics, serve Prometheus metrics, run the agents."""
    setup_logging(settings.log_level)
    applied = apply_migrations(settings)
    created = asyncio.run(ensure_topics(settings))
    replication_factor = asyncio.run(topic_replication(settings))
    serve_metrics(settings.metrics_port)
    log.info("worker starting", extra={"migrations": applied, "topics_created": created,
                                       "group": settings.worker_group})
    app = create_app(settings, replication_factor)
    # Logging stays ours (JSON lines, quiet); no terminal spinner in log files.
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False,
                          override_logging=False)
    worker.spinner = None
    heap.settle()
    worker.execute_from_commandline()
