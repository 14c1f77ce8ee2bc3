"""End-to-end ETL benchmarks on the configured stack (``newsetl bench etl``, and ``newsetl bench``).

``bench_etl`` sends N articles straight to a scratch ``news.raw`` (own topic prefix, consumer group
and database), runs one or more real worker processes (warmed up: each has taken documents), and
measures documents per second from the first message to the last document visible in
``documents_latest``; then, with the workers idle, the latency from producing one article to seeing
it in ClickHouse (median of a few). ``bench_latency`` offers documents at a fixed rate and reports
produce → visible percentiles. Scratch topics and the scratch database are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.errors import UserError
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
from streams.stream.fleet import describe_group
from streams.stream.kafka_clients import make_admin, make_producer
from streams.stream.topics import ensure_topics

TOWNS = ["城关镇", "石门镇", "青山乡", "河口镇", "柳林乡", "白水镇", "龙泉镇", "东山乡"]


def generated_documents(count: int, start: int = 0) -> list[dict]:
    """Short, varied, deterministic articles with numbers (RawDocument fields)."""
    docs = []
    for i in range(start, start + count):
        town = TOWNS[i % len(TOWNS)]
        text = (
            f"{town}第{i}号简报\n"
            f"2020年，{town}建档立卡贫困户{300 + i % 97}户{900 + i % 389}人全部脱贫，"
            f"贫困发生率由{5 + i % 7}.{i % 10}%降至0.{i % 9 + 1}%。\n"
            f"全镇发展产业基地{10 + i % 13}个，带动就业{200 + i % 51}人，人均纯收入达到{8000 + i}元。\n"
            f"开展技能培训{i % 40 + 3}场次，发放教育资助资金{i % 60 + 12}万元。"
        )
        docs.append({"doc_id": f"gen-{i:05d}", "source": "generated", "title": f"{town}第{i}号简报", "text": text})
    return docs


async def _send(settings: Settings, docs: list[dict]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(settings.raw_topic, key=d["doc_id"].encode(),
                                       value=json.dumps(d, ensure_ascii=False).encode()) for d in docs]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _delete_topics(settings: Settings) -> None:
    admin = make_admin(settings)
    await admin.start()
    try:
        await admin.delete_topics([settings.raw_topic, settings.enriched_topic, settings.dlq_topic])
    finally:
        await admin.close()


def _count(settings: Settings, client: Client | None = None) -> int:
    own = client is None
    client = client or make_client(settings, database=settings.clickhouse_database)
    try:
        return int(client.query("SELECT count() FROM documents_latest").result_rows[0][0])
    finally:
        if own:
            client.close()


def _rows_written(client: Client) -> int:
    return int(client.query("SELECT count() FROM documents").result_rows[0][0])


#: a count further than this from its target is polled more slowly (a few documents: every interval)
FEW_DOCS = 50
#: the longest wait between two counts
MAX_POLL_S = 0.5


def poll_delay(remaining: int, rate: float | None, interval: float) -> float:
    """Seconds before the next count when ``remaining`` documents are still to come at ``rate``
    documents a second (None: not known yet): a quarter of the time they should take, between
    ``interval`` and MAX_POLL_S. Each count costs the engine ~5 ms of CPU (measured): 20 a second
    for a whole run took a tenth of a core from the stream under test."""
    if remaining <= FEW_DOCS:
        return interval
    if not rate or rate <= 0:
        return min(MAX_POLL_S, 4 * interval)
    return min(MAX_POLL_S, max(interval, remaining / rate / 4))


def _wait_count(settings: Settings, target: int, timeout: float, interval: float = 0.05) -> float:
    started = time.monotonic()
    # one client for every poll: a new one per poll cost the engine more than the count itself
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        # the base table's row count first (from the parts' metadata): a FINAL count of the view
        # 20 times a second took a sixth of a core from the engine under test (measured); the
        # view confirms the documents are visible once the rows are there
        first: tuple[float, int] | None = None
        while (written := _rows_written(client)) < target or _count(settings, client) < target:
            now = time.monotonic()
            if now - started > timeout:
                raise UserError(f"benchmark timed out waiting for {target} documents in ClickHouse")
            first = first or (now, written)
            rate = (written - first[1]) / (now - first[0]) if written > first[1] else None
            time.sleep(poll_delay(target - written, rate, interval))
        return time.monotonic()
    finally:
        client.close()


@contextmanager
def scratch_workers(settings: Settings, workers: int = 1) -> Iterator[tuple[Settings, list[subprocess.Popen[bytes]]]]:
    """Scratch topics, consumer group and database on the configured stack with ``workers`` real
    worker processes, warmed up (each has joined the group once a first document is visible);
    everything is stopped and deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    scratch = settings.model_copy(update={
        "topic_prefix": f"bench{tag}.", "clickhouse_database": f"bench_{tag}", "worker_group": f"bench-{tag}",
        "metrics_port": 0,
    })
    apply_migrations(scratch)
    asyncio.run(ensure_topics(scratch))
    log = tempfile.NamedTemporaryFile(prefix="newsetl-bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    procs = [subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env={**os.environ, **scratch.to_env()},
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        # warm-up documents on every partition: each worker has started and owns partitions
        warm = generated_documents(scratch.topic_partitions * 2, start=10**6)
        asyncio.run(_send(scratch, warm))
        _wait_count(scratch, len(warm), timeout=240)
        _wait_group(scratch, workers, timeout=240)
        yield scratch, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        make_client(scratch).command(f"DROP DATABASE IF EXISTS {scratch.clickhouse_database}")
        asyncio.run(_delete_topics(scratch))


def _wait_group(settings: Settings, workers: int, timeout: float) -> None:
    """Until the group is stable with ``workers`` members, each owning news.raw partitions: a
    worker joining during a measured run stopped the stream for a rebalance (one two-worker run
    measured 145 docs/s between runs of 263 and 361)."""
    deadline = time.monotonic() + timeout
    while True:
        report = asyncio.run(describe_group(settings, topics=[settings.raw_topic]))
        owners = [m for m in report.members if any(t == settings.raw_topic for t, _ in m.partitions)]
        if report.state == "Stable" and len(report.members) == workers and len(owners) == workers:
            return
        if time.monotonic() > deadline:
            raise UserError(f"benchmark: the worker group did not settle with {workers} members")
        time.sleep(0.2)


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a live process in MB, None where /proc has no such entry."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def bench_etl(settings: Settings, documents: int = 2000, latency_samples: int = 5, *,
              docs: list[dict] | None = None, workers: int = 1) -> dict[str, float]:
    """Documents per second through ``workers`` workers for ``docs`` (default: ``documents``
    generated short articles), then the produce → visible latency of single documents."""
    docs = docs if docs is not None else generated_documents(documents)
    with scratch_workers(settings, workers) as (scratch, procs):
        before = _count(scratch)
        started = time.monotonic()
        asyncio.run(_send(scratch, docs))
        produced = time.monotonic()
        done = _wait_count(scratch, before + len(docs), timeout=max(600.0, len(docs) * 0.5))
        latencies = []
        for i in range(latency_samples):
            one = generated_documents(1, start=10**7 + i)
            sent = time.monotonic()
            asyncio.run(_send(scratch, one))
            latencies.append(_wait_count(scratch, before + len(docs) + i + 1, timeout=120) - sent)
        result: dict[str, float] = {
            "documents": len(docs),
            "workers": workers,
            "produce_seconds": round(produced - started, 3),
            "end_to_end_seconds": round(done - started, 3),
            "docs_per_second": round(len(docs) / (done - started), 1),
            "worker_peak_rss_mb": max((peak_rss_mb(p.pid) or 0.0) for p in procs),
        }
        if latencies:
            result["latency_median_s"] = round(statistics.median(latencies), 3)
            result["latency_max_s"] = round(max(latencies), 3)
        return result


def _visible_since(client: Client, prefix: str) -> set[str]:
    rows = client.query("SELECT doc_id FROM documents WHERE startsWith(doc_id, {p:String})",
                        parameters={"p": prefix}).result_rows
    return {row[0] for row in rows}


def bench_latency(settings: Settings, docs: list[dict], rate: float = 50.0, seconds: float = 60.0) -> dict[str, float]:
    """Produce → visible latency at a fixed offered rate: one worker, ``rate`` documents a second
    for ``seconds`` (taken round-robin from ``docs`` under fresh ids); p50/p95/p99 in seconds and
    the worker's peak RSS."""
    total = int(rate * seconds)
    prefix = f"lat-{uuid.uuid4().hex[:6]}-"
    batch = [{**docs[i % len(docs)], "doc_id": f"{prefix}{i:06d}"} for i in range(total)]
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    with scratch_workers(settings, 1) as (scratch, procs):

        async def produce() -> None:
            producer = make_producer(scratch)
            await producer.start()
            try:
                start = time.monotonic()
                pending = []
                for i, doc in enumerate(batch):
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sent_at[doc["doc_id"]] = time.monotonic()
                    pending.append(await producer.send(scratch.raw_topic, key=doc["doc_id"].encode(),
                                                       value=json.dumps(doc, ensure_ascii=False).encode()))
                await asyncio.gather(*pending)
            finally:
                await producer.stop()

        def watch() -> None:
            deadline = time.monotonic() + seconds + 300
            client = make_client(scratch, database=scratch.clickhouse_database)  # one for every poll
            try:
                while len(seen_at) < total and time.monotonic() < deadline:
                    now = time.monotonic()
                    for doc_id in _visible_since(client, prefix) - seen_at.keys():
                        seen_at[doc_id] = now
                    time.sleep(0.05)
            finally:
                client.close()

        async def run() -> None:
            await asyncio.gather(produce(), asyncio.to_thread(watch))

        asyncio.run(run())
        rss = peak_rss_mb(procs[0].pid)
    if len(seen_at) < total:
        raise UserError(f"latency benchmark: only {len(seen_at)} of {total} documents became visible")
    latencies = sorted(seen_at[doc_id] - sent_at[doc_id] for doc_id in sent_at)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"offered_docs_s": rate, "seconds": seconds, "documents": total,
            "p50_s": round(quantiles[49], 3), "p95_s": round(quantiles[94], 3), "p99_s": round(quantiles[98], 3),
            "worker_peak_rss_mb": rss or 0.0}
