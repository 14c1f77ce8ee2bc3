"""ClickHouse batching sink: buffer enriched documents, insert them in idempotent batches.

The agent adds documents as they arrive and calls :meth:`ClickHouseSink.flush` when the batch is
full or old enough; only documents returned as ``written`` (or ``rejected``, once their DLQ record
is safely produced) may be acked. Transient ClickHouse errors are retried with backoff for as long
as it takes; permanent ones are narrowed down to the offending documents, which are rejected.

Idempotence: every insert carries an ``insert_deduplication_token`` built from the table, the source
topic, the (partition, offset range) list of the batch and the pipeline versions in it, so a batch
redelivered after a crash is dropped by ClickHouse, while the same offsets reprocessed by a newer
pipeline are not. On a cluster the rows go into the Distributed tables with
``distributed_foreground_insert=1``: each shard stores its part of the batch as one block with the
same token, so a redelivered batch is dropped shard by shard (README, "ClickHouse cluster").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.models import EnrichedDocument
from streams.observability import SINK_PAUSED
from streams.retry import Backoff
from streams.settings import Settings
from streams.store.clickhouse import error_code, is_operator_error, is_transient, make_client
from streams.store.cluster import CLUSTER_INSERT_SETTINGS
from streams.stream.rows import TABLE_COLUMNS, WRITE_ORDER, table_rows

log = logging.getLogger("newsetl.sink")

#: documents parsed or turned into rows between two turns of the event loop: a take of a
#: thousand at once held the loop for half a second, and the analysis process waited
DOCS_BETWEEN_YIELDS = 16


@dataclass(slots=True)
class PendingDoc:
    """One enriched document waiting in the sink, with what is needed to ack or DLQ it."""

    doc: EnrichedDocument
    topic: str
    partition: int
    offset: int
    payload: bytes
    ack: Any = None  # the faust event, acked by the agent after the write

    @classmethod
    def of(cls, doc: EnrichedDocument, message: Any, ack: Any = None) -> PendingDoc:
        """``doc`` as read from ``message`` (a Kafka message: topic, partition, offset, value)."""
        return cls(doc, message.topic, message.partition, message.offset, message.value or b"", ack)


@dataclass(slots=True)
class FlushResult:
    written: list[PendingDoc] = field(default_factory=list)
    rejected: list[tuple[PendingDoc, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    attempts: int = 0


def dedup_token(table: str, batch: list[PendingDoc]) -> str:
    """Deterministic insert_deduplication_token for one table's insert of a batch."""
    ranges: dict[tuple[str, int], list[int]] = {}
    for item in batch:
        ranges.setdefault((item.topic, item.partition), []).append(item.offset)
    parts = [f"{topic}:{part}:{min(offs)}-{max(offs)}:{len(offs)}" for (topic, part), offs in sorted(ranges.items())]
    versions = sorted({item.doc.pipeline_version for item in batch})
    basis = "|".join([table, *parts, *versions])
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:40]


class RetryingInserter:
    """Inserts rows with clickhouse-connect, retrying transient errors with backoff.

    Owns one client, used from one task at a time (calls are awaited one by one).
    """

    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[Settings], Client] = make_client,
        max_backoff: float = 30.0,
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._client: Client | None = None
        self.max_backoff = max_backoff
        self.attempts = 0

    def _insert_tables(self, inserts: list[tuple[str, tuple[str, ...], list[list[Any]], str]]) -> None:
        if self._client is None:
            self._client = self._client_factory(self.settings)
        db = self.settings.clickhouse_database
        for table, columns, rows, token in inserts:
            if rows:
                settings: dict[str, Any] = {"insert_deduplication_token": token, "insert_deduplicate": 1}
                if self.settings.clickhouse_cluster:  # through the Distributed table: see README
                    settings |= CLUSTER_INSERT_SETTINGS
                self._client.insert(f"{db}.{table}", rows, column_names=list(columns), settings=settings)

    async def insert(self, inserts: list[tuple[str, tuple[str, ...], list[list[Any]], str]]) -> Exception | None:
        """Run (table, columns, rows, dedup token) inserts in order until they succeed (None) or
        fail permanently (the error is returned). Transient errors are retried for as long as it takes."""
        delays = Backoff(start=0.2, cap=self.max_backoff).delays()
        paused = False
        while True:
            self.attempts += 1
            try:
                await asyncio.to_thread(self._insert_tables, inserts)
                if paused:
                    SINK_PAUSED.set(0)
                    log.warning("clickhouse accepts inserts again: sink resumed")
                return None
            except Exception as exc:  # noqa: BLE001 - classified right below
                operator = is_operator_error(exc)
                if not operator and not is_transient(exc):
                    return exc
                delay = next(delays)
                if operator and not paused:
                    paused = True
                    SINK_PAUSED.set(error_code(exc) or 1)
                    log.error(
                        "sink paused until an operator fixes ClickHouse (nothing is sent to the DLQ)",
                        extra={"code": error_code(exc), "error": _describe(exc)[:300]},
                    )
                elif not operator:
                    log.warning(
                        "clickhouse transient error, retrying",
                        extra={"code": error_code(exc), "error": str(exc)[:300], "backoff_s": delay},
                    )
                self.close()  # a broken connection (or a changed password) gets a fresh client
                await asyncio.sleep(delay)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class ClickHouseSink:
    """Per-worker batching sink for enriched documents. One agent (concurrency=1) owns it."""

    def __init__(self, settings: Settings, inserter: RetryingInserter | None = None) -> None:
        self.settings = settings
        self.inserter = inserter or RetryingInserter(settings)
        self._pending: list[PendingDoc] = []
        self.rows = 0

    def add(self, item: PendingDoc) -> None:
        self._pending.append(item)
        self.rows += 1 + len(item.doc.analysis.paragraphs) + len(item.doc.analysis.metrics)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _write(self, batch: list[PendingDoc], result: FlushResult) -> Exception | None:
        rows = await _rows([item.doc for item in batch])
        inserts = [(table, TABLE_COLUMNS[table], rows[table], dedup_token(table, batch)) for table in WRITE_ORDER]
        error = await self.inserter.insert(inserts)
        if error is None:
            for table in WRITE_ORDER:
                result.rows[table] = result.rows.get(table, 0) + len(rows[table])
        return error

    async def flush(self) -> FlushResult:
        """Write everything buffered; returns what was written and what was rejected (and why)."""
        batch, self._pending, self.rows = self._pending, [], 0
        result = FlushResult()
        if not batch:
            return result
        started, attempts_before = time.monotonic(), self.inserter.attempts
        error = await self._write(batch, result)
        if error is None:
            result.written = batch
        elif len(batch) == 1:
            result.rejected.append((batch[0], _describe(error)))
        else:
            # Narrow a permanent failure down to the documents that cause it.
            for item in batch:
                single_error = await self._write([item], result)
                if single_error is None:
                    result.written.append(item)
                else:
                    result.rejected.append((item, _describe(single_error)))
        result.seconds = time.monotonic() - started
        result.attempts = self.inserter.attempts - attempts_before
        return result

    def close(self) -> None:
        self.inserter.close()


async def _rows(docs: list[EnrichedDocument]) -> dict[str, list[list[Any]]]:
    """:func:`table_rows` of ``docs``, a few documents at a time with the event loop run between
    (the fingerprints make a thousand documents' rows take half a second)."""
    rows: dict[str, list[list[Any]]] = {table: [] for table in WRITE_ORDER}
    for start in range(0, len(docs), DOCS_BETWEEN_YIELDS):
        for table, part in table_rows(docs[start:start + DOCS_BETWEEN_YIELDS]).items():
            rows[table].extend(part)
        await asyncio.sleep(0)
    return rows


def _describe(exc: Exception) -> str:
    code = error_code(exc)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"ClickHouse error {code}: {message}" if code is not None else message
