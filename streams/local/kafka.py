"""The local Apache Kafka 3.9 broker: jars from Maven Central, KRaft storage, readiness probe.

- :func:`fetch_libs` runs ``mvn dependency:copy-dependencies`` on the packaged ``broker/pom.xml``
  into the jar cache (``Settings.kafka_libs_dir``, default ``<data_dir>/kafka-libs``) once; later
  calls find the jars and download nothing.
- :func:`nodes` lays out the local cluster: ``Settings.kafka_brokers`` combined broker + controller
  KRaft nodes (``newsetl up --brokers 3``), node k on the first broker port + 2(k-1) and the
  controller port + 2(k-1), with its home under the data directory (``kafka/``, ``kafka-2/``, …).
- :func:`prepare` renders the packaged ``broker/server.properties`` for one node (replication
  factor min(3, nodes), ``min.insync.replicas`` 2 from three nodes on) and formats its KRaft
  storage once, every node with the same cluster id; a data directory formatted for another
  number of nodes is refused in one line.
- :func:`broker_command` is the ``java`` command line that :mod:`streams.local.services` starts.
- :func:`tool_command` runs Kafka's own operator tools (``kafka-topics``,
  ``kafka-consumer-groups``, the console consumer and producer) from the same jars.
- :func:`probe` sends a real Kafka ``Metadata`` request and reports whether the broker answers
  with itself registered (it is ready for clients then).

``python -m streams.local.kafka fetch`` fills the jar cache (used by ``.ci/run``).

Both templates are package data of :mod:`streams.local`, read with :mod:`importlib.resources`, so
an installed wheel works as well as a source checkout.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from streams.local import ServiceError
from streams.settings import Settings

POM = "pom.xml"
SERVER_PROPERTIES = "server.properties"
MARKER = ".complete"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
LAYOUT = "cluster.json"
BROKER_HEAP = "-Xmx512m"
TOOL_HEAP = "-Xmx256m"

# `newsetl kafka TOOL`: Kafka's shell scripts are thin wrappers over these classes (3.9).
TOOLS: dict[str, str] = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "kafka.tools.ConsoleProducer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-broker-api-versions": "kafka.admin.BrokerApiVersionsCommand",
}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --- paths ------------------------------------------------------------------------------------------


def resource(name: str) -> Traversable:
    """A file of the packaged ``streams/local/broker`` directory (``pom.xml``, ``server.properties``)."""
    return resources.files("streams.local") / "broker" / name


def libs_dir(settings: Settings) -> Path:
    """The jar cache directory."""
    return (settings.kafka_libs_dir or settings.data_dir / "kafka-libs").resolve()


def kafka_dir(settings: Settings) -> Path:
    """``<data_dir>/kafka``: rendered config, data (log.dirs), logs, pid file."""
    return (settings.data_dir / "kafka").resolve()


def libs_present(libs: Path) -> bool:
    """True when a complete download (broker and tools) is cached in ``libs``."""
    return (libs / MARKER).exists() and any(libs.glob("kafka_2.13-*.jar")) and any(libs.glob("kafka-tools-[0-9]*.jar"))


@dataclass(frozen=True)
class Node:
    """One local KRaft node (broker and controller in one process)."""

    node_id: int
    host: str
    port: int
    controller_port: int
    home: Path

    @property
    def name(self) -> str:
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def node_dir(settings: Settings, node_id: int) -> Path:
    """Node 1 keeps ``<data_dir>/kafka`` (a single broker's home before clusters); node k: ``kafka-k``."""
    return kafka_dir(settings) if node_id == 1 else (settings.data_dir / f"kafka-{node_id}").resolve()


def recorded_brokers(settings: Settings) -> int | None:
    """How many nodes the local storage was formatted for (None: not formatted yet)."""
    home = kafka_dir(settings)
    try:
        return int(json.loads((home / LAYOUT).read_text())["brokers"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1 if (home / "data" / "meta.properties").exists() else None


def broker_count(settings: Settings) -> int:
    """The local cluster's size: what its storage was formatted for, else ``kafka_brokers``."""
    return recorded_brokers(settings) or settings.kafka_brokers


def nodes(settings: Settings, count: int | None = None) -> list[Node]:
    """The local cluster's nodes (``count`` of them, default :func:`broker_count`)."""
    host, port = settings.kafka_host_port
    return [
        Node(k, host, port + 2 * (k - 1), settings.kafka_controller_port + 2 * (k - 1), node_dir(settings, k))
        for k in range(1, (count or broker_count(settings)) + 1)
    ]


def kafka_version(libs: Path) -> str | None:
    """The Kafka version of the cached jars (from ``kafka_2.13-X.Y.Z.jar``)."""
    for jar in sorted(libs.glob("kafka_2.13-*.jar")):
        return jar.stem.removeprefix("kafka_2.13-")
    return None


# --- tools ------------------------------------------------------------------------------------------


def java_executable() -> str:
    """Path of ``java``; a ServiceError saying what to install when missing."""
    java = shutil.which("java")
    if java is None:
        raise ServiceError(
            "Java 17+ is needed for the local Kafka broker: install it (e.g. apt-get install "
            "openjdk-17-jre-headless) or run the stack with `docker compose up`"
        )
    return java


def fetch_libs(libs: Path, progress: Progress = _quiet) -> Path:
    """Download the broker's jars into ``libs`` with Maven unless they are cached already."""
    if libs_present(libs):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "Maven is needed once to fetch the Kafka broker jars: install it (e.g. apt-get install "
            "maven) or run the stack with `docker compose up`"
        )
    progress(f"fetching Apache Kafka jars from Maven Central into {libs}")
    libs.mkdir(parents=True, exist_ok=True)
    # mvn writes beside its pom (target/); the packaged pom may sit read-only in site-packages
    with tempfile.TemporaryDirectory(prefix="newsetl-kafka-pom-") as work:
        pom = Path(work) / POM
        pom.write_bytes(resource(POM).read_bytes())
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-Dlibs.dir={libs}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=work)
    if proc.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise ServiceError("fetching Kafka jars with Maven failed: " + " | ".join(tail))
    (libs / MARKER).write_text(kafka_version(libs) or "")
    return libs


# --- configuration and storage ----------------------------------------------------------------------


def render_properties(settings: Settings, node: Node | None = None, count: int | None = None) -> str:
    """``server.properties`` of one node (default: the first) of a ``count``-node local cluster."""
    cluster = nodes(settings, count)
    node = node or cluster[0]
    factor, min_isr = Settings.replication(len(cluster))
    return Template(resource(SERVER_PROPERTIES).read_text(encoding="utf-8")).substitute(
        node_id=node.node_id,
        voters=",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in cluster),
        host=node.host,
        port=node.port,
        controller_port=node.controller_port,
        log_dirs=str(node.home / "data"),
        partitions=settings.topic_partitions,
        replication=factor,
        min_isr=min_isr,
    )


def _log4j_properties(logs: Path) -> str:
    return "\n".join(
        [
            "log4j.rootLogger=INFO, file",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={logs / 'server.log'}",
            "log4j.appender.file.MaxFileSize=20MB",
            "log4j.appender.file.MaxBackupIndex=3",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.logger.kafka=INFO",
            "log4j.logger.org.apache.kafka=INFO",
            "log4j.logger.state.change.logger=WARN",
            "log4j.logger.kafka.request.logger=WARN",
            "",
        ]
    )


def _classpath(libs: Path) -> str:
    return str(libs / "*")


def new_cluster_id() -> str:
    """A KRaft cluster id (base64url of a random UUID). Like Kafka's own, never starting with
    '-': the storage tool's argument parser would read such an id as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def check_layout(settings: Settings, count: int) -> None:
    """Refuse to start ``count`` nodes on storage formatted for another number of them: KRaft's
    static voter set is written into the storage, so the nodes would never form a quorum."""
    recorded = recorded_brokers(settings)
    if recorded is not None and recorded != count:
        raise ServiceError(
            f"the local Kafka data in {settings.data_dir.resolve()} was formatted for {recorded} broker(s), "
            f"not {count}: start it with `newsetl up --brokers {recorded}`, or `newsetl down` and remove "
            f"{kafka_dir(settings)} (and kafka-2…) to start afresh"
        )


def prepare(settings: Settings, progress: Progress = _quiet, node: Node | None = None, count: int | None = None) -> Path:
    """Fetch jars if needed, write one node's config, format its KRaft storage once; returns the
    config path. All nodes share the cluster id kept in the first node's home."""
    java = java_executable()
    libs = fetch_libs(libs_dir(settings), progress)
    count = count or broker_count(settings)
    node = node or nodes(settings, count)[0]
    home = node.home
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(render_properties(settings, node, count))
    (home / "log4j.properties").write_text(_log4j_properties(home / "logs"))
    if node.node_id == 1 and not (kafka_dir(settings) / LAYOUT).exists():
        (kafka_dir(settings) / LAYOUT).write_text(json.dumps({"brokers": count}) + "\n")
    if not (home / "data" / "meta.properties").exists():
        cluster_file = kafka_dir(settings) / "cluster.id"
        if not cluster_file.exists():
            cluster_file.write_text(new_cluster_id())
        progress(f"formatting Kafka KRaft storage of {node.name}")
        cmd = [
            java,
            BROKER_HEAP,
            f"-Dlog4j.configuration=file:{home / 'log4j.properties'}",
            "-cp",
            _classpath(libs),
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_file.read_text().strip()}",
            "-c",
            str(config),
            "--ignore-formatted",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise ServiceError("formatting Kafka storage failed: " + " | ".join(tail))
    return config


def broker_command(settings: Settings, node: Node | None = None) -> list[str]:
    """The command line that runs one node in the foreground (``kafka.Kafka server.properties``)."""
    home = (node.home if node else kafka_dir(settings))
    return [
        java_executable(),
        BROKER_HEAP,
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{home / 'log4j.properties'}",
        f"-Dkafka.logs.dir={home / 'logs'}",
        "-cp",
        _classpath(libs_dir(settings)),
        "kafka.Kafka",
        str(home / "server.properties"),
    ]


def bootstrap(settings: Settings) -> str:
    """The configured brokers plus, for a local cluster, every node's address: a client then
    starts even while the first node is down."""
    configured = settings.bootstrap_servers.split(",")
    host, _ = settings.kafka_host_port
    local = [node.address for node in nodes(settings)] if host in LOOPBACK else []
    return ",".join(dict.fromkeys(configured + local))


def tool_command(settings: Settings, tool: str, args: list[str]) -> list[str]:
    """The ``java`` command line of one of Kafka's operator tools (see :data:`TOOLS`) against the
    local cluster: ``--bootstrap-server`` is added unless given (every node's address)."""
    if tool not in TOOLS:
        raise ServiceError(f"unknown Kafka tool {tool!r}: use one of {', '.join(sorted(TOOLS))}")
    libs = libs_dir(settings)
    if not libs_present(libs):
        raise ServiceError(f"the Kafka jars are not in {libs} yet: run `newsetl up` (or `python -m streams.local.kafka fetch`) first")
    if not any(a.startswith(("--bootstrap-server", "--bootstrap-controller", "--broker-list")) for a in args):
        args = ["--bootstrap-server", bootstrap(settings), *args]
    return [
        java_executable(),
        TOOL_HEAP,
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        # the tools log through log4j: warnings and errors only, to stderr
        "-Dlog4j.configuration=" + resources.files("streams.local").joinpath("broker", "tools-log4j.properties").as_uri(),
        "-cp",
        _classpath(libs),
        TOOLS[tool],
        *args,
    ]


# --- the readiness probe ----------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        part = sock.recv(size - len(buf))
        if not part:
            raise ConnectionError("connection closed")
        buf += part
    return bytes(buf)


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Send a Kafka ``Metadata`` v0 request (no topics) and return the brokers it lists."""
    client_id = b"newsetl-probe"
    # header v1: api_key=3 (Metadata), api_version=0, correlation_id, client_id; body: topics = []
    body = struct.pack(">hhih", 3, 0, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        data = _recv_exact(sock, size)
    correlation, count = struct.unpack_from(">ii", data, 0)
    if correlation != 7:
        raise ConnectionError("unexpected Kafka response")
    offset = 8
    brokers = []
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", data, offset)
        offset += 6
        broker_host = data[offset : offset + host_len].decode()
        offset += host_len
        (broker_port,) = struct.unpack_from(">i", data, offset)
        offset += 4
        brokers.append((node_id, broker_host, broker_port))
    return brokers


def registered_brokers(host: str, port: int, timeout: float = 2.0) -> set[int]:
    """The node ids of the brokers the one at ``host:port`` sees registered; empty when it does
    not answer."""
    try:
        return {node_id for node_id, _, _ in metadata_brokers(host, port, timeout)}
    except (OSError, ConnectionError, struct.error):
        return set()


def probe(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the broker answers a Metadata request listing at least one live broker."""
    return bool(registered_brokers(host, port, timeout))


def main(argv: list[str] | None = None) -> int:
    """``python -m streams.local.kafka fetch [--libs DIR]``: fill the jar cache."""
    parser = argparse.ArgumentParser(description="local Kafka broker helper")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download the Kafka broker jars (cached)")
    fetch.add_argument("--libs", type=Path, default=None, help="jar cache (default: from settings)")
    sub.add_parser("command", help="print the broker command line")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        if args.command == "fetch":
            libs = fetch_libs((args.libs or libs_dir(settings)).resolve(), lambda msg: print(msg, file=sys.stderr))
            print(f"Kafka {kafka_version(libs)} jars in {libs}")
        else:
            print(" ".join(broker_command(settings)))
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
