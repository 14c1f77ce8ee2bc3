"""``newsetl replay``: reprocess history from Kafka into ClickHouse.

- ``--source raw`` re-runs the *current* pipeline (code + rules) over ``news.raw``, writes the
  new version's rows to ClickHouse and publishes the enriched documents to ``news.enriched`` (so
  that topic stays the full history of what was written);
- ``--source enriched`` reloads ClickHouse from ``news.enriched`` without re-running the analysis
  (after a table was dropped, or into a new ClickHouse).

It reads with its own consumer group (the live worker keeps running), assigns every partition
explicitly, stops at the end offsets captured when it started (or at ``--to``), and commits its
progress to that group after each written batch. Interrupting it and running it again is
harmless: rows are keyed and versioned, so the ``*_latest`` views end in the same state.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from schemas.models import EnrichedDocument, utcnow
from streams.errors import UserError
from streams.pipeline.analyzer import get_pipeline
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations
from streams.stream import intake
from streams.stream.dlq import dlq_key, dlq_record
from streams.stream.enrich import enrich_payload
from streams.stream.sink import ClickHouseSink, PendingDoc
from streams.stream.topics import ensure_topics

Source = Literal["raw", "enriched"]


class ReplayError(UserError):
    """A user-facing replay problem (bad time, missing topic, rejected rows)."""


@dataclass(slots=True)
class ReplaySummary:
    source: str
    planned: int = 0
    read: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # already in the DLQ from the first pass
    dlq: int = 0
    pipeline_version: str = ""
    seconds: float = 0.0


def parse_time(value: str | None) -> datetime | None:
    """``earliest``/None → None; else an ISO-8601 time (naive = UTC)."""
    if value is None or value == "earliest":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ReplayError(f"not an ISO time: {value!r} (e.g. 2026-11-25T08:00:00+00:00, or 'earliest')") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


async def _offset_range(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start: datetime | None,
                        stop: datetime | None) -> dict[TopicPartition, tuple[int, int]]:
    """[first, end) offsets per partition; ``end`` is captured now (or the first offset at ``stop``)."""
    begin = await consumer.beginning_offsets(partitions)
    end = await consumer.end_offsets(partitions)
    first = dict(begin)
    if start is not None:
        found = await consumer.offsets_for_times({tp: int(start.timestamp() * 1000) for tp in partitions})
        first = {tp: (found[tp].offset if found.get(tp) else end[tp]) for tp in partitions}
    last = dict(end)
    if stop is not None:
        found = await consumer.offsets_for_times({tp: int(stop.timestamp() * 1000) for tp in partitions})
        last = {tp: (found[tp].offset if found.get(tp) else end[tp]) for tp in partitions}
    return {tp: (first[tp], max(first[tp], last[tp])) for tp in partitions}


class Replayer:
    def __init__(self, settings: Settings, source: Source) -> None:
        self.settings = settings
        self.source = source
        self.topic = settings.raw_topic if source == "raw" else settings.enriched_topic
        self.pipeline = get_pipeline(settings) if source == "raw" else None
        self.sink = ClickHouseSink(settings)
        self.run_tag = f"replay-{utcnow().isoformat()}"
        self.producer: AIOKafkaProducer | None = None

    async def _document(self, record: object, summary: ReplaySummary) -> EnrichedDocument | None:
        value, partition, offset = record.value, record.partition, record.offset  # type: ignore[attr-defined]
        if self.source == "enriched":
            try:
                return EnrichedDocument.model_validate_json(value or b"")
            except ValidationError:
                summary.skipped[intake.INVALID_ENRICHED] = summary.skipped.get(intake.INVALID_ENRICHED, 0) + 1
                return None
        assert self.pipeline is not None
        try:
            return await asyncio.to_thread(enrich_payload, self.pipeline, value,
                                           max_doc_chars=self.settings.max_doc_chars, partition=partition,
                                           offset=offset)
        except intake.IntakeError as exc:
            if exc.kind == intake.ENRICH_ERROR:  # new in this run: it must not vanish
                await self._send_dlq(exc, record)
                summary.dlq += 1
            else:  # invalid input was sent to the DLQ when it was first read
                summary.skipped[exc.kind] = summary.skipped.get(exc.kind, 0) + 1
            return None

    async def _send_dlq(self, exc: intake.IntakeError, record: object) -> None:
        assert self.producer is not None
        dlq = dlq_record(exc.kind, exc.detail, topic=self.topic, partition=record.partition,  # type: ignore[attr-defined]
                         offset=record.offset, payload=record.value, doc_id=exc.doc_id)  # type: ignore[attr-defined]
        await self.producer.send_and_wait(self.settings.dlq_topic, key=dlq_key(exc.doc_id, record.key),  # type: ignore[attr-defined]
                                          value=dlq.model_dump_json().encode("utf-8"))

    async def _flush(self, consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int],
                     summary: ReplaySummary) -> None:
        pending = self.sink.pending
        if pending and self.source == "raw":
            # Keep news.enriched the full history of what was written.
            assert self.producer is not None
            futures = [await self.producer.send(self.settings.enriched_topic, key=item.doc.raw.doc_id.encode(),
                                                value=item.doc.model_dump_json().encode("utf-8"))
                       for item in self.sink.buffered]
            await asyncio.gather(*futures)
        result = await self.sink.flush()
        if result.rejected:
            reasons = "; ".join(reason for _, reason in result.rejected[:3])
            raise ReplayError(f"ClickHouse rejected {len(result.rejected)} document(s): {reasons}")
        summary.written += len(result.written)
        if positions:
            await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()})

    async def run(self, start: datetime | None, stop: datetime | None, progress: Progress | None) -> ReplaySummary:
        summary = ReplaySummary(source=self.source, pipeline_version=self.pipeline.version if self.pipeline else "")
        started = time.monotonic()
        apply_migrations(self.settings)
        await ensure_topics(self.settings)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers, group_id=f"{self.settings.worker_group}-replay",
            enable_auto_commit=False, auto_offset_reset="earliest", max_partition_fetch_bytes=self.settings.max_fetch_bytes,
        )
        self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap_servers, acks="all",
                                         max_request_size=self.settings.max_message_bytes, compression_type="gzip")
        await consumer.start()
        await self.producer.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or [])]
            if not partitions:
                raise ReplayError(f"topic {self.topic} does not exist or has no partitions")
            ranges = await _offset_range(consumer, partitions, start, stop)
            summary.planned = sum(last - first for first, last in ranges.values())
            active = [tp for tp, (first, last) in ranges.items() if last > first]
            task = progress.add_task(f"replaying {self.topic}", total=summary.planned) if progress else None
            if active:
                consumer.assign(active)
                for tp in active:
                    consumer.seek(tp, ranges[tp][0])
            positions: dict[TopicPartition, int] = {}
            while active:
                batch = await consumer.getmany(*active, timeout_ms=500, max_records=500)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset >= ranges[tp][1]:
                            break
                        summary.read += 1
                        positions[tp] = record.offset + 1
                        doc = await self._document(record, summary)
                        if doc is not None:
                            topic = self.topic if self.source == "enriched" else f"{self.topic}@{self.run_tag}"
                            self.sink.add(PendingDoc(doc, topic, record.partition, record.offset, record.value or b""))
                        if progress is not None and task is not None:
                            progress.advance(task)
                    if self.sink.rows >= self.settings.sink_batch_rows:
                        await self._flush(consumer, positions, summary)
                active = [tp for tp in active if await consumer.position(tp) < ranges[tp][1]]
            await self._flush(consumer, positions, summary)
        finally:
            self.sink.close()
            await self.producer.stop()
            await consumer.stop()
        summary.seconds = time.monotonic() - started
        return summary


def replay(settings: Settings, source: Source, start: str | None = "earliest", stop: str | None = None,
           console: Console | None = None) -> ReplaySummary:
    """Run a replay; shows a progress bar (with remaining messages) when a console is given."""
    first, last = parse_time(start), parse_time(stop)
    if first and last and last <= first:
        raise ReplayError("--to must be later than --from")
    replayer = Replayer(settings, source)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.remaining} left"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=console is None)
    with progress:
        return asyncio.run(replayer.run(first, last, progress))
