"""The local stack for real: Kafka broker via aiokafka, the chdb endpoint via clickhouse-connect and raw HTTP."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from clickhouse_connect.driver.exceptions import DatabaseError

from streams.local import ServiceError, services
from streams.settings import Settings
from tests.integration.etl_helpers import http_request as _http

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ALL_TYPES = """
    doc_id String,
    source LowCardinality(String),
    regions Array(String),
    topic_scores Map(LowCardinality(String), Float32),
    year Nullable(UInt16),
    value Float64,
    processed_at DateTime64(3),
    char_count UInt32,
    topics Array(LowCardinality(String))
"""
COLUMNS = ["doc_id", "source", "regions", "topic_scores", "year", "value", "processed_at", "char_count", "topics"]


def _rows(count: int, tag: str = "") -> list[list[object]]:
    base = dt.datetime(2024, 5, 9, 8, 30, 0, 123000)
    topics = ["产业", "健康", "教育", "就业"]
    return [
        [
            f"{tag}doc-{i:06d}",
            ["新华网", "人民网", "地方台"][i % 3],
            ["贵州省", f"县{i % 7}"] if i % 5 else [],
            {topics[i % 4]: float(i % 10) / 4, "其他": 0.25} if i % 3 else {},
            None if i % 4 == 0 else 2000 + i % 25,
            i * 1.5 + 0.125,
            base + dt.timedelta(milliseconds=i * 1001),
            i * 7,
            topics[: i % 5],
        ]
        for i in range(count)
    ]


def _client(settings: Settings, **kwargs: object) -> object:
    host, port = settings.clickhouse_host_port
    return clickhouse_connect.get_client(host=host, port=port, **kwargs)


def _db(client: object) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    client.command(f"CREATE DATABASE {name}")
    return name


# --- Kafka ------------------------------------------------------------------------------------------


async def test_kafka_produce_consume_in_order(kafka_bootstrap: str) -> None:
    topic = f"test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(1000):
            await producer.send(topic, key=f"k{i % 13}".encode(), value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: dict[int, list[tuple[int, int]]] = {}
    try:
        while sum(len(v) for v in seen.values()) < 1000:
            batch = await consumer.getmany(timeout_ms=2000)
            for tp, messages in batch.items():
                seen.setdefault(tp.partition, []).extend((m.offset, int(m.value)) for m in messages)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(4)])
    finally:
        await consumer.stop()
    assert sorted(v for msgs in seen.values() for _, v in msgs) == list(range(1000))
    for partition, messages in seen.items():
        offsets = [offset for offset, _ in messages]
        values = [value for _, value in messages]
        assert offsets == sorted(offsets) and values == sorted(values), partition
        assert ends[TopicPartition(topic, partition)] == len(messages)
    assert len(seen) > 1  # keys spread over partitions


# --- ClickHouse via clickhouse-connect --------------------------------------------------------------


def test_all_types_roundtrip(ch_client: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.docs ({ALL_TYPES}) ENGINE = MergeTree ORDER BY doc_id")
    rows = _rows(10_000)
    summary = ch_client.insert(f"{db}.docs", rows, column_names=COLUMNS)
    assert summary.written_rows == 10_000
    back = ch_client.query(f"SELECT * FROM {db}.docs ORDER BY doc_id").result_rows
    assert [list(r) for r in back] == rows
    df = ch_client.query_df(f"SELECT * FROM {db}.docs ORDER BY doc_id")
    assert len(df) == 10_000 and list(df.columns) == COLUMNS
    assert df["doc_id"].iloc[42] == "doc-000042" and df["topic_scores"].iloc[1] == rows[1][3]
    assert ch_client.command(f"SELECT count() FROM {db}.docs WHERE has(topics, '教育')") == sum(
        1 for r in rows if "教育" in r[8]
    )


def test_bad_query_raises_database_error_with_server_message(ch_client: object) -> None:
    with pytest.raises(DatabaseError) as info:
        ch_client.query("SELECT * FROM no_such_db.no_such_table")
    assert "Code: 81" in str(info.value) or "Code: 60" in str(info.value)
    assert "DB::Exception" in str(info.value)
    with pytest.raises(DatabaseError, match="SYNTAX_ERROR"):
        ch_client.command("SELEC 1")


def test_concurrent_clients_exact_totals(stack: Settings, ch_client: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.c (worker UInt32, n UInt32, s String) ENGINE = MergeTree ORDER BY (worker, n)")
    errors: list[BaseException] = []
    counts: dict[int, int] = {}

    def work(worker: int) -> None:
        try:
            client = _client(stack)
            for batch in range(5):
                client.insert(
                    f"{db}.c", [[worker, batch * 1000 + i, f"w{worker}-{i}"] for i in range(1000)], ["worker", "n", "s"]
                )
                client.query(f"SELECT count() FROM {db}.c WHERE worker = {worker}")
            counts[worker] = client.command(f"SELECT count() FROM {db}.c WHERE worker = {worker}")
            client.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert counts == {w: 5000 for w in range(8)}
    totals = ch_client.command(f"SELECT count(), uniqExact(worker, n) FROM {db}.c")
    assert [int(x) for x in totals] == [40_000, 40_000]


def test_server_side_query_parameters(ch_client: object) -> None:
    tricky = "it's a \\ test\t'; DROP TABLE x; -- 扶贫"
    result = ch_client.query(
        "SELECT {s:String} AS s, {n:UInt32} + 1 AS n, {a:Array(String)} AS a, {d:DateTime64(3)} AS d",
        parameters={"s": tricky, "n": 41, "a": ["x", "y'z"], "d": dt.datetime(2024, 1, 2, 3, 4, 5, 678000)},
    )
    assert result.result_rows == [(tricky, 42, ["x", "y'z"], dt.datetime(2024, 1, 2, 3, 4, 5, 678000))]


def test_readonly_refuses_writes(stack: Settings, ch_client: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.r (a UInt32) ENGINE = MergeTree ORDER BY a")
    with pytest.raises(DatabaseError) as info:
        ch_client.command(f"INSERT INTO {db}.r VALUES (1)", settings={"readonly": 1})
    assert info.value.code == 164 if hasattr(info.value, "code") else "Code: 164" in str(info.value)
    assert "Code: 164" in str(info.value)
    with pytest.raises(DatabaseError, match="164"):
        ch_client.insert(f"{db}.r", [[1]], settings={"readonly": 1})
    # reads still work with readonly=1, and the client's session is not left read-only
    assert ch_client.command(f"SELECT count() FROM {db}.r", settings={"readonly": 1}) == 0
    ch_client.command(f"INSERT INTO {db}.r VALUES (2)")
    # plain HTTP: readonly=1 in the URL, and GET requests (readonly=2 like ClickHouse)
    status, headers, body = _http(stack, {"query": f"INSERT INTO {db}.r VALUES (3)", "readonly": "1"}, b"")
    assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "164" and body.startswith(b"Code: 164.")
    status, headers, _ = _http(stack, {"query": f"INSERT INTO {db}.r VALUES (4)"})
    assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "164"
    assert ch_client.command(f"SELECT sum(a) FROM {db}.r") == 2


@pytest.mark.parametrize("compress", [True, False, "lz4", "zstd", "gzip"])
def test_compressed_and_uncompressed_clients(stack: Settings, ch_client: object, compress: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.docs ({ALL_TYPES}) ENGINE = MergeTree ORDER BY doc_id")
    client = _client(stack, compress=compress)
    try:
        rows = _rows(3000, tag=str(compress))
        client.insert(f"{db}.docs", rows, column_names=COLUMNS)
        back = client.query(f"SELECT * FROM {db}.docs ORDER BY doc_id").result_rows
        assert [list(r) for r in back] == rows
    finally:
        client.close()


def test_session_state_and_per_query_settings(stack: Settings) -> None:
    client = _client(stack)
    try:
        client.command("SET max_threads = 3")
        assert client.command("SELECT getSetting('max_threads')") == 3
        # a per-query setting applies to that query only
        assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
        assert client.command("SELECT getSetting('max_threads')") == 3
        client.command("CREATE TEMPORARY TABLE tmp (a UInt8)")
        client.command("INSERT INTO tmp VALUES (7)")
        assert client.command("SELECT sum(a) FROM tmp") == 7
    finally:
        client.close()
    with pytest.raises(DatabaseError, match="UNKNOWN_SETTING"):
        _client(stack).command("SELECT 1", settings={"no_such_setting_xyz": 1})


# --- ClickHouse via plain HTTP (curl) ---------------------------------------------------------------


def test_plain_http_ping_errors_and_formats(stack: Settings) -> None:
    with urllib.request.urlopen(stack.clickhouse_url + "/ping", timeout=10) as response:
        assert response.read() == b"Ok.\n"
    with urllib.request.urlopen(stack.clickhouse_url + "/", timeout=10) as response:
        assert response.read() == b"Ok.\n"
    status, headers, body = _http(stack, {"query": "SELECT 1 AS a, 'x' AS b"})
    assert (status, body) == (200, b"1\tx\n")
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    for name in ("X-ClickHouse-Query-Id", "X-ClickHouse-Summary", "X-ClickHouse-Timezone", "X-ClickHouse-Server-Display-Name"):
        assert headers[name], name
    json.loads(headers["X-ClickHouse-Summary"])
    status, headers, body = _http(stack, {"query": "SELECT 1 AS a", "default_format": "JSONEachRow"})
    assert body == b'{"a":1}\n' and headers["X-ClickHouse-Format"] == "JSONEachRow"
    status, headers, body = _http(stack, {"query_id": "my-query"}, b"SELECT 2 FORMAT CSV")
    assert body == b"2\n" and headers["X-ClickHouse-Query-Id"] == "my-query"
    status, headers, body = _http(stack, {"query": "SELECT * FROM nowhere_db.t"})
    assert status == 404 and headers["X-ClickHouse-Exception-Code"] == "81"
    assert body.startswith(b"Code: 81. DB::Exception: ")
    status, headers, body = _http(stack, {"query": "SELECT {x:UInt8} * 2", "param_x": "21"})
    assert body == b"42\n"


def test_plain_post_inserts_in_text_formats(stack: Settings, ch_client: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.j (id UInt32, title String, tags Array(String)) ENGINE = MergeTree ORDER BY id")
    lines = "\n".join(json.dumps({"id": i, "title": f"标题{i}", "tags": ["a", "b"]}, ensure_ascii=False) for i in range(500))
    status, headers, body = _http(stack, {}, f"INSERT INTO {db}.j FORMAT JSONEachRow\n{lines}\n".encode())
    assert status == 200, body
    assert json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "500"
    status, _, body = _http(stack, {"query": f"INSERT INTO {db}.j FORMAT TabSeparated"}, b"1000\tt\t['x']\n1001\tu\t[]\n")
    assert status == 200, body
    status, _, body = _http(stack, {"query": f"INSERT INTO {db}.j FORMAT CSV"}, b"2000,\"c,sv\",\"['q']\"\n")
    assert status == 200, body
    status, _, body = _http(stack, {"query": f"INSERT INTO {db}.j VALUES"}, b"(3000, 'v', ['w'])")
    assert status == 200, body
    status, _, body = _http(stack, {"database": db}, b"SELECT count(), sum(id) FROM j")
    assert body == f"504\t{sum(range(500)) + 1000 + 1001 + 2000 + 3000}\n".encode()
    status, _, body = _http(stack, {"query": f"INSERT INTO {db}.j FORMAT JSONEachRow"}, b'{"id": "not a number"}\n')
    assert status in (400, 500) and body.startswith(b"Code: ")


def test_http_compression_both_directions(stack: Settings, ch_client: object) -> None:
    db = _db(ch_client)
    ch_client.command(f"CREATE TABLE {db}.z (id UInt32) ENGINE = MergeTree ORDER BY id")
    import lz4.frame
    import zstandard

    encoders: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "lz4": lz4.frame.compress,
    }
    for i, (name, encode) in enumerate(encoders.items()):
        data = "".join(f"{i * 1000 + n}\n" for n in range(1000)).encode()
        status, _, body = _http(
            stack, {"query": f"INSERT INTO {db}.z FORMAT TSV"}, encode(data), {"Content-Encoding": name}
        )
        assert status == 200, (name, body)
    decoders = {
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
        "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
        "lz4": lz4.frame.decompress,
    }
    for name, decode in decoders.items():
        status, headers, body = _http(
            stack,
            {"query": f"SELECT count(), sum(id) FROM {db}.z", "enable_http_compression": "1"},
            headers={"Accept-Encoding": name},
        )
        assert headers["Content-Encoding"] == name
        assert decode(body) == f"4000\t{sum(range(4000))}\n".encode()
    # without enable_http_compression the answer is plain, as in ClickHouse
    status, headers, body = _http(stack, {"query": "SELECT 1"}, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers and body == b"1\n"


def test_large_result_is_streamed_in_chunks(stack: Settings) -> None:
    status, headers, body = _http(stack, {"query": "SELECT number FROM numbers(3000000)"})
    assert status == 200 and headers["Transfer-Encoding"] == "chunked"
    assert len(body) == sum(len(str(n)) + 1 for n in range(3_000_000))
    assert body.endswith(b"2999999\n")


# --- service management -----------------------------------------------------------------------------


async def _produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send(topic, key=b"k", value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, topic: str, count: int) -> list[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    values: list[int] = []
    try:
        while len(values) < count:
            batch = await consumer.getmany(timeout_ms=2000)
            values.extend(int(m.value) for messages in batch.values() for m in messages)
    finally:
        await consumer.stop()
    return values


@pytest.mark.timeout(400)
async def test_persistence_across_down_and_up(make_stack_settings: Callable[[], Settings]) -> None:
    settings = make_stack_settings()
    first = services.up(settings)
    assert all(s.healthy and s.pid for s in first), first
    again = services.up(settings)  # starting twice is harmless
    assert [s.pid for s in again] == [s.pid for s in first]
    client = _client(settings)
    client.command("CREATE DATABASE keep")
    client.command(f"CREATE TABLE keep.docs ({ALL_TYPES}) ENGINE = MergeTree ORDER BY doc_id")
    rows = _rows(1000)
    client.insert("keep.docs", rows, column_names=COLUMNS)
    client.close()
    await _produce(settings.bootstrap_servers, "keep-topic", 200)

    stopped = services.down(settings)
    assert not any(s.healthy or s.running for s in stopped), stopped
    assert not any(s.healthy for s in services.status(settings))

    services.up(settings)
    client = _client(settings)
    assert [list(r) for r in client.query("SELECT * FROM keep.docs ORDER BY doc_id").result_rows] == rows
    client.close()
    assert sorted(await _consume_all(settings.bootstrap_servers, "keep-topic", 200)) == list(range(200))
    services.down(settings)


def test_status_reports_unhealthy_service(make_stack_settings: Callable[[], Settings]) -> None:
    settings = make_stack_settings()
    before = {s.name: s for s in services.status(settings)}
    assert not before["kafka"].healthy and not before["clickhouse"].healthy
    services.up(settings)
    ch_pid = next(s.pid for s in services.status(settings) if s.name == "clickhouse")
    assert ch_pid is not None
    services._stop_pid(settings, "clickhouse", ch_pid, 10)  # one service goes away
    after = {s.name: s for s in services.status(settings)}
    assert after["kafka"].healthy and after["kafka"].version and after["kafka"].version.startswith("3.9")
    assert not after["clickhouse"].healthy and not after["clickhouse"].running


def test_port_taken_by_another_program(make_stack_settings: Callable[[], Settings]) -> None:
    settings = make_stack_settings()
    host, port = settings.clickhouse_host_port
    with socket.socket() as blocker:
        blocker.bind((host, port))
        blocker.listen()
        with pytest.raises(ServiceError, match=f"port {port} is already in use by another program"):
            services.up(settings)
    assert not any(s.running for s in services.status(settings))


def test_user_and_password_are_checked(tmp_path: object) -> None:
    import subprocess
    import sys
    import time

    from tests.integration.conftest import free_ports

    (port,) = free_ports(1)
    secret = tmp_path / "password"
    secret.write_text("s3cret")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.local.clickhouse_http", "--port", str(port), "--path", str(tmp_path / "ch"),
         "--user", "etl", "--password-file", str(secret)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings = Settings(clickhouse_url=f"http://127.0.0.1:{port}", clickhouse_user="etl", clickhouse_password="s3cret")
        deadline = time.monotonic() + 60
        while services.clickhouse_version(settings) is None:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        client = _client(settings, username="etl", password="s3cret")
        assert client.command("SELECT 1") == 1
        client.close()
        with pytest.raises(DatabaseError) as info:
            _client(settings, username="etl", password="wrong")
        assert "516" in str(info.value) and "Authentication failed" in str(info.value)
        status, headers, _ = _http(settings, {"query": "SELECT 1", "user": "default"})
        assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "516"
        status, _, body = _http(settings, {"query": "SELECT 1"}, headers={"X-ClickHouse-User": "etl", "X-ClickHouse-Key": "s3cret"})
        assert (status, body) == (200, b"1\n")
    finally:
        proc.terminate()
        proc.wait(30)


def test_insert_settings_reach_the_engine(ch_client: object) -> None:
    """Per-insert settings (here the dedup token the sink relies on) are applied by the engine."""
    db = _db(ch_client)
    ch_client.command(
        f"CREATE TABLE {db}.d (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100"
    )
    for token in ("tok-1", "tok-1", "tok-2"):
        ch_client.insert(f"{db}.d", [[1], [2]], column_names=["a"], settings={"insert_deduplication_token": token})
    assert ch_client.command(f"SELECT count() FROM {db}.d") == 4
    # the token was per insert: the session does not keep it
    assert ch_client.command("SELECT getSetting('insert_deduplication_token')") == ""


def test_concurrent_queries_in_one_session_are_refused(stack: Settings) -> None:
    """As in ClickHouse, one session runs one query at a time (SESSION_IS_LOCKED, code 373)."""
    params = {"session_id": f"s-{uuid.uuid4().hex}", "query": "SELECT sleep(2)"}
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(_http(stack, params, b"")[0])) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [200, 500]


def test_error_in_the_middle_of_a_streamed_result_is_raised(ch_client: object) -> None:
    """A failure after the first chunks were sent still reaches the client, not a silent truncation."""
    with pytest.raises(Exception, match="FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"):
        # clickhouse-connect reads the rest of a large result lazily: consume it inside the block
        len(ch_client.query("SELECT toString(number) FROM numbers(3000000) WHERE throwIf(number = 2500000) = 0").result_rows)
    assert ch_client.command("SELECT 1") == 1
