"""``newsetl replay``: reprocess history from Kafka, through the same steps as the worker.

- ``--source raw`` re-runs the *current* pipeline (code + rules) over ``news.raw`` and publishes
  the enriched documents to ``news.enriched`` (which stays the full history of what was written).
  ClickHouse is written once, by one sink: when the workers' consumer group is live (asked of
  the admin client), its ``sink`` agent writes them and replay waits until that group has
  committed past every offset it published; when no worker is live, replay runs the same sink
  code itself over exactly what it published.
- ``--source enriched`` runs the same sink over ``news.enriched`` without re-running the analysis
  (after a table was dropped, or into a new ClickHouse).

It reads with its own consumer group, assigns every partition explicitly, stops at the end
offsets captured when it started (or at ``--to``), and commits its progress to that group once
what it read is durable (published, or written). Interrupting it and running it again is
harmless: rows are keyed and versioned, so the ``*_latest`` views end in the same state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streams.errors import UserError
from streams.retry import Backoff
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations
from streams.stream import intake
from streams.stream.analysis import get_pipeline
from streams.stream.kafka_clients import make_admin, make_consumer, make_producer
from streams.stream.poison import InflightMarks
from streams.stream.sink import ClickHouseSink
from streams.stream.steps import Message, Steps
from streams.stream.topics import ensure_topics

log = logging.getLogger("newsetl.replay")

#: Group states in which the workers' members hold (or are about to hold) their partitions.
LIVE_GROUP_STATES = ("Stable", "PreparingRebalance", "CompletingRebalance")

Source = Literal["raw", "enriched"]


class ReplayError(UserError):
    """A user-facing replay problem (bad time, missing topic)."""


@dataclass(slots=True)
class ReplaySummary:
    source: str
    planned: int = 0
    read: int = 0
    published: int = 0  # raw: enriched documents published to news.enriched
    written: int = 0  # documents whose rows are in ClickHouse when the replay returns
    writer: str = "replay"  # who wrote them: this run's own sink, or the live "workers"
    skipped: dict[str, int] = field(default_factory=dict)  # already in the DLQ from the first pass
    dlq: int = 0  # new DLQ records of this run
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


async def sink_group_live(admin: AIOKafkaAdminClient, group: str) -> bool:
    """Whether the workers' consumer group (whose ``sink`` agent writes news.enriched into
    ClickHouse) has members right now."""
    try:
        described = await admin.describe_consumer_groups([group])
    except KafkaError:
        return False
    for response in described:
        for entry in response.groups:
            state, members = entry[2], entry[5]
            if state in LIVE_GROUP_STATES and members:
                return True
    return False


class Replayer:
    """One replay run. Raw: every message goes through the same steps as the ``enrich`` agent and
    is published to news.enriched; ClickHouse is then written once, by one sink — the workers'
    when their group is live, else this run's own sink over exactly what it published. Enriched:
    the same sink over news.enriched, with the replay's own consumer group."""

    def __init__(self, settings: Settings, source: Source) -> None:
        self.settings = settings
        self.source = source
        self.topic = settings.raw_topic if source == "raw" else settings.enriched_topic
        self.pipeline = get_pipeline(settings) if source == "raw" else None
        self.sink = ClickHouseSink(settings)
        self.group = f"{settings.worker_group}-replay"
        self.summary = ReplaySummary(source=source, pipeline_version=self.pipeline.version if self.pipeline else "")

    async def _flush(self, steps: Steps, consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]) -> None:
        """Write what the sink holds, then commit the positions it covers."""
        result = await steps.flush(self.sink)
        self.summary.written += len(result.written)
        self.summary.dlq += len(result.rejected)
        if positions:
            await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()})

    async def _read(self, consumer: AIOKafkaConsumer, ranges: dict[TopicPartition, tuple[int, int]],
                    handle: Callable[[list[ConsumerRecord]], Awaitable[None]],
                    progress: Progress | None, label: str) -> None:
        """Feed every record of ``ranges`` ([first, end) per partition) to ``handle`` in batches."""
        active = [tp for tp, (first, last) in ranges.items() if last > first]
        task = progress.add_task(label, total=sum(last - first for first, last in ranges.values())) if progress else None
        consumer.assign(active)
        for tp in active:
            consumer.seek(tp, ranges[tp][0])
        while active:
            batch = await consumer.getmany(*active, timeout_ms=500, max_records=500)
            for tp, records in batch.items():
                records = [r for r in records if r.offset < ranges[tp][1]]
                if records:
                    await handle(records)
                    if progress is not None and task is not None:
                        progress.advance(task, len(records))
            active = [tp for tp in active if await consumer.position(tp) < ranges[tp][1]]

    async def sink_ranges(self, steps: Steps, consumer: AIOKafkaConsumer,
                          ranges: dict[TopicPartition, tuple[int, int]], progress: Progress | None) -> None:
        """Run the sink over these news.enriched offsets (what the ``sink`` agent does)."""
        positions: dict[TopicPartition, int] = {}

        async def handle(records: list[ConsumerRecord]) -> None:
            for record in records:
                if self.source == "enriched":  # a raw replay counts what it read from news.raw
                    self.summary.read += 1
                positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
                if not await steps.to_sink(self.sink, record, redo_input_dlq=False):
                    self.summary.skipped[intake.INVALID_ENRICHED] = self.summary.skipped.get(intake.INVALID_ENRICHED, 0) + 1
                if self.sink.rows >= self.settings.sink_batch_rows:
                    await self._flush(steps, consumer, positions)

        await self._read(consumer, ranges, handle, progress, f"writing {self.settings.enriched_topic}")
        await self._flush(steps, consumer, positions)

    async def enrich_ranges(self, steps: Steps, consumer: AIOKafkaConsumer,
                            ranges: dict[TopicPartition, tuple[int, int]], progress: Progress | None,
                            own_sink: bool) -> dict[int, tuple[int, int]]:
        """Re-enrich these news.raw offsets and publish the results; with ``own_sink`` also write
        what was published. Returns the [first, end) offsets published per news.enriched partition."""
        positions: dict[TopicPartition, int] = {}
        published: dict[int, tuple[int, int]] = {}

        async def handle(records: list[ConsumerRecord]) -> None:
            for record in records:
                self.summary.read += 1
                positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
                outcome = await steps.enrich_and_publish(record, redo_input_dlq=False)
                if outcome.status == "skipped":
                    self.summary.skipped[outcome.kind] = self.summary.skipped.get(outcome.kind, 0) + 1
                    continue
                if outcome.status == "dlq":
                    self.summary.dlq += 1
                    continue
                self.summary.published += 1
                first, _ = published.get(outcome.partition, (outcome.offset, 0))
                published[outcome.partition] = (min(first, outcome.offset), outcome.offset + 1)
                if own_sink:
                    enriched = Message(self.settings.enriched_topic, outcome.partition, outcome.offset,
                                       record.key, outcome.payload)
                    await steps.to_sink(self.sink, enriched)
                    if self.sink.rows >= self.settings.sink_batch_rows:
                        await self._flush(steps, consumer, positions)
            if own_sink:
                await self._flush(steps, consumer, positions)
            else:  # published is durable: the raw positions may be committed
                await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()})

        await self._read(consumer, ranges, handle, progress, f"replaying {self.topic}")
        return published

    async def wait_for_workers(self, steps: Steps, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer,
                               published: dict[int, tuple[int, int]], progress: Progress | None) -> None:
        """Wait until the workers' group committed past every offset this run published; if the
        group goes away meanwhile, write what it has not committed of that with this run's own sink."""
        wanted = {TopicPartition(self.settings.enriched_topic, p): span for p, span in published.items()}
        task = progress.add_task("waiting for the workers' sink", total=None) if progress else None
        delays = Backoff(start=0.1, cap=1.0).delays()
        while True:
            committed = await admin.list_consumer_group_offsets(self.settings.worker_group, partitions=list(wanted))
            done = {tp: committed[tp].offset if tp in committed else -1 for tp in wanted}
            behind = {tp: (max(done[tp], first), end) for tp, (first, end) in wanted.items() if done[tp] < end}
            if not behind:
                self.summary.written += self.summary.published
                self.summary.writer = "workers"
                break
            if not await sink_group_live(admin, self.settings.worker_group):
                log.warning("the workers' group left during the replay; writing the rest here")
                await self.sink_ranges(steps, consumer, behind, progress)
                self.summary.written = self.summary.published
                break
            await asyncio.sleep(next(delays))
        if progress is not None and task is not None:
            progress.remove_task(task)

    async def run(self, start: datetime | None, stop: datetime | None, progress: Progress | None) -> ReplaySummary:
        started = time.monotonic()
        apply_migrations(self.settings)
        await ensure_topics(self.settings)
        consumer = make_consumer(self.settings, self.group)
        producer = make_producer(self.settings)
        admin = make_admin(self.settings)

        async def send(topic: str, key: bytes | None, value: bytes) -> object:
            return await (await producer.send(topic, key=key, value=value))

        steps = Steps(self.settings, send, self.pipeline,
                      marks=InflightMarks(self.settings.data_dir / "inflight" / self.group))
        await consumer.start()
        await producer.start()
        await admin.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or [])]
            if not partitions:
                raise ReplayError(f"topic {self.topic} does not exist or has no partitions")
            ranges = await _offset_range(consumer, partitions, start, stop)
            self.summary.planned = sum(last - first for first, last in ranges.values())
            if self.source == "enriched":
                await self.sink_ranges(steps, consumer, ranges, progress)
            else:
                workers = await sink_group_live(admin, self.settings.worker_group)
                published = await self.enrich_ranges(steps, consumer, ranges, progress, own_sink=not workers)
                if workers and published:
                    await self.wait_for_workers(steps, admin, consumer, published, progress)
        finally:
            self.sink.close()
            await admin.close()
            await producer.stop()
            await consumer.stop()
        self.summary.seconds = time.monotonic() - started
        return self.summary


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
