"""Structured logs (one JSON object per line, quiet by default) and Prometheus metrics of the worker."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram, start_http_server

DOCUMENTS = Counter("newsetl_documents_processed_total", "Documents written to ClickHouse")
METRICS = Counter("newsetl_metrics_extracted_total", "Metric rows written to ClickHouse")
ENRICHED = Counter("newsetl_documents_enriched_total", "Documents analysed by the enrich agent")
DLQ = Counter("newsetl_dlq_records_total", "Records sent to the DLQ", ["kind"])
BATCH_SECONDS = Histogram(
    "newsetl_sink_batch_seconds", "Latency of one sink batch insert (all tables)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_PAUSED = Gauge(
    "newsetl_sink_paused", "ClickHouse error code that paused the sink until an operator fixes it (0: running)"
)
LAG = Gauge("newsetl_consumer_lag", "Messages behind the end of the topic", ["topic", "partition"])

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str = "WARNING") -> None:
    """Route the ``newsetl`` loggers to stderr as JSON lines at ``level``; other libraries'
    records (aiokafka retries and the like) only from ERROR up unless ``level`` is DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if level.upper() != "DEBUG":
        handler.addFilter(lambda r: r.name.startswith("newsetl") or r.levelno >= logging.ERROR)
    logger = logging.getLogger("newsetl")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("DEBUG" if level.upper() == "DEBUG" else "ERROR")


def serve_metrics(port: int) -> bool:
    """Expose Prometheus metrics on 127.0.0.1:port (0 disables). A port already taken (say, by a
    second worker on the same machine) disables them for this process with a warning."""
    if not port:
        return False
    try:
        start_http_server(port, addr="127.0.0.1")
    except OSError as exc:
        logging.getLogger("newsetl.worker").warning(
            "metrics port unavailable, Prometheus metrics disabled", extra={"port": port, "error": str(exc)})
        return False
    return True
