"""The chdb endpoint under faults and attacks (issue 14): a full disk, hostile queries, idle
connections, a foreign server or a wrong password on the status check.

Every endpoint here is a process of its own (``python -m streams.local.clickhouse_http``) on a
free loopback port; waits poll with a deadline.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import SecretStr

from streams.dashboard.server import DashboardServer
from streams.local import services
from streams.retry import Backoff, poll_until
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations
from streams.stream.sink import RetryingInserter
from tests.integration.conftest import free_ports
from tests.integration.test_local_stack import _http

REPO = Path(__file__).resolve().parents[2]


def _start(path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Settings]:
    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.local.clickhouse_http", "--port", str(port), "--path", str(path), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    settings = Settings(clickhouse_url=f"http://127.0.0.1:{port}")

    def ready() -> bool:
        assert proc.poll() is None, "endpoint exited during start-up"
        return services.clickhouse_version(settings) is not None

    poll_until(ready, 60, "the endpoint to answer")
    return proc, settings


@pytest.fixture()
def endpoint() -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Settings]]]:
    """Start endpoints (path, extra CLI args); all are stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Settings]:
        proc, settings = _start(path, *extra)
        procs.append(proc)
        return proc, settings

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(30)


def _client(settings: Settings, **kwargs: object) -> object:
    host, port = settings.clickhouse_host_port
    return clickhouse_connect.get_client(host=host, port=port, **kwargs)


# --- 1. a full disk -------------------------------------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs (root only: mounting is the only way to get a really full filesystem)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    with open(path, "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


def test_insert_on_a_full_disk_fails_with_243_and_lands_once_space_returns(
    small_disk: Path, endpoint: Callable[..., tuple[subprocess.Popen[bytes], Settings]]
) -> None:
    _, settings = endpoint(small_disk / "data")
    client = _client(settings)
    client.command("CREATE DATABASE full_db")
    client.command(
        "CREATE TABLE full_db.docs (id UInt32, body String) ENGINE = MergeTree ORDER BY id "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    rows = [[i, f"document {i}"] for i in range(1000)]
    _fill(small_disk / "filler")

    with pytest.raises(DatabaseError) as info:
        client.insert("full_db.docs", rows, column_names=["id", "body"], settings={"insert_deduplication_token": "b1"})
    assert "Code: 243" in str(info.value) and "NOT_ENOUGH_SPACE" in str(info.value)
    assert client.command("SELECT count() FROM full_db.docs") == 0
    # a text-format insert (the curl reproduction) fails the same way
    status, headers, body = _http(settings, {"query": "INSERT INTO full_db.docs FORMAT TSV"}, b"1\tx\n2\ty\n")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (507, "243"), body
    assert client.command("SELECT count() FROM full_db.docs") == 0

    # the sink's inserter pauses on 243 and retries until the disk has room again
    sink_settings = Settings(clickhouse_url=settings.clickhouse_url, clickhouse_database="full_db")
    inserter = RetryingInserter(sink_settings, max_backoff=0.3)
    outcome: list[Exception | None] = []
    worker = threading.Thread(
        target=lambda: outcome.append(asyncio.run(inserter.insert([("docs", ("id", "body"), rows, "b1")])))
    )
    worker.start()
    try:
        poll_until(lambda: inserter.attempts >= 3, 30, "the sink to retry on the full disk")
        assert client.command("SELECT count() FROM full_db.docs") == 0
    finally:
        (small_disk / "filler").unlink()
    worker.join(60)
    assert outcome == [None]
    inserter.close()
    assert client.query("SELECT count(), uniqExact(id) FROM full_db.docs").result_rows == [(1000, 1000)]
    # the same batch again (a redelivery after a crash) is deduplicated, not an error
    client.insert("full_db.docs", rows, column_names=["id", "body"], settings={"insert_deduplication_token": "b1"})
    assert client.command("SELECT count() FROM full_db.docs") == 1000
    client.close()


def test_failures_chdb_hides_in_streaming_inserts_are_reported(ch_client: object) -> None:
    """Not only the disk: a violated CONSTRAINT or a failing materialized view also made chdb's
    finish() report the rows as written."""
    db = f"t_{uuid.uuid4().hex[:12]}"
    ch_client.command(f"CREATE DATABASE {db}")
    ch_client.command(f"CREATE TABLE {db}.c (a UInt32, CONSTRAINT small CHECK a < 10) ENGINE = MergeTree ORDER BY a")
    ch_client.command(f"CREATE TABLE {db}.src (a UInt32) ENGINE = Null")
    ch_client.command(f"CREATE TABLE {db}.dst (a UInt32) ENGINE = MergeTree ORDER BY a")
    ch_client.command(f"CREATE MATERIALIZED VIEW {db}.mv TO {db}.dst AS SELECT a + throwIf(a = 5) AS a FROM {db}.src")
    with pytest.raises(DatabaseError, match="VIOLATED_CONSTRAINT"):
        ch_client.insert(f"{db}.c", [[1], [20]], column_names=["a"])
    with pytest.raises(DatabaseError, match="FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"):
        ch_client.insert(f"{db}.src", [[1], [5]], column_names=["a"])
    ch_client.insert(f"{db}.c", [[1], [2]], column_names=["a"])
    ch_client.insert(f"{db}.src", [[1], [2]], column_names=["a"])
    assert ch_client.query(f"SELECT (SELECT count() FROM {db}.c), (SELECT count() FROM {db}.dst)").result_rows == [(2, 2)]


# --- 2. hostile queries ---------------------------------------------------------------------------


def _user_files(stack: Settings) -> Path:
    return services.clickhouse_dir(stack) / "data" / "user_files"


def _code(response: tuple[int, object, bytes]) -> str:
    status, headers, body = response
    assert status >= 400, body
    return headers["X-ClickHouse-Exception-Code"]


@pytest.mark.parametrize("mode", ["get", "readonly1", "readonly2", "write"])
@pytest.mark.parametrize("clause", ["", " APPEND", " TRUNCATE"])
def test_into_outfile_is_refused(stack: Settings, tmp_path: Path, mode: str, clause: str) -> None:
    target = tmp_path / "out.txt"
    sql = f"SELECT 'x' INTO OUTFILE '{target}'{clause}"
    if mode == "get":
        response = _http(stack, {"query": sql})
    else:
        params = {"readonly": "1"} if mode == "readonly1" else {"readonly": "2"} if mode == "readonly2" else {}
        response = _http(stack, params, sql.encode())
    assert _code(response) == "358"
    assert b"INTO OUTFILE is not allowed" in response[2]
    assert not target.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT * FROM file($$/etc/hostname$$, 'LineAsString')",
        "SELECT * FROM /* comment */ file('/et' || 'c/hostname', 'LineAsString')",
        "SELECT * FROM file('\\x2fetc/hostname', 'LineAsString')",
        "SELECT * FROM file('../../../../../../etc/hostname', 'LineAsString')",
        "SELECT * FROM file('{x,../../../../../../etc/hostname}', 'LineAsString')",
        "SELECT file('/etc/hostname')",
        "SELECT * FROM `file`('/etc/hostname', 'LineAsString')",
    ],
)
@pytest.mark.parametrize("mode", ["get", "readonly2", "write"])
def test_file_reads_outside_user_files_are_refused(stack: Settings, sql: str, mode: str) -> None:
    params = {"query": sql} if mode == "get" else {"readonly": "2"} if mode == "readonly2" else {}
    response = _http(stack, params) if mode == "get" else _http(stack, params, sql.encode())
    assert _code(response) == "291", response[2]


def test_file_writes_outside_user_files_are_refused(stack: Settings, tmp_path: Path) -> None:
    target = tmp_path / "written.tsv"
    db = f"t_{uuid.uuid4().hex[:12]}"
    attempts = [
        f"INSERT INTO FUNCTION file('{target}', 'TSV', 'a String') SELECT 'x'",
        f"CREATE TABLE {db}_f (a String) ENGINE = File(TSV, '{target}')",
        f"CREATE DICTIONARY {db}_d (a String) PRIMARY KEY a SOURCE(FILE(path '{target}' format 'TSV')) "
        "LAYOUT(FLAT()) LIFETIME(0)",
        f"BACKUP DATABASE system TO File('{target}')",
        f"CREATE TABLE {db}_disk (a String) ENGINE = MergeTree ORDER BY a "
        f"SETTINGS disk = disk(type = local, path = '{tmp_path}/')",
    ]
    for sql in attempts:
        assert _code(_http(stack, {}, sql.encode())) == "291", sql
    # the data of an INSERT ... FORMAT goes to the same guard
    status, headers, _ = _http(stack, {"query": f"INSERT INTO FUNCTION file('{target}', 'TSV', 'a String') FORMAT TSV"},
                               b"x\n")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (500, "291")
    marker = tmp_path / "pwned"
    sql = (f"CREATE DICTIONARY {db}_x (a String) PRIMARY KEY a SOURCE(EXECUTABLE(command 'touch {marker}' "
           "format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)")
    assert _code(_http(stack, {}, sql.encode())) == "482"
    assert _code(_http(stack, {}, f"INSERT INTO default.t FROM INFILE '{target}' FORMAT TSV".encode())) == "48"
    assert sorted(os.listdir(tmp_path)) == []


def test_user_files_stay_usable(stack: Settings, ch_client: object) -> None:
    name = f"export_{uuid.uuid4().hex[:8]}.tsv"
    ch_client.command(f"INSERT INTO FUNCTION file('{name}', 'TSV', 'a String') SELECT 'kept'")
    assert (_user_files(stack) / name).read_text() == "kept\n"
    assert ch_client.command(f"SELECT * FROM file('{name}', 'TSV', 'a String')") == "kept"
    absolute = _user_files(stack) / name
    assert _http(stack, {"query": f"SELECT * FROM file('{absolute}', 'TSV', 'a String')"})[2] == b"kept\n"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
        "SELECT * FROM s3('http://127.0.0.1:9/b/k', 'LineAsString')",
        "SELECT * FROM hdfs('hdfs://127.0.0.1:9/x', 'LineAsString')",
        "SELECT * FROM executable('x.sh', 'TSV', 'a String')",
        "SELECT * FROM remote('127.0.0.1:9', system.one)",
        "SELECT * FROM remoteSecure('127.0.0.1:9', system.one)",
        "SELECT * FROM mysql('127.0.0.1:9', 'd', 't', 'u', 'p')",
        "SELECT * FROM postgresql('127.0.0.1:9', 'd', 't', 'u', 'p')",
        "SELECT * FROM jdbc('ds', 'd', 't')",
        "SELECT * FROM odbc('dsn', 'd', 't')",
        "SYSTEM DROP DNS CACHE",
        "KILL QUERY WHERE 0",
        "CREATE TEMPORARY TABLE tmp_u (a String) ENGINE = URL('http://127.0.0.1:9/', 'LineAsString')",
    ],
)
@pytest.mark.parametrize("mode", ["get", "readonly1", "readonly2"])
def test_readonly_requests_cannot_reach_out(stack: Settings, sql: str, mode: str) -> None:
    response = _http(stack, {"query": sql}) if mode == "get" else _http(stack, {"readonly": mode[-1]}, sql.encode())
    assert _code(response) == "164", response[2]
    assert b"Cannot execute query in readonly mode" in response[2]


def test_multi_statements_and_other_dialects_are_refused(stack: Settings) -> None:
    response = _http(stack, {}, b"SELECT 1; SELECT * FROM file('/etc/hostname', 'LineAsString')")
    assert _code(response) == "62" and b"Multi-statements are not allowed" in response[2]
    assert _code(_http(stack, {"dialect": "prql"}, b"from t")) == "36"


def test_normal_work_still_passes(stack: Settings, ch_client: object) -> None:
    db = f"t_{uuid.uuid4().hex[:12]}"
    ch_client.command(f"CREATE DATABASE {db}")
    ch_client.command(f"CREATE TABLE {db}.t (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
    ch_client.insert(f"{db}.t", [[1, "it's -- not a comment"], [2, "/* nor this */ INTO OUTFILE 'x'"]],
                     column_names=["a", "s"])
    assert ch_client.command(f"SELECT count() FROM {db}.t WHERE s LIKE '%OUTFILE%' OR s LIKE '%file(%'") == 1
    status, _, body = _http(stack, {"query": f"SELECT a FROM {db}.t WHERE s = {{s:String}} -- file('/etc')",
                                    "param_s": "it's -- not a comment"})
    assert (status, body) == (200, b"1\n")
    assert _http(stack, {"query": "SELECT count() FROM numbers(10)"})[2] == b"10\n"
    assert _http(stack, {"readonly": "1"}, b"SELECT 1 FORMAT TSV")[2] == b"1\n"


def test_reader_user_is_readonly(tmp_path: Path, endpoint: Callable[..., tuple[subprocess.Popen[bytes], Settings]]) -> None:
    secret = tmp_path / "reader"
    secret.write_text("r3ad")
    _, settings = endpoint(tmp_path / "ch", "--reader-user", "reader", "--reader-password-file", str(secret))
    writer = _client(settings)
    writer.command("CREATE TABLE default.t (a UInt8) ENGINE = MergeTree ORDER BY a")
    writer.insert("default.t", [[1]], column_names=["a"])
    reader = _client(settings, username="reader", password="r3ad")
    assert reader.command("SELECT count() FROM default.t") == 1
    auth = {"X-ClickHouse-User": "reader", "X-ClickHouse-Key": "r3ad"}
    for sql in (b"INSERT INTO default.t VALUES (2)", b"DROP TABLE default.t",
                b"SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')"):
        assert _code(_http(settings, {"readonly": "0"}, sql, headers=auth)) == "164"
    assert _code(_http(settings, {}, b"SELECT 1", headers={"X-ClickHouse-User": "reader", "X-ClickHouse-Key": "x"})) == "516"
    assert writer.command("SELECT count() FROM default.t") == 1
    reader.close()
    writer.close()


def test_a_dashboard_on_the_reader_user_reads_the_views_themselves(
        tmp_path: Path, endpoint: Callable[..., tuple[subprocess.Popen[bytes], Settings]]) -> None:
    """The reader user cannot build the dashboard's cache: the dashboard answers from the views."""
    secret = tmp_path / "reader"
    secret.write_text("r3ad")
    _, settings = endpoint(tmp_path / "ch", "--reader-user", "reader", "--reader-password-file", str(secret))
    writer = _client(settings)
    apply_migrations(settings, writer)
    writer.command(
        "INSERT INTO newsetl.documents (doc_id, source, title, published_at, ingested_at, processed_at, "
        "pipeline_version, script, text, char_count, token_count, paragraph_count, metric_count, topics, "
        "topic_scores, regions, keywords, kafka_partition, kafka_offset) VALUES ('d1', 's', 't', "
        "'2024-05-01 00:00:00', '2024-05-01 00:00:00', '2024-05-02 00:00:00', 'v', 'simplified', '全县', 2, 1, "
        "1, 0, [], map(), [], [], 0, 0)")
    reader = settings.model_copy(update={"clickhouse_user": "reader", "clickhouse_password": SecretStr("r3ad")})
    with DashboardServer(reader) as server:
        for path in ("/api/summary", "/api/facets", "/api/metrics/rows", "/api/metrics/by_region", "/api/facts"):
            with urllib.request.urlopen(server.url + path, timeout=60) as response:
                assert response.status == 200, path
                body = json.loads(response.read())
            if path == "/api/summary":
                assert body["documents"] == 1 and body["cache_build_seconds"] is None
    assert writer.command("SELECT count() FROM system.databases WHERE name = 'newsetl_dashboard_cache'") == 0
    writer.close()


# --- 3. connections and status --------------------------------------------------------------------


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def test_idle_connections_hold_no_threads_and_are_closed(
    tmp_path: Path, endpoint: Callable[..., tuple[subprocess.Popen[bytes], Settings]]
) -> None:
    proc, settings = endpoint(tmp_path / "ch", "--max-threads", "8", "--keep-alive-timeout", "2")
    host, port = settings.clickhouse_host_port
    assert _http(settings, {"query": "SELECT 1"})[2] == b"1\n"
    baseline = _threads(proc.pid)
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection((host, port), timeout=10))
        # a keep-alive client that went quiet after a request
        talker = socket.create_connection((host, port), timeout=10)
        idle.append(talker)
        talker.sendall(b"GET /?query=SELECT%202 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"0\r\n\r\n"):
            answer += talker.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200") and b"\r\n2\n\r\n" in answer
        assert _http(settings, {"query": "SELECT 3"})[2] == b"3\n"
        assert _threads(proc.pid) <= baseline + 8
        client = _client(settings)
        assert client.command("SELECT 4") == 4
        client.close()

        def all_closed_by_server() -> bool:
            for sock in idle:
                sock.settimeout(0.01)
                try:
                    if sock.recv(1) != b"":
                        return False
                except TimeoutError:
                    return False
                except OSError:
                    pass
            return True

        poll_until(all_closed_by_server, 30, "idle connections to be closed", backoff=Backoff(start=0.2, cap=1))
    finally:
        for sock in idle:
            sock.close()
    assert _http(settings, {"query": "SELECT 5"})[2] == b"5\n"


def test_requests_beyond_the_queue_get_503(
    tmp_path: Path, endpoint: Callable[..., tuple[subprocess.Popen[bytes], Settings]]
) -> None:
    _, settings = endpoint(tmp_path / "ch", "--max-threads", "1", "--max-queued", "0")
    slow: list[int] = []

    def run_slow_query() -> None:
        # it may itself meet a 503 while a probe below holds the only thread: then it tries again
        poll_until(lambda: slow.append(_http(settings, {"query": "SELECT sleep(2)"})[0]) or slow[-1] == 200,
                   30, "the slow query to run")

    worker = threading.Thread(target=run_slow_query)
    worker.start()
    response = ()

    def refused() -> bool:
        nonlocal response
        response = _http(settings, {"query": "SELECT 1"})
        return response[0] == 503

    poll_until(refused, 30, "a 503 while the only thread is busy")
    assert response[1]["X-ClickHouse-Exception-Code"] == "202"
    assert b"TOO_MANY_SIMULTANEOUS_QUERIES" in response[2]
    worker.join(60)
    assert slow[-1] == 200
    # the slot is released right after the slow response is written, a moment after the client has it
    poll_until(lambda: _http(settings, {"query": "SELECT 1"})[2] == b"1\n", 10, "the thread to be free again")


def test_status_names_a_foreign_server_and_a_wrong_password(stack: Settings) -> None:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            body = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    foreign = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        settings = Settings(clickhouse_url=f"http://127.0.0.1:{foreign.server_address[1]}")
        (status,) = [s for s in services.status(settings) if s.name == "clickhouse"]
        assert not status.healthy and status.version is None
        assert status.detail == "not a ClickHouse endpoint (HTTP 200, text/html)"
    finally:
        foreign.shutdown()
    wrong = Settings(clickhouse_url=stack.clickhouse_url, clickhouse_password="wrong")
    (status,) = [s for s in services.status(wrong) if s.name == "clickhouse"]
    assert not status.healthy and status.detail.startswith("authentication failed (code 516)")
    (status,) = [s for s in services.status(stack) if s.name == "clickhouse"]
    assert status.healthy and status.version and status.version.startswith("chdb ")
