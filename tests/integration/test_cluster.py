"""Faults on a local three-broker Kafka cluster (``up --brokers 3``) with a fleet of workers.

- a broker (the leader of the busiest partition) is killed with SIGKILL while 5,000 documents
  stream through two workers, and started again later: nothing is lost or doubled, and every
  partition is back to three in-sync replicas;
- one of three workers on 12 partitions is killed halfway and a new one started: exact counts,
  and the killed worker's partitions are taken over by the others within 15 s (measured);
- the operator tools: ``newsetl kafka kafka-topics`` / ``kafka-consumer-groups`` and ``status``.

Every check ends with the accounting identity: documents in news.raw = documents in ClickHouse +
records in the DLQ, and metric rows = the documents' own ``metric_count``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.bench.etl import generated_documents
from streams.local import kafka, services
from streams.settings import Settings
from streams.stream.fleet import describe_group, describe_replicas
from streams.stream.kafka_clients import make_producer
from streams.stream.topics import ensure_topics
from tests.integration.conftest import KAFKA_LIBS, REPO, free_ports
from tests.integration.etl_helpers import WorkerProcess, isolated, poll, scalar, stable_members, topic_size

BROKERS = 3
PARTITIONS = 12
TAKEOVER_LIMIT = 15.0


def _block_free(base: int, count: int) -> bool:
    for port in range(base, base + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(count: int) -> int:
    """A first port with ``count`` consecutive free ports after it (node k uses base + 2(k-1))."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000, 2)
        if _block_free(base, count):
            return base
    raise AssertionError("no block of free ports")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Three KRaft nodes and a ClickHouse endpoint, started with ``services.up(brokers=3)``."""
    data = tmp_path_factory.mktemp("cluster")
    base = free_block(2 * BROKERS)
    (ch_port,) = free_ports(1)
    settings = Settings(
        kafka_broker=";".join(f"kafka://127.0.0.1:{base + 2 * k}" for k in range(BROKERS)),
        kafka_controller_port=base + 1,
        clickhouse_url=f"http://127.0.0.1:{ch_port}",
        data_dir=data,
        kafka_libs_dir=KAFKA_LIBS,
        topic_partitions=PARTITIONS,
    )
    try:
        statuses = services.up(settings, brokers=BROKERS)
        assert [s.address for s in statuses if s.name.startswith("kafka")] == [
            f"127.0.0.1:{base + 2 * k}" for k in range(BROKERS)]
        assert all(s.healthy for s in statuses), statuses
        yield settings
    finally:
        services.down(settings)


def stream_documents(settings: Settings, docs: list[dict], rate: float, sent: list[int]) -> threading.Thread:
    """Send ``docs`` to news.raw at about ``rate`` per second from a thread (idempotent producer,
    acks=all); ``sent[0]`` counts acknowledged sends; the thread ends when all are acknowledged."""

    async def run() -> None:
        producer = make_producer(settings)
        await producer.start()
        try:
            pending = []
            start = time.monotonic()
            for i, doc in enumerate(docs):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the stream, not waiting for a result
                future = await producer.send(settings.raw_topic, key=doc["doc_id"].encode(),
                                             value=json.dumps(doc, ensure_ascii=False).encode())
                future.add_done_callback(lambda f: sent.__setitem__(0, sent[0] + (f.exception() is None)))
                pending.append(future)
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return thread


def landed(settings: Settings) -> int:
    return scalar(settings, "SELECT count() FROM documents_latest")


def check_accounts(settings: Settings, expected: int) -> None:
    """raw = ClickHouse + DLQ, nothing doubled in *_latest, every metric row once."""
    assert topic_size(settings, settings.raw_topic) == expected
    dlq = topic_size(settings, settings.dlq_topic)
    assert dlq == 0, scalar(settings, "SELECT groupArray(error) FROM dlq")
    assert landed(settings) == scalar(settings, "SELECT uniqExact(doc_id) FROM documents_latest") == expected - dlq
    metrics = scalar(settings, "SELECT count() FROM metrics_latest")
    assert metrics == scalar(settings, "SELECT sum(metric_count) FROM documents_latest") > expected
    assert metrics == scalar(
        settings, "SELECT uniqExact(doc_id, paragraph_index, char_start, char_end) FROM metrics_latest")


def worker_logs(workers: list[WorkerProcess]) -> str:
    return "\n".join(f"--- {w.log_path.name}\n{w.log_tail(1500)}" for w in workers)


def start_workers(settings: Settings, tmp_path: Path, count: int, first: int = 0) -> list[WorkerProcess]:
    return [WorkerProcess(settings, tmp_path / f"worker-{first + i}.log") for i in range(count)]


def wait_members(settings: Settings, count: int, timeout: float, workers: list[WorkerProcess]) -> None:
    poll(lambda: stable_members(settings) == count, timeout, f"{count} workers sharing every partition", interval=0.5,
         on_timeout=lambda: worker_logs(workers))


@pytest.mark.timeout(420)
def test_a_killed_partition_leader_loses_and_doubles_nothing(cluster: Settings, tmp_path: Path) -> None:
    settings = isolated(cluster, "broker_kill")
    asyncio.run(ensure_topics(settings))
    replicas = poll(lambda: [r for r in [asyncio.run(describe_replicas(settings))] if len(r) == 3 * PARTITIONS],
                    60, "the new topics' leaders")[0]
    assert {(len(p.replicas), len(p.isr)) for p in replicas} == {(3, 3)}
    workers = start_workers(settings, tmp_path, 2)
    leader = None
    try:
        wait_members(settings, 2, 120, workers)
        docs = generated_documents(5000)
        sent = [0]
        producer = stream_documents(settings, docs, rate=250.0, sent=sent)
        poll(lambda: sent[0] >= 2500, 120, "half of the documents sent")

        # the busiest partition: the most messages so far; its leader goes down hard
        ends = asyncio.run(describe_group(settings, topics=[settings.raw_topic])).partitions
        busiest = max(ends, key=lambda p: p.end)
        leader = next(p.leader for p in asyncio.run(describe_replicas(settings, [settings.raw_topic]))
                      if p.partition == busiest.partition)
        node = next(n for n in kafka.nodes(settings) if n.node_id == leader)
        pid = int((node.home / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        poll(lambda: not services.process_alive(pid), 10, "the broker to die")

        # the cluster notices (leaders move, the ISR shrinks) and goes on with two brokers
        def moved_on() -> bool:
            parts = asyncio.run(describe_replicas(settings))
            return all(p.leader != leader and leader not in p.isr for p in parts)

        poll(moved_on, 60, "leadership to leave the killed broker")
        print(f"\nbroker {leader} killed; its partitions had new leaders after {time.monotonic() - killed_at:.1f} s")
        poll(lambda: sent[0] >= 4000 or not producer.is_alive(), 180, "the stream to go on without the broker",
             on_timeout=lambda: worker_logs(workers))
        status = services.start_broker(settings, leader)
        assert status.healthy, status
        producer.join(240)
        assert not producer.is_alive() and sent[0] == len(docs)

        poll(lambda: landed(settings) >= len(docs), 240, "every document in ClickHouse",
             on_timeout=lambda: worker_logs(workers))
        poll(lambda: all(len(p.isr) == 3 for p in asyncio.run(describe_replicas(settings))), 120,
             "every partition back to three in-sync replicas")
        assert all(w.proc.poll() is None for w in workers), worker_logs(workers)
        check_accounts(settings, len(docs))
    finally:
        for worker in workers:
            worker.stop()
        if leader is not None:
            services.start_broker(settings, leader)  # the next tests need all three (no-op if running)


@pytest.mark.timeout(420)
def test_a_killed_worker_is_replaced_and_its_partitions_taken_over_in_time(cluster: Settings, tmp_path: Path) -> None:
    settings = isolated(cluster, "worker_kill")
    asyncio.run(ensure_topics(settings))
    workers = start_workers(settings, tmp_path, 3)
    try:
        wait_members(settings, 3, 180, workers)
        docs = generated_documents(3000)
        sent = [0]
        producer = stream_documents(settings, docs, rate=150.0, sent=sent)
        poll(lambda: landed(settings) >= 1000, 180, "a third of the documents in ClickHouse",
             on_timeout=lambda: worker_logs(workers))

        victim = workers[0]
        before = asyncio.run(describe_group(settings, topics=[settings.raw_topic]))
        victim_id = next(m.member_id for m in before.members if m.client_id.endswith(f"-{victim.proc.pid}"))
        orphaned = {p.partition for p in before.partitions if p.owner == victim_id}
        assert orphaned
        victim.kill()
        killed_at = time.monotonic()

        def taken_over() -> bool:
            report = asyncio.run(describe_group(settings, topics=[settings.raw_topic]))
            owners = {p.partition: p.owner for p in report.partitions}
            return (report.state == "Stable" and victim_id not in {m.member_id for m in report.members}
                    and all(owners.get(p) for p in orphaned))

        poll(taken_over, 60, "the killed worker's partitions to be taken over", interval=0.25)
        takeover = time.monotonic() - killed_at
        print(f"\nkilled worker's {len(orphaned)} partitions taken over after {takeover:.1f} s")
        assert takeover <= TAKEOVER_LIMIT

        workers += start_workers(settings, tmp_path, 1, first=3)
        producer.join(120)
        assert not producer.is_alive() and sent[0] == len(docs)
        wait_members(settings, 3, 180, workers)
        poll(lambda: landed(settings) >= len(docs), 240, "every document in ClickHouse",
             on_timeout=lambda: worker_logs(workers))
        assert all(w.proc.poll() is None for w in workers[1:]), worker_logs(workers)
        check_accounts(settings, len(docs))
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.stop()


def newsetl(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_status_and_the_kafka_tools_see_every_broker_and_the_group(cluster: Settings, tmp_path: Path) -> None:
    settings = isolated(cluster, "tools", topic_partitions=3)
    asyncio.run(ensure_topics(settings))
    topics = newsetl(settings, "kafka", "kafka-topics", "--describe", "--topic", settings.raw_topic)
    assert topics.returncode == 0, topics.stderr
    assert "ReplicationFactor: 3" in topics.stdout and "min.insync.replicas=2" in topics.stdout
    assert topics.stdout.count("Isr: ") == 3

    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        wait_members(settings, 1, 120, [worker])
        groups = newsetl(settings, "kafka", "kafka-consumer-groups", "--describe", "--members",
                         "--group", settings.worker_group)
        assert groups.returncode == 0, groups.stderr
        assert f"newsetl-worker-{socket.gethostname()}-{worker.proc.pid}" in groups.stdout

        status = newsetl(settings, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        for k in range(BROKERS):
            assert f"kafka {k + 1}/3" in status.stdout
        assert "topics: 9 partitions, replication factor 3, 0 under-replicated" in status.stdout
        assert f"worker group {settings.worker_group}: Stable, 1 member(s)" in status.stdout
        assert f"{settings.raw_topic} 0-2" in status.stdout
        assert "lag per partition (total 0)" in status.stdout
    finally:
        worker.stop()

    unknown = newsetl(settings, "kafka", "kafka-nonsense")
    assert unknown.returncode == 1 and "unknown Kafka tool 'kafka-nonsense'" in unknown.stderr
