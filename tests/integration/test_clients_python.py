"""Real Python clients against the embedded ClickHouse endpoint, as against a ClickHouse server.

- clickhouse-connect: query / query_df / query_arrow / query_arrow_stream / insert_df /
  insert_arrow, ``LIMIT 0`` results (names and types must come back), and a 500,000-row result in
  every output format (through clickhouse-connect's ``raw_query`` and through plain HTTP with
  ``default_format`` / the ``X-ClickHouse-Format`` header), parsed from the body row by row;
- plain HTTP: what a server answers for empty results in each kind of format, the
  ``X-ClickHouse-Format`` / ``X-ClickHouse-Database`` request headers, ClickHouse's own block
  compression (``compress=1`` answers, ``decompress=1`` request bodies, checksums verified);
- SQLAlchemy through clickhouse-connect's ``clickhousedb://`` dialect: the inspector and pandas
  ``read_sql``;
- aiochclient (aiohttp): select, empty fetch, insert, iterating a large result.

A test that creates tables does so in a database of its own (``cl_<random>``).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streams.settings import Settings
from support.clients_formats import (
    FORMATS,
    HEADERS,
    NAMES,
    NONE_METHOD,
    NUMBERS_SQL,
    ROWS,
    TYPES,
    check_numbers,
    frame_block,
    parse,
    unframe_blocks,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EXPECTED_SUM = ROWS * (ROWS - 1) // 2
DOCS_DDL = (
    "(id UInt32, title String, score Float64, tags Array(String), note Nullable(String), "
    "at DateTime64(3)) ENGINE = MergeTree ORDER BY id"
)
DOCS_COLUMNS = ["id", "title", "score", "tags", "note", "at"]
DOCS_TYPES = ["UInt32", "String", "Float64", "Array(String)", "Nullable(String)", "DateTime64(3)"]
BASE_TIME = dt.datetime(2024, 5, 9, 8, 30, 0, 123000)


def _doc_rows(count: int, start: int = 0) -> list[list[object]]:
    return [
        [
            i,
            f"标题-{i}" if i % 3 else f"title {i} 'quoted'",
            i * 0.25,
            [f"t{i % 4}", "新闻"] if i % 2 else [],
            None if i % 5 == 0 else f"note {i}",
            BASE_TIME + dt.timedelta(seconds=i, milliseconds=i % 1000),
        ]
        for i in range(start, start + count)
    ]


def _url(settings: Settings) -> str:
    return settings.clickhouse_url.rstrip("/")


def _http(
    settings: Settings,
    params: dict[str, str],
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, object, bytes]:
    """A plain HTTP request (as curl sends it); returns (status, headers, body)."""
    url = _url(settings) + "/?" + urlencode(params)
    request = urllib.request.Request(
        url, data=body, headers=headers or {}, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture()
def db(ch_client: object) -> str:
    """A fresh database for this test."""
    name = f"cl_{uuid.uuid4().hex[:12]}"
    ch_client.command(f"CREATE DATABASE {name}")
    return name


def _docs_table(ch_client: object, db: str, rows: list[list[object]]) -> str:
    table = f"{db}.docs_{uuid.uuid4().hex[:8]}"
    ch_client.command(f"CREATE TABLE {table} {DOCS_DDL}")
    if rows:
        ch_client.insert(table, rows, column_names=DOCS_COLUMNS)
    return table


# --- clickhouse-connect -----------------------------------------------------------------------------


def test_cc_query_rows_names_types(ch_client: object, db: str) -> None:
    rows = _doc_rows(2000)
    table = _docs_table(ch_client, db, rows)
    result = ch_client.query(f"SELECT * FROM {table} ORDER BY id")
    assert list(result.column_names) == DOCS_COLUMNS
    assert [t.name for t in result.column_types] == DOCS_TYPES
    assert [list(r) for r in result.result_rows] == rows
    assert ch_client.query(
        "SELECT {a:UInt32} * 2 AS doubled, {s:String} AS s", parameters={"a": 21, "s": "扶贫's"}
    ).result_rows == [(42, "扶贫's")]


def test_cc_query_df(ch_client: object, db: str) -> None:
    rows = _doc_rows(1500)
    table = _docs_table(ch_client, db, rows)
    df = ch_client.query_df(f"SELECT id, title, score, note FROM {table} ORDER BY id")
    assert list(df.columns) == ["id", "title", "score", "note"]
    assert len(df) == 1500
    assert df["id"].tolist() == list(range(1500))
    assert df["title"].tolist() == [r[1] for r in rows]
    assert df["score"].sum() == sum(r[2] for r in rows)
    assert [None if pd.isna(v) else v for v in df["note"].tolist()] == [r[4] for r in rows]


def test_cc_query_arrow(ch_client: object, db: str) -> None:
    rows = _doc_rows(1200)
    table = _docs_table(ch_client, db, rows)
    arrow = ch_client.query_arrow(f"SELECT id, title, score, tags, note FROM {table} ORDER BY id")
    assert isinstance(arrow, pa.Table)
    assert arrow.column_names == ["id", "title", "score", "tags", "note"]
    assert arrow.num_rows == 1200
    assert arrow.schema.field("id").type == pa.uint32()
    assert arrow.schema.field("score").type == pa.float64()
    assert arrow.column("id").to_pylist() == list(range(1200))
    assert arrow.column("title").to_pylist() == [r[1] for r in rows]
    assert arrow.column("tags").to_pylist() == [r[3] for r in rows]
    assert arrow.column("note").to_pylist() == [r[4] for r in rows]


def test_cc_query_arrow_large(ch_client: object) -> None:
    arrow = ch_client.query_arrow(NUMBERS_SQL)
    assert arrow.column_names == NAMES
    assert arrow.num_rows == ROWS
    numbers = arrow.column("number").to_numpy()
    assert int(numbers.sum()) == EXPECTED_SUM
    assert np.array_equal(np.sort(numbers), np.arange(ROWS, dtype="u8"))


def test_cc_query_arrow_stream_large(ch_client: object) -> None:
    batches = rows = total = 0
    names: set[tuple[str, ...]] = set()
    with ch_client.query_arrow_stream(NUMBERS_SQL) as stream:
        for batch in stream:
            batches += 1
            names.add(tuple(batch.schema.names))
            rows += batch.num_rows
            total += int(batch.column(0).to_numpy().sum())
    assert names == {tuple(NAMES)}
    assert (rows, total) == (ROWS, EXPECTED_SUM)
    assert batches >= 1


def test_cc_query_native_large(ch_client: object) -> None:
    result = ch_client.query(NUMBERS_SQL)
    assert list(result.column_names) == NAMES
    assert [t.name for t in result.column_types] == TYPES
    numbers, strings = result.result_columns
    assert len(numbers) == ROWS and len(strings) == ROWS
    assert sum(numbers) == EXPECTED_SUM
    assert all(s == str(n) for n, s in zip(numbers, strings, strict=True))
    df = ch_client.query_df(NUMBERS_SQL)
    assert len(df) == ROWS and int(df["number"].sum()) == EXPECTED_SUM


def test_cc_insert_df(ch_client: object, db: str) -> None:
    table = _docs_table(ch_client, db, [])
    rows = _doc_rows(3000, start=10)
    df = pd.DataFrame(rows, columns=DOCS_COLUMNS)
    summary = ch_client.insert_df(table, df)
    assert summary.written_rows == 3000
    back = ch_client.query(f"SELECT * FROM {table} ORDER BY id").result_rows
    assert [list(r) for r in back] == rows


def test_cc_insert_arrow(ch_client: object, db: str) -> None:
    table = f"{db}.arrow_in"
    ch_client.command(
        f"CREATE TABLE {table} (id UInt32, title String, score Float64, note Nullable(String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    arrow = pa.table(
        {
            "id": pa.array(range(5000), pa.uint32()),
            "title": pa.array([f"标题{i}" for i in range(5000)], pa.string()),
            "score": pa.array([i / 8 for i in range(5000)], pa.float64()),
            "note": pa.array([None if i % 3 == 0 else f"n{i}" for i in range(5000)], pa.string()),
        }
    )
    summary = ch_client.insert_arrow(table, arrow)
    assert summary.written_rows == 5000
    assert ch_client.query(
        f"SELECT count(), sum(id), sum(score), countIf(note IS NULL), max(title) FROM {table}"
    ).result_rows == [(5000, sum(range(5000)), sum(i / 8 for i in range(5000)), 1667, "标题999")]
    back = ch_client.query_arrow(f"SELECT * FROM {table} ORDER BY id")
    assert back.column("title").to_pylist() == arrow.column("title").to_pylist()
    assert back.column("note").to_pylist() == arrow.column("note").to_pylist()


def test_cc_limit_zero_keeps_names_and_types(ch_client: object, db: str) -> None:
    table = _docs_table(ch_client, db, _doc_rows(10))
    sql = f"SELECT * FROM {table} LIMIT 0"
    result = ch_client.query(sql)
    assert result.result_rows == []
    assert list(result.column_names) == DOCS_COLUMNS
    assert [t.name for t in result.column_types] == DOCS_TYPES
    numbers = ch_client.query("SELECT number, toString(number) AS s FROM numbers(10) LIMIT 0")
    assert (list(numbers.column_names), [t.name for t in numbers.column_types]) == (NAMES, TYPES)
    assert numbers.result_rows == []
    # query_df builds its frame from the column data it got: an empty result is an empty frame
    # (no columns, with a real server too: clickhouse-connect's NumpyResult.close_df)
    df = ch_client.query_df(sql)
    assert df.empty and len(df) == 0
    arrow = ch_client.query_arrow(f"SELECT id, title, score FROM {table} WHERE id > 1000000")
    assert arrow.num_rows == 0
    assert arrow.schema.names == ["id", "title", "score"]
    assert [arrow.schema.field(n).type for n in ("id", "score")] == [pa.uint32(), pa.float64()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_cc_raw_query_large_every_format(ch_client: object, fmt: str) -> None:
    """clickhouse-connect's raw_query (``FORMAT X`` appended, HTTP compression on): all rows come back."""
    body = ch_client.raw_query(NUMBERS_SQL, fmt=fmt)
    parsed = parse(fmt, body)
    assert (parsed.names, parsed.types) == HEADERS[fmt]
    check_numbers(parsed)


@pytest.mark.parametrize(
    ("fmt", "how"),
    [
        ("TSVWithNamesAndTypes", "X-ClickHouse-Format"),
        ("JSON", "default_format"),
        ("RowBinaryWithNamesAndTypes", "X-ClickHouse-Format"),
        ("Native", "default_format"),
        ("Arrow", "X-ClickHouse-Format"),
        ("Parquet", "default_format"),
    ],
)
def test_http_large_whole_result_formats(stack: Settings, fmt: str, how: str) -> None:
    """Plain HTTP (no compression), the format in ``default_format`` or in the ``X-ClickHouse-Format``
    header (as the JDBC driver sends it): the answer says so and holds every row exactly once
    (formats whose header, footer or schema covers the whole result)."""
    if how == "default_format":
        status, headers, body = _http(stack, {"default_format": fmt}, NUMBERS_SQL.encode())
    else:
        status, headers, body = _http(stack, {}, NUMBERS_SQL.encode(), {"X-ClickHouse-Format": fmt})
    assert status == 200, body[:500]
    assert headers["X-ClickHouse-Format"] == fmt
    parsed = parse(fmt, body)
    assert (parsed.names, parsed.types) == HEADERS[fmt]
    check_numbers(parsed)


# Real servers answer an empty result with the format's header/footer, not with an empty body.
EMPTY_BODIES = {
    "TabSeparated": b"",
    "TSVWithNames": b"number\ts\n",
    "TSVWithNamesAndTypes": b"number\ts\nUInt64\tString\n",
    "CSVWithNames": b'"number","s"\n',
    "CSVWithNamesAndTypes": b'"number","s"\n"UInt64","String"\n',
    "JSONEachRow": b"",
    "JSONCompactEachRowWithNamesAndTypes": b'["number", "s"]\n["UInt64", "String"]\n',
    "JSONColumns": b'{\n\t"number": [],\n\t"s": []\n}\n',
}


@pytest.mark.parametrize("fmt", sorted(EMPTY_BODIES))
def test_http_empty_result_text_formats(stack: Settings, fmt: str) -> None:
    status, _, body = _http(stack, {"query": f"{NUMBERS_SQL} LIMIT 0 FORMAT {fmt}"})
    assert status == 200
    assert body == EMPTY_BODIES[fmt]


@pytest.mark.parametrize("fmt", ["JSON", "JSONCompact"])
def test_http_empty_result_json(stack: Settings, fmt: str) -> None:
    status, _, body = _http(stack, {"query": f"{NUMBERS_SQL} LIMIT 0 FORMAT {fmt}"})
    assert status == 200 and body, body
    doc = json.loads(body)
    assert doc["meta"] == [{"name": "number", "type": "UInt64"}, {"name": "s", "type": "String"}]
    assert (doc["data"], doc["rows"]) == ([], 0)


@pytest.mark.parametrize("fmt", ["RowBinaryWithNamesAndTypes", "Arrow", "ArrowStream", "Parquet", "ORC"])
def test_http_empty_result_binary_formats(stack: Settings, fmt: str) -> None:
    """Formats with a header/schema carry it for an empty result too (the JDBC driver relies on it)."""
    status, _, body = _http(stack, {"query": f"{NUMBERS_SQL} LIMIT 0 FORMAT {fmt}"})
    assert status == 200 and body, f"empty body for an empty {fmt} result"
    parsed = parse(fmt, body)
    assert (parsed.names, parsed.types) == HEADERS[fmt]
    assert len(parsed.numbers) == 0 and parsed.strings == []


def test_http_empty_result_native_is_empty(stack: Settings) -> None:
    """Native writes no block for an empty result: a ClickHouse server answers with an empty body
    (ClickHouse/ClickHouse#55939), which is why clickhouse-connect asks LIMIT 0 queries in JSON."""
    status, headers, body = _http(stack, {"query": f"{NUMBERS_SQL} LIMIT 0 FORMAT Native"})
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b"", "Native")


def test_http_format_and_database_headers(stack: Settings, ch_client: object, db: str) -> None:
    """``X-ClickHouse-Format`` and ``X-ClickHouse-Database`` request headers, as the JDBC driver sends."""
    ch_client.command(f"CREATE TABLE {db}.h (a UInt32) ENGINE = MergeTree ORDER BY a")
    ch_client.command(f"INSERT INTO {db}.h VALUES (1), (2), (3)")
    status, headers, body = _http(
        stack,
        {},
        b"SELECT currentDatabase() AS d, sum(a) AS total FROM h",
        {"X-ClickHouse-Format": "JSONEachRow", "X-ClickHouse-Database": db},
    )
    assert (status, body) == (200, f'{{"d":"{db}","total":6}}\n'.encode())
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    # a FORMAT clause in the query wins over the header (which only sets the default format)
    status, headers, body = _http(
        stack,
        {"database": db},
        b"SELECT currentDatabase() FORMAT CSV",
        {"X-ClickHouse-Format": "JSONEachRow"},
    )
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, f'"{db}"\n'.encode(), "CSV")


# --- ClickHouse's own compression over HTTP: compress=1 (answers), decompress=1 (request bodies) ---


@pytest.mark.parametrize("fmt", ["RowBinaryWithNamesAndTypes", "Arrow"])
def test_http_compress_1_large(stack: Settings, fmt: str) -> None:
    """compress=1: the answer is ClickHouse's checksummed LZ4 blocks (what the JDBC driver asks for)."""
    status, headers, body = _http(stack, {"compress": "1", "default_format": fmt}, NUMBERS_SQL.encode())
    assert status == 200, body[:500]
    assert "Content-Encoding" not in headers
    data, blocks = unframe_blocks(body)
    assert blocks >= 1
    parsed = parse(fmt, data)
    assert (parsed.names, parsed.types) == HEADERS[fmt]
    check_numbers(parsed)


def test_http_decompress_1_insert(stack: Settings, ch_client: object, db: str) -> None:
    """decompress=1: the request body is ClickHouse's compressed blocks; a bad checksum is refused
    (CHECKSUM_DOESNT_MATCH, code 40) and inserts nothing."""
    ch_client.command(f"CREATE TABLE {db}.z (id UInt32, s String) ENGINE = MergeTree ORDER BY id")
    data = "".join(f"{i}\t文本{i}\n" for i in range(20_000)).encode()
    half = data.index(b"\n", len(data) // 2) + 1
    body = frame_block(data[:half]) + frame_block(data[half:], NONE_METHOD)
    query = f"INSERT INTO {db}.z FORMAT TSV"
    status, _, answer = _http(stack, {"query": query, "decompress": "1"}, body)
    assert status == 200, answer
    assert ch_client.query(f"SELECT count(), sum(id), max(s) FROM {db}.z").result_rows == [
        (20_000, sum(range(20_000)), "文本9999")
    ]
    corrupt = bytearray(frame_block(b"1\tx\n2\ty\n"))
    corrupt[-1] ^= 0xFF
    status, headers, answer = _http(
        stack, {"query": f"INSERT INTO {db}.z FORMAT TSV", "decompress": "1"}, bytes(corrupt)
    )
    assert status >= 400 and headers["X-ClickHouse-Exception-Code"] == "40", answer
    assert answer.startswith(b"Code: 40. DB::Exception: Checksum doesn't match"), answer
    assert ch_client.command(f"SELECT count() FROM {db}.z") == 20_000


# --- SQLAlchemy (clickhouse-connect's clickhousedb dialect) -----------------------------------------


@pytest.fixture()
def sa_engine(stack: Settings, db: str) -> Iterator[object]:
    import sqlalchemy

    host, port = stack.clickhouse_host_port
    password = stack.clickhouse_password.get_secret_value()
    engine = sqlalchemy.create_engine(f"clickhousedb://{stack.clickhouse_user}:{password}@{host}:{port}/{db}")
    try:
        yield engine
    finally:
        engine.dispose()


def test_sqlalchemy_inspector(ch_client: object, db: str, sa_engine: object) -> None:
    import sqlalchemy

    ch_client.command(f"CREATE TABLE {db}.docs {DOCS_DDL}")
    ch_client.command(f"CREATE TABLE {db}.other (k String, v Nullable(Int64)) ENGINE = MergeTree ORDER BY k")
    inspector = sqlalchemy.inspect(sa_engine)
    assert sorted(inspector.get_table_names()) == ["docs", "other"]
    assert sorted(inspector.get_table_names(schema=db)) == ["docs", "other"]
    columns = inspector.get_columns("docs")
    assert [c["name"] for c in columns] == DOCS_COLUMNS
    assert [str(c["type"]) for c in columns] == DOCS_TYPES
    assert [c["nullable"] for c in columns] == [False, False, False, False, True, False]
    other = inspector.get_columns("other", schema=db)
    assert [(c["name"], str(c["type"])) for c in other] == [("k", "String"), ("v", "Nullable(Int64)")]


def test_sqlalchemy_read_sql_empty_and_large(ch_client: object, db: str, sa_engine: object) -> None:
    import sqlalchemy

    table = _docs_table(ch_client, db, _doc_rows(100))
    with sa_engine.connect() as conn:
        empty = pd.read_sql(sqlalchemy.text(f"SELECT id, title, score FROM {table} WHERE id > 1000000"), conn)
        assert len(empty) == 0 and list(empty.columns) == ["id", "title", "score"]
        limit0 = pd.read_sql(
            sqlalchemy.text("SELECT number, toString(number) AS s FROM numbers(10) LIMIT 0"), conn
        )
        assert len(limit0) == 0 and list(limit0.columns) == NAMES
        large = pd.read_sql(
            sqlalchemy.text("SELECT number, toString(number) AS s FROM numbers(200000)"), conn
        )
        assert list(large.columns) == NAMES and len(large) == 200_000
        assert int(large["number"].sum()) == 200_000 * 199_999 // 2
        assert (large["s"] == large["number"].astype(str)).all()
        name = table.split(".", 1)[1]  # unqualified: the engine URL's database applies
        rows = pd.read_sql(sqlalchemy.text(f"SELECT id, title FROM {name} WHERE id < 3 ORDER BY id"), conn)
        assert rows.values.tolist() == [[0, "title 0 'quoted'"], [1, "标题-1"], [2, "标题-2"]]


# --- aiochclient (aiohttp) --------------------------------------------------------------------------


async def test_aiochclient_select_insert_empty_and_large(stack: Settings, ch_client: object, db: str) -> None:
    import aiohttp
    from aiochclient import ChClient

    ch_client.command(
        f"CREATE TABLE {db}.events (id UInt32, name String, score Float64, tags Array(String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    async with aiohttp.ClientSession() as session:
        client = ChClient(
            session,
            url=_url(stack),
            user=stack.clickhouse_user,
            password=stack.clickhouse_password.get_secret_value(),
            database=db,
        )
        assert await client.is_alive()
        rows = [
            (i, f"事件-{i}" if i % 2 else f"ev'{i}", i * 1.5, [f"t{i % 3}"] * (i % 3)) for i in range(1000)
        ]
        await client.execute("INSERT INTO events VALUES", *rows)
        assert await client.fetchval("SELECT count() FROM events") == 1000
        fetched = await client.fetch("SELECT id, name, score, tags FROM events WHERE id < 5 ORDER BY id")
        assert [tuple(r.values()) for r in fetched] == rows[:5]
        assert fetched[1]["name"] == "事件-1"
        one = await client.fetchrow("SELECT currentDatabase() AS d, sum(score) AS total FROM events")
        assert (one["d"], one["total"]) == (db, sum(r[2] for r in rows))
        # an empty result
        assert await client.fetch("SELECT id, name FROM events WHERE id > 100000") == []
        assert await client.fetch("SELECT number, toString(number) AS s FROM numbers(10) LIMIT 0") == []
        assert await client.fetchrow("SELECT id FROM events WHERE id > 100000") is None
        # a large result, streamed
        count = total = mismatches = 0
        async for record in client.iterate(NUMBERS_SQL):
            number, text = record[0], record[1]
            count += 1
            total += number
            mismatches += text != str(number)
        assert (count, total, mismatches) == (ROWS, EXPECTED_SUM, 0)
