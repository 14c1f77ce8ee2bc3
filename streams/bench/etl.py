"""End-to-end ETL benchmark on the configured stack (``newsetl bench etl``).

Sends N generated articles straight to a scratch ``news.raw`` (own topic prefix, consumer group and
database), runs one real worker process (warmed up with one document), and measures documents per
second from the first message to the last document visible in ``documents_latest``; then, with the worker warm and idle, the
latency from producing one article to seeing it in ClickHouse (median of a few). Scratch topics and
the scratch database are deleted afterwards.
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
from pathlib import Path

from streams.errors import UserError
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
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


def _count(settings: Settings) -> int:
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        return int(client.query("SELECT count() FROM documents_latest").result_rows[0][0])
    finally:
        client.close()


def _wait_count(settings: Settings, target: int, timeout: float, interval: float = 0.05) -> float:
    started = time.monotonic()
    while _count(settings) < target:
        if time.monotonic() - started > timeout:
            raise UserError(f"benchmark timed out waiting for {target} documents in ClickHouse")
        time.sleep(interval)
    return time.monotonic()


def bench_etl(settings: Settings, documents: int = 2000, latency_samples: int = 5) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    scratch = settings.model_copy(update={
        "topic_prefix": f"bench{tag}.", "clickhouse_database": f"bench_{tag}", "worker_group": f"bench-{tag}",
        "metrics_port": 0,
    })
    apply_migrations(scratch)
    asyncio.run(ensure_topics(scratch))
    log = tempfile.NamedTemporaryFile(prefix="newsetl-bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env={**os.environ, **scratch.to_env()},
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        # One warm-up document: the worker has started and joined its group once it is visible.
        asyncio.run(_send(scratch, generated_documents(1, start=10**6)))
        _wait_count(scratch, 1, timeout=180)
        docs = generated_documents(documents)
        started = time.monotonic()
        asyncio.run(_send(scratch, docs))
        produced = time.monotonic()
        done = _wait_count(scratch, documents + 1, timeout=max(600.0, documents * 0.5))
        latencies = []
        for i in range(latency_samples):
            one = generated_documents(1, start=documents + i)
            sent = time.monotonic()
            asyncio.run(_send(scratch, one))
            latencies.append(_wait_count(scratch, documents + i + 2, timeout=120) - sent)
        return {
            "documents": documents,
            "produce_seconds": round(produced - started, 3),
            "end_to_end_seconds": round(done - started, 3),
            "docs_per_second": round(documents / (done - started), 1),
            "latency_median_s": round(statistics.median(latencies), 3),
            "latency_max_s": round(max(latencies), 3),
            "worker_log": Path(log.name).as_posix(),  # type: ignore[dict-item]
        }
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        make_client(scratch).command(f"DROP DATABASE IF EXISTS {scratch.clickhouse_database}")
        asyncio.run(_delete_topics(scratch))
