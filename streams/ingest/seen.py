"""What followers already ingested, kept in a compacted Kafka topic ``<prefix>news.seen``.

One record per article key (the canonical URL, or ``file:<doc_id>`` for folder documents), value
JSON: content hash, doc_id, state (``claimed`` | ``done``), owner (one follower process), time,
and the HTTP validators (ETag, Last-Modified) of the page for conditional GETs. Every follower
reads the whole topic when it starts and then follows it, so a restart re-ingests nothing and
followers on different machines share what they know.

Two followers that find the same new version at the same time both *claim* it; the claim that
reaches the topic first wins (one partition, so every reader folds the records in the same order
and reaches the same verdict), and only the winner publishes it. A claim whose owner died
before publishing may be taken over once ``follow_claim_lease_seconds`` have passed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.settings import Settings
from streams.stream.kafka_clients import make_consumer
from streams.stream.topics import create_missing


@dataclass(frozen=True, slots=True)
class SeenEntry:
    """The state of one article key."""

    key: str
    doc_id: str
    hash: str
    state: str  # claimed | done
    owner: str
    at: float  # unix time the record was written
    fetched: str | None = None  # the URL whose validators these are
    etag: str | None = None
    last_modified: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")


def seen_topic(settings: Settings) -> str:
    return settings.topic("seen")


class SeenState:
    """The folded view of the seen topic; ``fold`` is the same in every follower."""

    def __init__(self, lease: float) -> None:
        self.lease = lease
        self.entries: dict[str, SeenEntry] = {}
        self.aliases: dict[str, str] = {}  # fetched URL -> key

    def fold(self, entry: SeenEntry | None, key: str) -> None:
        if entry is None:  # a tombstone
            self.entries.pop(key, None)
            return
        current = self.entries.get(key)
        if (entry.state == "claimed" and current is not None and current.hash == entry.hash
                and current.owner != entry.owner
                and (current.state == "done" or entry.at - current.at < self.lease)):
            return  # someone else already has (or had) this version
        self.entries[key] = entry
        if entry.fetched:
            self.aliases[entry.fetched] = key

    def get(self, key: str) -> SeenEntry | None:
        return self.entries.get(key)

    def for_url(self, url: str) -> SeenEntry | None:
        """The entry whose page was last fetched from ``url`` (for its ETag / Last-Modified)."""
        key = self.aliases.get(url)
        return self.entries.get(key) if key else None


class SeenStore:
    """The seen topic, read from the beginning at start and followed; writes wait for the ack."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer, owner: str) -> None:
        self.settings = settings
        self.producer = producer
        self.owner = owner
        self.topic = seen_topic(settings)
        self.partition = TopicPartition(self.topic, 0)
        self.state = SeenState(settings.follow_claim_lease_seconds)
        self._consumer: AIOKafkaConsumer | None = None
        self._read_lock = asyncio.Lock()

    async def start(self) -> None:
        await ensure_seen_topic(self.settings)
        # A short request timeout (the default is 40 s) turns an outage into an error the
        # follower logs and counts while it waits, instead of a silent stall.
        self._consumer = make_consumer(self.settings, None, max_partition_fetch_bytes=1024 * 1024,
                                       request_timeout_ms=12000)
        await self._consumer.start()
        self._consumer.assign([self.partition])
        await self._consumer.seek_to_beginning(self.partition)
        await self.catch_up()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self, past: int | None = None, timeout: float = 30.0) -> None:
        """Fold every record up to the current end of the topic (or past offset ``past``)."""
        assert self._consumer is not None
        async with self._read_lock:
            if past is None:
                past = (await self._consumer.end_offsets([self.partition]))[self.partition] - 1
            deadline = time.monotonic() + timeout
            while await self._consumer.position(self.partition) <= past:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {self.topic} up to offset {past} in {timeout:g}s")
                batch = await self._consumer.getmany(self.partition, timeout_ms=500)
                for record in batch.get(self.partition, []):
                    key = record.key.decode("utf-8") if record.key else ""
                    entry = _entry(record.value)
                    if entry is not None or record.value is None:  # skip what is not ours
                        self.state.fold(entry, key)

    def get(self, key: str) -> SeenEntry | None:
        return self.state.get(key)

    def for_url(self, url: str) -> SeenEntry | None:
        return self.state.for_url(url)

    async def _write(self, entry: SeenEntry) -> int:
        meta = await (await self.producer.send(
            self.topic, key=entry.key.encode("utf-8"), value=entry.to_json(), partition=0))
        return meta.offset

    async def claim(self, key: str, doc_id: str, content_hash: str) -> bool:
        """Claim this version of ``key``; true when this follower won and should publish it."""
        entry = SeenEntry(key, doc_id, content_hash, "claimed", self.owner, time.time())
        offset = await self._write(entry)
        await self.catch_up(past=offset)
        winner = self.state.get(key)
        return winner is not None and winner.owner == self.owner and winner.hash == content_hash \
            and winner.state == "claimed" and winner.at == entry.at

    async def done(self, key: str, doc_id: str, content_hash: str, fetched: str | None = None,
                   etag: str | None = None, last_modified: str | None = None) -> None:
        """Record that this version is in news.raw (durably, before returning)."""
        entry = SeenEntry(key, doc_id, content_hash, "done", self.owner, time.time(), fetched, etag, last_modified)
        await self._write(entry)
        self.state.fold(entry, key)


def _entry(value: bytes | None) -> SeenEntry | None:
    if not value:
        return None
    try:
        data = json.loads(value)
        return SeenEntry(**{k: data.get(k) for k in SeenEntry.__dataclass_fields__})
    except (ValueError, TypeError):
        return None  # not ours; ignore rather than stop every follower


async def ensure_seen_topic(settings: Settings) -> None:
    """Create the compacted seen topic (one partition) when missing."""
    config = {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "3600000"}
    await create_missing(settings, {seen_topic(settings): (1, config)})
