"""The Kafka broker configuration and Metadata probe, without a broker."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

from streams.local import kafka
from streams.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        kafka_broker="kafka://127.0.0.1:19092",
        kafka_controller_port=19093,
        data_dir=tmp_path / "data",
        topic_partitions=6,
    )


def test_render_properties(tmp_path: Path) -> None:
    text = kafka.render_properties(_settings(tmp_path))
    props = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str((tmp_path / "data" / "kafka" / "data").resolve())
    assert props["num.partitions"] == "6"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"
    assert props["log.retention.ms"] == "-1"


def test_libs_dir_default_and_override(tmp_path: Path) -> None:
    assert kafka.libs_dir(_settings(tmp_path)) == (tmp_path / "data" / "kafka-libs").resolve()
    other = _settings(tmp_path).model_copy(update={"kafka_libs_dir": tmp_path / "jars"})
    assert kafka.libs_dir(other) == (tmp_path / "jars").resolve()


def test_libs_present_needs_marker_and_jar(tmp_path: Path) -> None:
    assert not kafka.libs_present(tmp_path)
    (tmp_path / "kafka_2.13-3.9.1.jar").write_bytes(b"")
    assert not kafka.libs_present(tmp_path)
    (tmp_path / kafka.MARKER).write_text("3.9.1")
    assert kafka.libs_present(tmp_path) and kafka.kafka_version(tmp_path) == "3.9.1"


def test_probe_parses_a_metadata_response() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            size = struct.unpack(">i", conn.recv(4))[0]
            request = conn.recv(size)
            assert struct.unpack_from(">hh", request) == (3, 0)  # Metadata v0
            correlation = struct.unpack_from(">i", request, 4)[0]
            host = b"127.0.0.1"
            body = struct.pack(">ii", correlation, 1) + struct.pack(">ih", 1, len(host)) + host
            body += struct.pack(">i", port) + struct.pack(">i", 0)
            conn.sendall(struct.pack(">i", len(body)) + body)

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert kafka.metadata_brokers("127.0.0.1", port) == [(1, "127.0.0.1", port)]
    finally:
        thread.join(5)
        server.close()


def test_probe_false_when_nothing_listens() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert kafka.probe("127.0.0.1", port, timeout=0.5) is False


def test_cluster_ids_never_start_with_a_dash():
    from streams.local.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]
    assert all(not cid.startswith("-") and len(cid) == 22 for cid in ids)
    assert len(set(ids)) == len(ids)
