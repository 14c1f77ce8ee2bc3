"""The Kafka broker configuration and Metadata probe, without a broker."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest

from streams.local import ServiceError, kafka
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


def test_libs_present_needs_marker_broker_and_tools(tmp_path: Path) -> None:
    assert not kafka.libs_present(tmp_path)
    (tmp_path / "kafka_2.13-3.9.1.jar").write_bytes(b"")
    assert not kafka.libs_present(tmp_path)
    (tmp_path / kafka.MARKER).write_text("3.9.1")
    assert not kafka.libs_present(tmp_path), "a cache from before the tools were fetched is fetched again"
    (tmp_path / "kafka-tools-api-3.9.1.jar").write_bytes(b"")
    assert not kafka.libs_present(tmp_path)
    (tmp_path / "kafka-tools-3.9.1.jar").write_bytes(b"")
    assert kafka.libs_present(tmp_path) and kafka.kafka_version(tmp_path) == "3.9.1"


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_three_nodes_share_one_quorum_and_keep_three_copies(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"kafka_brokers": 3})
    nodes = kafka.nodes(settings)
    assert [(n.name, n.port, n.controller_port) for n in nodes] == [
        ("kafka", 19092, 19093), ("kafka-2", 19094, 19095), ("kafka-3", 19096, 19097)]
    assert [n.home for n in nodes] == [(tmp_path / "data" / d).resolve() for d in ("kafka", "kafka-2", "kafka-3")]
    props = _props(kafka.render_properties(settings, nodes[2]))
    assert props["node.id"] == "3"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19096,CONTROLLER://127.0.0.1:19097"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19096"
    assert props["log.dirs"] == str((tmp_path / "data" / "kafka-3" / "data").resolve())
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor", "default.replication.factor"):
        assert props[key] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert props["unclean.leader.election.enable"] == "false"


def test_replication_follows_the_number_of_brokers() -> None:
    assert [Settings.replication(n) for n in (0, 1, 2, 3, 5)] == [(1, 1), (1, 1), (2, 1), (3, 2), (3, 2)]


def test_storage_formatted_for_another_size_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert kafka.recorded_brokers(settings) is None and kafka.broker_count(settings) == 1
    kafka.check_layout(settings, 3)  # nothing formatted yet: any size
    home = kafka.kafka_dir(settings)
    (home / "data").mkdir(parents=True)
    (home / "data" / "meta.properties").write_text("node.id=1\n")
    assert kafka.recorded_brokers(settings) == 1  # formatted before clusters existed: one node
    (home / kafka.LAYOUT).write_text('{"brokers": 3}\n')
    assert kafka.recorded_brokers(settings) == kafka.broker_count(settings) == 3
    assert len(kafka.nodes(settings)) == 3  # `up`, `status` and `down` without --brokers find all three
    kafka.check_layout(settings, 3)
    with pytest.raises(ServiceError) as refused:
        kafka.check_layout(settings, 1)
    message = str(refused.value)
    assert "\n" not in message and "formatted for 3 broker(s), not 1" in message and "--brokers 3" in message


def test_tool_command_adds_every_local_broker_unless_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path).model_copy(update={"kafka_brokers": 3, "kafka_libs_dir": tmp_path / "libs"})
    libs = tmp_path / "libs"
    libs.mkdir()
    for jar in ("kafka_2.13-3.9.1.jar", "kafka-tools-3.9.1.jar"):
        (libs / jar).write_bytes(b"")
    with pytest.raises(ServiceError, match="not in .* yet"):
        kafka.tool_command(settings, "kafka-topics", ["--list"])
    (libs / kafka.MARKER).write_text("3.9.1")
    monkeypatch.setattr(kafka.shutil, "which", lambda name: f"/usr/bin/{name}")
    command = kafka.tool_command(settings, "kafka-topics", ["--list"])
    assert command[0] == "/usr/bin/java" and command[command.index("-cp") + 1] == f"{libs.resolve()}/*"
    assert command[-4:] == ["org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
                            "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096", "--list"]
    given = kafka.tool_command(settings, "kafka-consumer-groups", ["--bootstrap-server", "h:1", "--list"])
    assert given[-4:] == ["org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", "h:1", "--list"]
    with pytest.raises(ServiceError, match="unknown Kafka tool 'kafka-nope': use one of kafka-broker-api-versions, "):
        kafka.tool_command(settings, "kafka-nope", [])


def test_a_remote_cluster_is_bootstrapped_as_configured(tmp_path: Path) -> None:
    remote = _settings(tmp_path).model_copy(update={"kafka_broker": "kafka://k1.example:9092;kafka://k2.example:9092"})
    assert kafka.bootstrap(remote) == "k1.example:9092,k2.example:9092"


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
