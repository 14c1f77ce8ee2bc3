"""Helpers for the streaming-ETL integration tests: isolated settings, worker processes, polling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiokafka import TopicPartition

from streams.retry import Backoff, PollTimeout, poll_until
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
from streams.stream.kafka_clients import make_consumer, make_producer

REPO = Path(__file__).resolve().parents[2]


def isolated(stack: Settings, name: str, **overrides: Any) -> Settings:
    """Settings on the shared stack with their own topics, consumer group and database."""
    tag = f"{name}_{uuid.uuid4().hex[:6]}"
    settings = stack.model_copy(update={
        "topic_prefix": f"{tag}.", "clickhouse_database": f"t_{tag}", "worker_group": f"g_{tag}",
        "metrics_port": 0, "sink_flush_seconds": 0.5, "log_level": "INFO", **overrides,
    })
    apply_migrations(settings)
    return settings


class WorkerProcess:
    """``newsetl worker`` as a real child process (killable with SIGKILL)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        env = {**os.environ, **settings.to_env()}
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], cwd=REPO, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def poll(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3,
         on_timeout: Callable[[], str] | None = None) -> Any:
    """Call ``check`` until it returns a truthy value (returned); fail with ``what`` after
    ``timeout`` seconds, showing the last value and ``on_timeout()``."""
    last: Any = None

    def holds() -> bool:
        nonlocal last
        last = check()
        return bool(last)

    try:
        poll_until(holds, timeout, what, backoff=Backoff(start=interval, cap=interval))
    except PollTimeout:
        extra = on_timeout() if on_timeout else ""
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})\n{extra}") from None
    return last


def stop_clickhouse(settings: Settings) -> None:
    """SIGTERM the stack's ClickHouse endpoint and wait until its process is gone (not only
    silent: ``services.up`` would otherwise find it still running)."""
    from streams.local import services

    pid_file = settings.data_dir / "clickhouse" / "clickhouse.pid"
    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    poll(lambda: next(s for s in services.status(settings) if s.name == "clickhouse").pid is None, 60,
         "the ClickHouse endpoint to exit")


def http_request(settings: Settings, params: dict[str, str], body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, Any, bytes]:
    """A raw HTTP request to the ClickHouse endpoint as curl sends it (POST with a body, else
    GET); returns (status, headers, body bytes), also for an error status."""
    url = settings.clickhouse_url.rstrip("/") + "/?" + urlencode(params)
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def scalar(settings: Settings, sql: str, **params: Any) -> Any:
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        return client.query(sql, parameters=params or None).result_rows[0][0]
    finally:
        client.close()


def send_raw(settings: Settings, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    """Send (key, value) pairs to news.raw with aiokafka, bypassing ``newsetl produce``."""

    async def run() -> None:
        from streams.stream.topics import ensure_topics

        await ensure_topics(settings)
        producer = make_producer(settings)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(settings.raw_topic, key=key, value=value)
        finally:
            await producer.stop()

    asyncio.run(run())


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every message currently in ``topic`` (from the beginning to the end offsets)."""

    async def run() -> list[Any]:
        consumer = make_consumer(settings, None)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
            if not partitions:
                await consumer.topics()
                partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
            if not partitions:
                return []
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            out: list[Any] = []
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    out.extend(records)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def topic_size(settings: Settings, topic: str) -> int:
    """Number of messages in a topic (sum of end offsets; topics here are never compacted)."""

    async def run() -> int:
        consumer = make_consumer(settings, None)
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
            return sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
        finally:
            await consumer.stop()

    return asyncio.run(run())


def stable_members(settings: Settings) -> int:
    """Members of the workers' group once it is stable with every news.raw partition owned (0
    before it exists or while it rebalances)."""
    from aiokafka.errors import KafkaError

    from streams.stream.fleet import describe_group

    try:
        report = asyncio.run(describe_group(settings, topics=[settings.raw_topic]))
    except KafkaError:
        return 0  # no group yet: the offsets topic appears with the first one
    owned = all(p.owner is not None for p in report.partitions)
    return len(report.members) if report.state == "Stable" and owned else 0
