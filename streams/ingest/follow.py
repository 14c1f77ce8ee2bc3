"""``newsetl follow``: poll feeds, list pages and folders, publish what is new or edited to news.raw.

One poll of a web source reads its feed or list page (a conditional GET), then every article it
links: the page is fetched (conditional GET with the validators of the last version), reduced to
title, date and main text, and compared with the seen state (``seen.py``) by content hash —
unchanged pages are skipped, new ones published, edited ones published again under the same
doc_id (the newest run wins in the ``*_latest`` views). A folder source publishes each file
dropped in once, read exactly as ``newsetl produce`` reads it.

Per poll and source the report counts article pages ``fetched`` (answered 200 or 304; files
read, for a folder) and articles
``new``, ``updated``, ``skipped`` (unchanged, not modified, disallowed by robots.txt, or taken by
another follower) and ``failed`` (a failing feed or list page counts one). A failing source is
logged, counted in Prometheus and written to the status file; the other sources go on. When
Kafka is unreachable, the follower waits (backoff) and resumes: an article is marked seen only
after news.raw acknowledged it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from schemas.checks import length_problem
from schemas.models import RawDocument
from streams.ingest.articles import SUFFIXES, read_path
from streams.ingest.fetch import Fetcher, FetchError, RobotsDisallowed
from streams.ingest.pages import (
    Item,
    PageError,
    decode_page,
    extract_article,
    feed_items,
    list_links,
    normalize_url,
)
from streams.ingest.seen import SeenStore
from streams.ingest.sources import Source
from streams.retry import Backoff
from streams.settings import Settings
from streams.stream.kafka_clients import make_producer
from streams.stream.topics import ensure_topics

log = logging.getLogger("newsetl.follow")
T = TypeVar("T")

PAGES = Counter("newsetl_follow_articles_total", "Articles seen by follow, by outcome", ["source", "outcome"])
POLLS = Counter("newsetl_follow_polls_total", "Polls of a source", ["source"])
FAILURES = Counter("newsetl_follow_source_failures_total", "Polls whose feed, list page or folder failed",
                   ["source"])
KAFKA_WAITS = Counter("newsetl_follow_kafka_waits_total", "Times the follower found Kafka unreachable and waited")
UP = Gauge("newsetl_follow_source_up", "1 when the last poll of the source could read it, else 0", ["source"])
OUTCOMES = ("new", "updated", "skipped", "failed")


@dataclass(slots=True)
class PollReport:
    """What one poll of one source did."""

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None  # the feed, list page or folder itself failed
    failures: list[str] = field(default_factory=list)  # "url: reason", one per failed article
    seconds: float = 0.0
    doc_ids: list[str] = field(default_factory=list)  # published now (new or updated)

    def add(self, other: PollReport) -> None:
        for name in ("fetched", "new", "updated", "skipped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.doc_ids += other.doc_ids
        self.error = other.error or self.error
        self.seconds += other.seconds

    def line(self) -> str:
        text = (f"{self.source}: fetched {self.fetched}, new {self.new}, updated {self.updated}, "
                f"skipped {self.skipped}, failed {self.failed} in {self.seconds:.1f}s")
        return text + (f" — source failed: {self.error}" if self.error else "")


class Follower:
    """Polls sources and publishes to news.raw; ``run_once`` or ``run_forever``."""

    def __init__(self, sources: list[Source], settings: Settings, *, name: str = "follow",
                 on_poll: Callable[[PollReport], None] | None = None,
                 kafka_backoff: Backoff | None = None) -> None:
        self.sources = sources
        self.settings = settings
        self.name = name
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_poll = on_poll
        self.kafka_backoff = kafka_backoff or Backoff(start=0.5, cap=5.0)
        self.status: dict[str, dict[str, object]] = {}
        self._index_cache: dict[str, tuple[str | None, str | None, list[Item]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed: set[tuple[str, str]] = set()
        self._producer: AIOKafkaProducer | None = None
        self._seen: SeenStore | None = None
        self._fetcher: Fetcher | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Follower:
        await self._kafka(lambda: ensure_topics(self.settings), "create topics")
        self._producer = make_producer(self.settings, request_timeout_ms=10000)
        await self._kafka(self._producer.start, "start the producer")
        self._seen = SeenStore(self.settings, self._producer, self.owner)
        await self._kafka(self._seen.start, "read the seen state")
        self._fetcher = await Fetcher(self.settings).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._fetcher is not None:
            await self._fetcher.__aexit__()
        if self._seen is not None:
            await self._seen.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def run_once(self) -> list[PollReport]:
        """Poll every source once (concurrently); the reports in source order."""
        return list(await asyncio.gather(*(self.poll(source) for source in self.sources)))

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll each source on its interval (± jitter) until ``stop`` is set."""
        await asyncio.gather(*(self._loop(source, stop) for source in self.sources))

    async def _loop(self, source: Source, stop: asyncio.Event) -> None:
        if source.kind == "folder":
            await self._watch(source, stop)
            return
        while not stop.is_set():
            await self.poll(source)
            interval = source.interval or self.settings.follow_interval_seconds
            jitter = self.settings.follow_jitter
            try:
                await asyncio.wait_for(stop.wait(), interval * random.uniform(1 - jitter, 1 + jitter))
            except TimeoutError:
                pass

    async def _watch(self, source: Source, stop: asyncio.Event) -> None:
        import watchfiles

        await self.poll(source)
        interval = source.interval or self.settings.follow_interval_seconds
        # Changed files are read as soon as they settle; every interval the whole folder is read
        # again (a no-op for what was seen), so a file dropped before the watch began is not missed.
        async for changes in watchfiles.awatch(source.location, stop_event=stop, recursive=True,
                                               rust_timeout=int(interval * 1000), yield_on_timeout=True):
            if not changes:
                await self.poll(source)
                continue
            paths = sorted({Path(p) for change, p in changes if change != watchfiles.Change.deleted})
            files = [p for p in paths if p.is_file() and p.suffix.lower() in SUFFIXES]
            if files:
                await self.poll(source, files=files)

    # --- one poll -------------------------------------------------------------------------------
    async def poll(self, source: Source, files: list[Path] | None = None) -> PollReport:
        """One poll of ``source``; never raises for a failing site (it is in the report)."""
        started = time.monotonic()
        report = PollReport(source.name)
        try:
            if source.kind == "folder":
                await self._poll_folder(source, report, files)
            else:
                await self._poll_web(source, report)
        except (FetchError, PageError, OSError) as exc:
            report.error = str(exc)
            report.failed += 1
        report.seconds = time.monotonic() - started
        self._record(source, report)
        return report

    async def _poll_web(self, source: Source, report: PollReport) -> None:
        assert self._fetcher is not None
        etag, modified, cached = self._index_cache.get(source.location, (None, None, []))
        answer = await self._fetcher.fetch(source.location, etag, modified)
        if answer.status == 304:
            items = cached
        else:
            if source.kind == "feed":
                items = feed_items(answer.body, answer.url, answer.headers.get("Content-Type"), source.encoding)
            else:
                text, _ = decode_page(answer.body, answer.headers.get("Content-Type"), source.encoding)
                assert source.links is not None
                items = list_links(text, answer.url, source.links)
            self._index_cache[source.location] = (answer.etag, answer.last_modified, items)
        results = await asyncio.gather(*(self._article(source, item) for item in items))
        for result in results:
            report.add(result)

    async def _article(self, source: Source, item: Item) -> PollReport:
        assert self._fetcher is not None and self._seen is not None
        report = PollReport(source.name)
        previous = self._seen.for_url(normalize_url(item.url))
        try:
            answer = await self._fetcher.fetch(item.url, previous.etag if previous else None,
                                               previous.last_modified if previous else None)
            report.fetched += 1
            if answer.status == 304:
                report.skipped += 1
                return report
            # charset detection and main-text extraction take tens of milliseconds a page: off the
            # event loop, so that the other sources' fetches go on meanwhile
            text, _ = await asyncio.to_thread(decode_page, answer.body, answer.headers.get("Content-Type"),
                                              source.encoding)
            article = await asyncio.to_thread(extract_article, text, answer.url, item)
            too_long = length_problem(article.text, self.settings.max_doc_chars)
            if too_long:
                raise PageError(f"{answer.url}: {too_long}")
        except RobotsDisallowed:
            report.skipped += 1
            return report
        except (FetchError, PageError) as exc:
            report.failed += 1
            report.failures.append(str(exc))
            if (item.url, exc.kind if isinstance(exc, FetchError) else "page") not in self._failed:
                # once per URL and reason: a dead link in a feed would otherwise log every poll
                self._failed.add((item.url, exc.kind if isinstance(exc, FetchError) else "page"))
                log.warning("article failed", extra={"source": source.name, "url": item.url, "error": str(exc)})
            return report
        except Exception as exc:  # a parser bug on one odd page must not stop the other sources
            report.failed += 1
            report.failures.append(f"{item.url}: {type(exc).__name__}: {exc}")
            log.exception("article failed unexpectedly", extra={"source": source.name, "url": item.url})
            return report
        document = RawDocument(doc_id=article.doc_id, source=source.name, url=article.url,
                               canonical_url=article.canonical_url,
                               title=article.title, published_at=article.published_at, text=article.text,
                               source_region=source.region)
        outcome = await self._publish(article.canonical_url, document, article.content_hash,
                                      normalize_url(answer.url), answer.etag, answer.last_modified)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome != "skipped":
            report.doc_ids.append(document.doc_id)
        return report

    async def _poll_folder(self, source: Source, report: PollReport, files: list[Path] | None) -> None:
        root = Path(source.location)
        if not root.is_dir():
            raise OSError(f"folder {root} does not exist")
        paths = files if files is not None else sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        for path in paths:
            loaded = await asyncio.to_thread(lambda p=path: list(read_path(p, self.settings.max_doc_chars)))
            report.fetched += 1
            errors = [item for item in loaded if item.error]
            if errors:  # as in produce: a file with any invalid record is skipped whole
                report.failed += 1
                first = errors[0]
                report.failures.append(f"{path}{f':{first.line}' if first.line else ''}: {first.error}")
                if (str(path), str(first.error)) not in self._failed:  # once, not at every rescan
                    self._failed.add((str(path), str(first.error)))
                    log.warning("file failed", extra={"source": source.name, "path": str(path), "error": first.error})
                continue
            for item in loaded:
                if item.document is None:
                    continue
                doc = item.document
                if source.region and not doc.source_region:
                    doc = doc.model_copy(update={"source_region": source.region})
                outcome = await self._publish(f"file:{doc.doc_id}", doc, _text_hash(doc))
                setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome != "skipped":
                    report.doc_ids.append(doc.doc_id)

    # --- publishing -----------------------------------------------------------------------------
    async def _publish(self, key: str, document: RawDocument, content_hash: str, fetched: str | None = None,
                       etag: str | None = None, last_modified: str | None = None) -> str:
        """new | updated | skipped: claim this version, send it to news.raw, mark it done."""
        assert self._seen is not None and self._producer is not None
        seen, producer = self._seen, self._producer
        async with self._locks.setdefault(key, asyncio.Lock()):
            await self._kafka(seen.catch_up, "read the seen state")
            current = seen.get(key)
            if current is not None and current.hash == content_hash and (
                    current.state == "done" or (current.owner != self.owner
                                                and time.time() - current.at < self.settings.follow_claim_lease_seconds)):
                return "skipped"
            if not await self._kafka(lambda: seen.claim(key, document.doc_id, content_hash), "claim"):
                return "skipped"
            value = document.model_dump_json().encode("utf-8")

            async def send() -> None:
                await (await producer.send(self.settings.raw_topic, key=document.doc_id.encode("utf-8"), value=value))

            await self._kafka(send, "publish to news.raw")
            await self._kafka(lambda: seen.done(key, document.doc_id, content_hash, fetched, etag, last_modified),
                              "mark seen")
            updated = current is not None and current.hash != content_hash
            return "updated" if updated else "new"

    async def _kafka(self, action: Callable[[], Awaitable[T]], what: str) -> T:
        """``action`` until Kafka accepts it: a broker that is down is waited for, not an error."""
        delays = self.kafka_backoff.delays()
        waiting_since: float | None = None
        while True:
            try:
                result = await action()
            except (KafkaError, TimeoutError, ConnectionError) as exc:
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    KAFKA_WAITS.inc()
                    log.warning("waiting for Kafka", extra={"action": what, "error": f"{type(exc).__name__}: {exc}"})
                await asyncio.sleep(next(delays))
                continue
            if waiting_since is not None:
                log.warning("Kafka is back", extra={"action": what, "waited_s": round(time.monotonic() - waiting_since, 1)})
            return result

    # --- reporting ------------------------------------------------------------------------------
    def _record(self, source: Source, report: PollReport) -> None:
        POLLS.labels(source.name).inc()
        for outcome in OUTCOMES:
            if getattr(report, outcome):
                PAGES.labels(source.name, outcome).inc(getattr(report, outcome))
        UP.labels(source.name).set(0 if report.error else 1)
        if report.error:
            FAILURES.labels(source.name).inc()
            log.error("source failed", extra={"source": source.name, "error": report.error})
        log.info("poll", extra={k: v for k, v in asdict(report).items() if k not in ("failures", "doc_ids")})
        self.status[source.name] = {
            "kind": source.kind, "location": source.location, "last_poll": time.time(),
            "ok": report.error is None, "error": report.error, "new": report.new, "updated": report.updated,
            "failed": report.failed,
        }
        write_status(self.settings, self.name, self.status)
        if self.on_poll is not None:
            self.on_poll(report)


def _text_hash(doc: RawDocument) -> str:
    import hashlib

    stamp = doc.published_at.isoformat() if doc.published_at else ""
    return hashlib.sha256(f"{doc.title or ''}\n{stamp}\n{doc.text}".encode()).hexdigest()[:32]


def status_dir(settings: Settings) -> Path:
    return settings.data_dir / "follow"


def write_status(settings: Settings, name: str, sources: dict[str, dict[str, object]]) -> None:
    """``<data_dir>/follow/<name>.json``: pid, time and each source's last poll (for ``status``)."""
    folder = status_dir(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"pid": os.getpid(), "updated": time.time(), "sources": sources},
                                  ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / f"{name}.json")
    except OSError as exc:
        log.warning("cannot write the follow status file", extra={"error": str(exc)})


def read_statuses(settings: Settings) -> dict[str, dict[str, object]]:
    """Every follower's status file by name (unreadable ones left out)."""
    found: dict[str, dict[str, object]] = {}
    folder = status_dir(settings)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return found
