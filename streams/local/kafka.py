"""The local Apache Kafka 3.9 broker: jars from Maven Central, KRaft storage, readiness probe.

- :func:`fetch_libs` runs ``mvn dependency:copy-dependencies`` on the packaged ``broker/pom.xml``
  into the jar cache (``Settings.kafka_libs_dir``, default ``<data_dir>/kafka-libs``) once; later
  calls find the jars and download nothing.
- :func:`prepare` renders the packaged ``broker/server.properties`` for the configured ports and
  data directory and formats the KRaft storage once (single combined broker + controller node).
- :func:`broker_command` is the ``java`` command line that :mod:`streams.local.services` starts.
- :func:`probe` sends a real Kafka ``Metadata`` request and reports whether the broker answers
  with itself registered (it is ready for clients then).

``python -m streams.local.kafka fetch`` fills the jar cache (used by ``.ci/run``).

Both templates are package data of :mod:`streams.local`, read with :mod:`importlib.resources`, so
an installed wheel works as well as a source checkout.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from streams.local import ServiceError
from streams.settings import Settings

POM = "pom.xml"
SERVER_PROPERTIES = "server.properties"
MARKER = ".complete"
BROKER_HEAP = "-Xmx512m"

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
    """True when a complete download is cached in ``libs``."""
    return (libs / MARKER).exists() and any(libs.glob("kafka_2.13-*.jar"))


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


def render_properties(settings: Settings) -> str:
    """``server.properties`` for the configured ports, partitions and data directory."""
    host, port = settings.kafka_host_port
    return Template(resource(SERVER_PROPERTIES).read_text(encoding="utf-8")).substitute(
        host=host,
        port=port,
        controller_port=settings.kafka_controller_port,
        log_dirs=str(kafka_dir(settings) / "data"),
        partitions=settings.topic_partitions,
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


def prepare(settings: Settings, progress: Progress = _quiet) -> Path:
    """Fetch jars if needed, write the config, format KRaft storage once; returns the config path."""
    java = java_executable()
    libs = fetch_libs(libs_dir(settings), progress)
    home = kafka_dir(settings)
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(render_properties(settings))
    (home / "log4j.properties").write_text(_log4j_properties(home / "logs"))
    if not (home / "data" / "meta.properties").exists():
        cluster_file = home / "cluster.id"
        if not cluster_file.exists():
            cluster_file.write_text(new_cluster_id())
        progress("formatting Kafka KRaft storage")
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


def broker_command(settings: Settings) -> list[str]:
    """The command line that runs the broker in the foreground (``kafka.Kafka server.properties``)."""
    home = kafka_dir(settings)
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


def probe(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the broker answers a Metadata request listing at least one live broker."""
    try:
        return bool(metadata_brokers(host, port, timeout))
    except (OSError, ConnectionError, struct.error):
        return False


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
