"""The endpoint's HTTP protocol as ClickHouse documents it: results of any size in every format,
empty results with their header, request headers, compress=1/decompress=1, wait_end_of_query,
session settings. Clients' own tests are in test_clients_*.py."""

from __future__ import annotations

import csv
import http.client
import io
import json
import urllib.error
import urllib.request
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.local.blocks import BlockDecompressor, compress_block
from streams.settings import Settings
from tests.integration.etl_helpers import http_request as _http

pytestmark = pytest.mark.integration
ROWS = 200_000  # several of chdb's streamed chunks (about 65k rows each)
QUERY = "SELECT number, toString(number) AS s FROM numbers({n})"


def _rows(fmt: str, body: bytes) -> list[tuple[int, str]]:
    """The (number, s) rows of a result, parsed with a parser of the format."""
    if fmt in ("JSON", "JSONCompact"):
        doc = json.loads(body)
        assert [m["name"] for m in doc["meta"]] == ["number", "s"] and doc["rows"] == len(doc["data"])
        data = doc["data"]
        return [(int(r["number"]), r["s"]) if fmt == "JSON" else (int(r[0]), r[1]) for r in data]
    if fmt in ("Arrow", "ArrowStream", "Parquet"):
        if fmt == "Arrow":
            table = pa.ipc.open_file(pa.BufferReader(body)).read_all()
        elif fmt == "ArrowStream":
            table = pa.ipc.open_stream(pa.BufferReader(body)).read_all()
        else:
            table = pq.read_table(io.BytesIO(body))
        assert table.column_names == ["number", "s"]
        s = [v.decode() if isinstance(v, bytes) else v for v in table.column("s").to_pylist()]
        return list(zip(table.column("number").to_pylist(), s, strict=True))
    text = body.decode()
    if fmt.startswith("CSV"):
        lines = list(csv.reader(io.StringIO(text)))
    else:
        lines = [line.split("\t") for line in text.splitlines()]
    if fmt.endswith("WithNames"):
        assert lines[0] == ["number", "s"]
        lines = lines[1:]
    elif fmt.endswith("WithNamesAndTypes"):
        assert lines[:2] == [["number", "s"], ["UInt64", "String"]]
        lines = lines[2:]
    return [(int(a), b) for a, b in lines]


TEXT_AND_DOCUMENT_FORMATS = [
    "TabSeparated", "CSV", "TSVWithNames", "TSVWithNamesAndTypes", "CSVWithNames", "CSVWithNamesAndTypes",
    "JSON", "JSONCompact", "Arrow", "ArrowStream", "Parquet",
]


@pytest.mark.parametrize("fmt", TEXT_AND_DOCUMENT_FORMATS)
def test_large_result_is_complete_in_every_format(stack: Settings, fmt: str) -> None:
    status, headers, body = _http(stack, {"query": QUERY.format(n=ROWS) + f" FORMAT {fmt}"})
    assert status == 200, body[:300]
    rows = _rows(fmt, body)
    assert len(rows) == ROWS
    assert rows[0] == (0, "0") and rows[-1] == (ROWS - 1, str(ROWS - 1))
    assert sum(n for n, _ in rows) == ROWS * (ROWS - 1) // 2


def test_row_binary_with_names_and_types_has_one_header(stack: Settings) -> None:
    status, _, body = _http(stack, {"query": QUERY.format(n=ROWS) + " FORMAT RowBinaryWithNamesAndTypes"})
    assert status == 200
    head = b"\x02\x06number\x01s\x06UInt64\x06String"
    assert body.startswith(head) and body.count(head) == 1
    # each row: 8-byte number + 1-byte length + digits
    assert len(body) - len(head) == sum(9 + len(str(n)) for n in range(ROWS))


@pytest.mark.parametrize("fmt", ["JSON", "JSONCompact", "Arrow", "ArrowStream", "Parquet", "CSVWithNames",
                                 "TSVWithNamesAndTypes"])
def test_empty_result_keeps_its_header(stack: Settings, fmt: str) -> None:
    status, _, body = _http(stack, {"query": QUERY.format(n=10) + f" LIMIT 0 FORMAT {fmt}"})
    assert status == 200
    assert body  # what the client learns the columns from
    assert _rows(fmt, body) == []


@pytest.mark.parametrize("fmt", ["TabSeparated", "CSV", "JSONEachRow", "RowBinary", "Native"])
def test_empty_result_of_a_format_without_header_is_empty(stack: Settings, fmt: str) -> None:
    status, _, body = _http(stack, {"query": QUERY.format(n=10) + f" LIMIT 0 FORMAT {fmt}"})
    assert (status, body) == (200, b"")


def test_format_and_database_request_headers(stack: Settings) -> None:
    status, headers, body = _http(
        stack,
        {"query": "SELECT currentDatabase() AS db"},
        headers={"X-ClickHouse-Format": "JSONEachRow", "X-ClickHouse-Database": "system"},
    )
    assert status == 200 and json.loads(body) == {"db": "system"}
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    status, _, body = _http(stack, {"query": "SELECT 1"}, headers={"X-ClickHouse-Database": "no_such_db"})
    assert status == 404 and b"UNKNOWN_DATABASE" in body


def test_query_id_is_echoed_or_generated(stack: Settings) -> None:
    qid = f"q-{uuid.uuid4()}"
    _, headers, _ = _http(stack, {"query": "SELECT 1", "query_id": qid})
    assert headers["X-ClickHouse-Query-Id"] == qid
    _, headers, _ = _http(stack, {"query": "SELECT 1"})
    assert str(uuid.UUID(headers["X-ClickHouse-Query-Id"])) == headers["X-ClickHouse-Query-Id"]


def test_compress_1_answers_in_clickhouse_blocks(stack: Settings) -> None:
    status, headers, body = _http(stack, {"query": QUERY.format(n=ROWS) + " FORMAT TabSeparated", "compress": "1"})
    assert status == 200 and "Content-Encoding" not in headers
    dec = BlockDecompressor()
    text = dec.feed(body) + dec.flush()
    assert text.count(b"\n") == ROWS and text.endswith(f"{ROWS - 1}\t{ROWS - 1}\n".encode())
    assert len(body) < len(text) * 0.8  # compressed, not only framed


def test_decompress_1_reads_an_insert_in_clickhouse_blocks(stack: Settings) -> None:
    table = f"default.blocks_{uuid.uuid4().hex[:8]}"
    assert _http(stack, {"query": f"CREATE TABLE {table} (n UInt32, s String) ENGINE MergeTree ORDER BY n"}, b"")[0] == 200
    data = "".join(f"{i}\t县{i}\n" for i in range(50_000)).encode()
    body = compress_block(data[:300_000]) + compress_block(data[300_000:])
    status, _, text = _http(stack, {"query": f"INSERT INTO {table} FORMAT TabSeparated", "decompress": "1"}, body)
    assert status == 200, text
    _, _, out = _http(stack, {"query": f"SELECT count(), sum(n), max(s) FROM {table}"})
    assert out == f"50000\t{sum(range(50_000))}\t县9999\n".encode()
    corrupt = bytearray(body)
    corrupt[40] ^= 0xFF
    status, _, text = _http(stack, {"query": f"INSERT INTO {table} FORMAT TabSeparated", "decompress": "1"}, bytes(corrupt))
    assert status == 500 and b"Code: 40." in text and b"CHECKSUM_DOESNT_MATCH" in text


def test_wait_end_of_query_turns_a_late_error_into_an_error_status(stack: Settings) -> None:
    # throwIf fails on a row far into the result: streamed, the body would be cut with the error in it
    sql = f"SELECT number, throwIf(number = {ROWS - 5}, 'late failure') FROM numbers({ROWS}) FORMAT TabSeparated"
    status, headers, body = _http(stack, {"query": sql, "wait_end_of_query": "1"})
    assert status >= 400
    assert headers["X-ClickHouse-Exception-Code"] == "395" and b"late failure" in body
    # streamed (the default), the status is usually sent long before the failing row: the error
    # then ends the body and the response is left incomplete, so that no client takes it for a
    # whole result (chdb may also have met the error before the first chunk: an error status)
    late = "SELECT number, throwIf(number = 2999990, 'late failure') FROM numbers(3000000) FORMAT TabSeparated"
    request = urllib.request.Request(stack.clickhouse_url.rstrip("/") + "/", data=late.encode())
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead) as cut:
                response.read()
        partial = cut.value.partial
    except urllib.error.HTTPError as err:
        partial = err.read()
    assert b"Code: 395" in partial and b"late failure" in partial


def test_session_settings_persist_and_url_settings_apply_to_one_query(stack: Settings) -> None:
    sid = f"s-{uuid.uuid4()}"

    def value(**extra: str) -> bytes:
        params = {"query": "SELECT getSetting('max_block_size')", "session_id": sid, **extra}
        status, _, body = _http(stack, params)
        assert status == 200, body
        return body

    default = value()
    assert _http(stack, {"query": "SET max_block_size = 1234", "session_id": sid}, b"")[0] == 200
    assert value() == b"1234\n"
    assert value(max_block_size="777") == b"777\n"
    assert value() == b"1234\n"  # the URL setting was for that query only
    assert value(max_block_size="777", database="system") == b"777\n"
    _, _, db = _http(stack, {"query": "SELECT currentDatabase()", "session_id": sid})
    assert db == b"default\n"
    assert default != b"1234\n"


def test_requests_without_a_session_never_see_each_others_state(stack: Settings) -> None:
    """Requests without a session share pooled engine connections: what one request sets (URL
    settings, its database, SET, a temporary table) must not reach the next (POST: not readonly)."""

    def post(sql: str, **params: str) -> bytes:
        status, _, body = _http(stack, params, sql.encode())
        assert status == 200, body
        return body

    setting = "SELECT getSetting('max_block_size')"
    default = post(setting)
    for _ in range(3):  # more requests than one pooled connection would serve
        assert post(setting, max_block_size="4321") == b"4321\n"
        assert post(setting) == default
        assert post("SELECT currentDatabase()", database="system") == b"system\n"
        assert post("SELECT currentDatabase()") == b"default\n"
        post("SET max_block_size = 999")
        assert post(setting) == default
        post("CREATE TEMPORARY TABLE pooled_tmp (x UInt8)")
        assert post("EXISTS TEMPORARY TABLE pooled_tmp") == b"0\n"
        assert _http(stack, {}, b"SELECT throwIf(1, 'failing on purpose')")[0] >= 400
        assert post(setting) == default
    assert default != b"4321\n"


def test_a_client_leaving_mid_result_does_not_hurt_the_engine(stack: Settings) -> None:
    # a large streamed result read in part, then the connection dropped — three times
    host, port = stack.clickhouse_host_port
    sql = "SELECT number, toString(number) FROM numbers(20000000) FORMAT TabSeparated"
    for _ in range(3):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("POST", "/", body=sql.encode())
        response = conn.getresponse()
        assert response.status == 200
        assert len(response.read(200_000)) == 200_000
        conn.sock.close()
        conn.close()
    status, _, body = _http(stack, {"query": "SELECT count() FROM numbers(1000)"})
    assert (status, body) == (200, b"1000\n")
    ping = urllib.request.urlopen(stack.clickhouse_url.rstrip("/") + "/ping", timeout=10)
    assert ping.status == 200 and ping.read() == b"Ok.\n"


def test_statements_without_a_result_answer_no_format(stack: Settings) -> None:
    table = f"default.nores_{uuid.uuid4().hex[:8]}"
    status, headers, body = _http(stack, {"query": f"CREATE TABLE {table} (n UInt8) ENGINE Memory"}, b"")
    assert (status, body) == (200, b"") and "X-ClickHouse-Format" not in headers
    status, headers, _ = _http(stack, {"query": f"SHOW CREATE TABLE {table}"})
    assert status == 200 and headers["X-ClickHouse-Format"] == "TabSeparated"


def test_insert_values_with_server_side_parameters(stack: Settings) -> None:
    table = f"default.pvalues_{uuid.uuid4().hex[:8]}"
    _http(stack, {"query": f"CREATE TABLE {table} (n UInt32, s String) ENGINE Memory"}, b"")
    status, _, body = _http(stack, {"query": f"INSERT INTO {table} VALUES ({{n:UInt32}}, {{s:String}})",
                                    "param_n": "7", "param_s": "乡村"}, b"")
    assert status == 200, body
    assert _http(stack, {"query": f"SELECT n, s FROM {table}"})[2] == "7\t乡村\n".encode()


def test_a_query_with_bytes_that_are_not_utf8_reaches_the_engine_unchanged(stack: Settings) -> None:
    status, _, body = _http(stack, {}, b"SELECT hex('\xff\xfe\x00A') FORMAT TabSeparated")
    assert (status, body) == (200, b"FFFE0041\n")


def test_an_insert_may_skip_bad_rows_when_the_client_allows_it(stack: Settings) -> None:
    table = f"default.allow_{uuid.uuid4().hex[:8]}"
    _http(stack, {"query": f"CREATE TABLE {table} (n UInt32, s String) ENGINE MergeTree ORDER BY n"}, b"")
    data = b"1,a\nnot-a-number,b\n3,c\n"
    status, _, body = _http(stack, {"query": f"INSERT INTO {table} FORMAT CSV"}, data)
    assert status == 400 and (b"Code: 27." in body or b"Code: 6." in body), body
    status, _, body = _http(stack, {"query": f"INSERT INTO {table} FORMAT CSV", "input_format_allow_errors_num": "1"}, data)
    assert status == 200, body
    assert _http(stack, {"query": f"SELECT groupArray(n) FROM (SELECT n FROM {table} ORDER BY n)"})[2] == b"[1,3]\n"


def test_external_data_in_a_multipart_form(stack: Settings) -> None:
    boundary = "----newsetl" + uuid.uuid4().hex
    parts = [
        ("query", None, b"SELECT s, sum(n) FROM towns GROUP BY s ORDER BY s FORMAT TabSeparated"),
        ("towns_structure", None, b"s String, n UInt32"),
        ("towns", "towns.tsv", "城关镇\t3\n河口镇\t4\n城关镇\t5\n".encode()),
    ]
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    status, _, out = _http(stack, {}, body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert (status, out) == (200, "城关镇\t8\n河口镇\t4\n".encode())
    # a structure smuggling another engine in is checked like any query
    evil = body.replace(b"s String, n UInt32", b"s String) ENGINE = File(TSV, '/etc/passwd') --")
    status, _, out = _http(stack, {}, evil, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status != 200
