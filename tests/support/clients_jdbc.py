"""The official ClickHouse JDBC driver for the client tests: jars from Maven Central, one JVM run.

- :func:`fetch_jdbc_libs` runs ``mvn dependency:copy-dependencies`` on ``tests/support/jdbc/pom.xml``
  (in a temporary copy, like :mod:`streams.local.kafka` does for the broker) into
  ``.newsetl/jdbc-libs`` once; the marker file holds the pom's hash, so a changed pom (a new driver
  version) fetches again. A lock file keeps two pytest sessions of one checkout from fetching at once.
- :func:`run_jdbc_checks` runs ``tests/support/jdbc/JdbcCheck.java`` (Java's single-file source
  launcher: no build step) against an endpoint and returns its JSON lines by check name.

``python tests/support/clients_jdbc.py`` fills the cache by hand.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JDBC_DIR = Path(__file__).resolve().parent / "jdbc"
POM = JDBC_DIR / "pom.xml"
PROGRAM = JDBC_DIR / "JdbcCheck.java"
LIBS = REPO / ".newsetl" / "jdbc-libs"
MARKER = ".complete"


class JdbcSetupError(RuntimeError):
    """Java, Maven or the driver's jars are not available."""


def driver_version() -> str:
    """The clickhouse-jdbc version the pom asks for."""
    match = re.search(r"<clickhouse\.jdbc\.version>([^<]+)<", POM.read_text())
    if match is None:
        raise JdbcSetupError(f"no clickhouse.jdbc.version in {POM}")
    return match.group(1)


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def libs_present(libs: Path = LIBS) -> bool:
    marker = libs / MARKER
    return marker.exists() and marker.read_text().strip() == _pom_hash() and any(libs.glob("jdbc-v2-*.jar"))


def fetch_jdbc_libs(libs: Path = LIBS) -> Path:
    """The driver's jars in ``libs``, downloaded with Maven unless cached for this pom."""
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / "jdbc-libs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if libs_present(libs):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise JdbcSetupError("Maven (mvn) is needed once to fetch the ClickHouse JDBC driver jars")
        if libs.exists():
            shutil.rmtree(libs)  # another driver version: start clean
        libs.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix="newsetl-jdbc-pom-") as work:
            pom = Path(work) / "pom.xml"
            pom.write_bytes(POM.read_bytes())
            cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-Dlibs.dir={libs}"]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=work, timeout=600
            )
        if proc.returncode != 0 or not any(libs.glob("jdbc-v2-*.jar")):
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
            raise JdbcSetupError("fetching the ClickHouse JDBC driver with Maven failed: " + " | ".join(tail))
        (libs / MARKER).write_text(_pom_hash())
        return libs


def run_jdbc_checks(
    libs: Path, url: str, user: str, password: str, database: str, table: str, timeout: float = 180
) -> tuple[dict[str, dict], subprocess.CompletedProcess[str]]:
    """Run JdbcCheck once; returns ({check name: its JSON object}, the finished process)."""
    java = shutil.which("java")
    if java is None:
        raise JdbcSetupError("java is needed for the JDBC client test")
    cmd = [
        java,
        "-Xmx384m",
        "-XX:+UseSerialGC",
        "-Dfile.encoding=UTF-8",
        "-Dstdout.encoding=UTF-8",
        "-cp",
        str(libs / "*"),
        str(PROGRAM),
        url,
        user,
        password,
        database,
        table,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, encoding="utf-8", stdin=subprocess.DEVNULL, timeout=timeout
    )
    results: dict[str, dict] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["check"]] = record
    return results, proc


class RecordingProxy:
    """A TCP forwarder to ``target`` on a free local port that records the head (request line and
    headers) of every HTTP request passing through, so a test can see what a client really sends."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.heads: list[str] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="jdbc-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        head: bytearray | None = None  # a request head being read (it may come in pieces)
        try:
            while data := src.recv(1 << 16):
                if requests:
                    if head is None and data[:5] in (b"POST ", b"GET /"):
                        head = bytearray()
                    if head is not None:
                        head += data
                        if b"\r\n\r\n" in head:
                            with self._lock:
                                self.heads.append(bytes(head).split(b"\r\n\r\n", 1)[0].decode("latin-1"))
                            head = None
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the other thread
        except OSError:
            pass
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self._thread.join(timeout=5)


if __name__ == "__main__":
    print(fetch_jdbc_libs())
    sys.exit(0)
