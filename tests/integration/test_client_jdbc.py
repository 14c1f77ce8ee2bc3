"""The official ClickHouse JDBC driver (com.clickhouse:clickhouse-jdbc, default settings) against the
embedded endpoint, as against a ClickHouse server.

With its defaults the driver (JDBC v2 on client-v2) sends every statement as a POST body with
``compress=1`` (responses in ClickHouse's LZ4 block framing), the ``X-ClickHouse-Format:
RowBinaryWithNamesAndTypes`` and ``X-ClickHouse-Database`` headers, and Basic authentication.
One JVM run (``tests/support/jdbc/JdbcCheck.java``) performs every check and prints a JSON line per
check; each test below asserts on one line. The jars come from Maven Central once
(``.newsetl/jdbc-libs``); when that fails the tests fail and say why.
"""

from __future__ import annotations

import uuid

import clickhouse_connect
import pytest

from streams.settings import Settings
from support.clients_jdbc import (
    JdbcSetupError,
    RecordingProxy,
    driver_version,
    fetch_jdbc_libs,
    run_jdbc_checks,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

LARGE_ROWS = 200_000


@pytest.fixture(scope="session")
def jdbc_libs() -> object:
    try:
        return fetch_jdbc_libs()
    except (JdbcSetupError, OSError) as exc:
        pytest.fail(f"the ClickHouse JDBC driver is not available: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def jdbc(stack: Settings, jdbc_libs: object) -> dict[str, object]:
    """One run of JdbcCheck against the stack, in a database of its own."""
    host, port = stack.clickhouse_host_port
    password = stack.clickhouse_password.get_secret_value()
    db = f"jdbc_{uuid.uuid4().hex[:12]}"
    table = f"items_{uuid.uuid4().hex[:8]}"
    client = clickhouse_connect.get_client(
        host=host, port=port, username=stack.clickhouse_user, password=password
    )
    try:
        client.command(f"CREATE DATABASE {db}")
        version = client.command("SELECT version()")
    finally:
        client.close()
    proxy = RecordingProxy((host, port))  # records what the driver sends, passes it on unchanged
    try:
        results, proc = run_jdbc_checks(
            jdbc_libs,
            f"jdbc:clickhouse://127.0.0.1:{proxy.port}/{db}",
            stack.clickhouse_user,
            password,
            db,
            table,
        )
    finally:
        proxy.close()
    return {
        "db": db,
        "table": table,
        "version": version,
        "results": results,
        "proc": proc,
        "settings": stack,
        "requests": proxy.heads,
    }


def _check(jdbc: dict[str, object], name: str) -> dict[str, object]:
    results = jdbc["results"]
    proc = jdbc["proc"]
    if name not in results:
        connect = results.get("connect", {})
        if connect and not connect["ok"]:
            pytest.fail(f"JDBC check {name!r} did not run: connecting failed: {connect.get('error')}")
        stderr = proc.stderr.strip().splitlines()[-15:]
        pytest.fail(f"JdbcCheck printed no {name!r} line (exit {proc.returncode}): " + "\n".join(stderr))
    record = results[name]
    assert record["ok"], f"JDBC check {name!r} failed: {record.get('error')}"
    return record


def test_jdbc_driver_sends_its_defaults(jdbc: dict[str, object]) -> None:
    """The checks below exercise what the brief is about: every request of the driver asks for
    ClickHouse-compressed responses (compress=1) and names its format and database in headers."""
    heads = jdbc["requests"]
    assert len(heads) >= 13, heads
    for head in heads:
        request_line, *header_lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
        assert request_line.startswith("POST /?") and "compress=1" in request_line, request_line
        assert headers.get("x-clickhouse-format") == "RowBinaryWithNamesAndTypes", head
        assert headers.get("x-clickhouse-database") == jdbc["db"], head
        assert headers.get("authorization", "").startswith("Basic "), head


def test_jdbc_connect(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "connect")
    assert record["driver_class"] == "com.clickhouse.jdbc.ClickHouseDriver"
    assert record["driver_version"] == driver_version()
    assert record["product"] == "ClickHouse"
    assert record["product_version"] == jdbc["version"]
    assert record["schema"] == jdbc["db"]


def test_jdbc_select_one(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "select_one")
    assert record["names"] == ["one", "s", "u"]
    assert record["types"] == ["UInt8", "String", "UInt64"]
    assert record["rows"] == [[1, "abc", 42]]


def test_jdbc_url_database_is_current(jdbc: dict[str, object]) -> None:
    assert _check(jdbc, "current_database")["database"] == jdbc["db"]


def test_jdbc_create_table(jdbc: dict[str, object], ch_client) -> None:
    _check(jdbc, "create_table")
    assert ch_client.command(f"EXISTS TABLE {jdbc['db']}.{jdbc['table']}") == 1


def test_jdbc_batch_insert(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "batch_insert")
    assert (record["batch_results"], record["batch_total"]) == (1000, 1000)
    assert record["count"] == 1000
    assert record["sum_id"] == sum(range(1000))
    assert record["sum_score"] == sum(i * 0.5 for i in range(1000))
    assert record["null_notes"] == 500
    assert record["unicode_names"] == len(range(0, 1000, 7))
    assert record["tag_count"] == 2000


def test_jdbc_prepared_statement(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "prepared_select")
    assert record["names"] == ["id", "name", "score", "tags", "note"]
    assert record["types"] == ["UInt32", "String", "Float64", "Array(String)", "Nullable(String)"]
    assert record["rows"] == [
        [40, "name-40", 20.0, ["t1", "x"], None],
        [41, "name-41", 20.5, ["t2", "x"], "n41"],
        [42, "name-42 新闻's", 21.0, ["t0", "x"], None],
        [44, "name-44", 22.0, ["t2", "x"], None],
    ]
    assert (record["echo"], record["echo_n"]) == ("it's a \\ test; -- 扶贫", 42)


def test_jdbc_metadata_get_tables(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "metadata_tables")
    assert record["tables"] == [
        {"TABLE_CAT": "", "TABLE_SCHEM": jdbc["db"], "TABLE_NAME": jdbc["table"], "TABLE_TYPE": "TABLE"}
    ]
    assert record["has_db_schema"] is True


def test_jdbc_metadata_get_columns(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "metadata_columns")
    columns = [
        (c["COLUMN_NAME"], c["TYPE_NAME"], c["ORDINAL_POSITION"], c["NULLABLE"]) for c in record["columns"]
    ]
    assert columns == [
        ("id", "UInt32", 1, 0),
        ("name", "String", 2, 0),
        ("score", "Float64", 3, 0),
        ("tags", "Array(String)", 4, 0),
        ("note", "Nullable(String)", 5, 1),
    ]
    assert {c["TABLE_SCHEM"] for c in record["columns"]} == {jdbc["db"]}


def test_jdbc_empty_result_has_column_metadata(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "empty_result")
    assert record["rows"] == 0
    assert record["column_count"] == 5
    assert record["names"] == ["id", "name", "score", "tags", "note"]
    assert record["types"] == ["UInt32", "String", "Float64", "Array(String)", "Nullable(String)"]


def test_jdbc_limit_zero_has_column_metadata(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "limit_zero")
    assert (record["rows"], record["names"], record["types"]) == (0, ["number", "s"], ["UInt64", "String"])


def test_jdbc_large_result(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "large_result")
    assert (record["names"], record["types"]) == (["number", "s"], ["UInt64", "String"])
    assert record["rows"] == LARGE_ROWS
    assert record["sum"] == LARGE_ROWS * (LARGE_ROWS - 1) // 2
    assert record["chars"] == sum(len(str(n)) for n in range(LARGE_ROWS))
    assert record["mismatches"] == 0


def test_jdbc_server_error(jdbc: dict[str, object]) -> None:
    record = _check(jdbc, "server_error")
    assert "unexpected" not in record
    assert record["error_code"] == 81
    assert "Code: 81. DB::Exception: " in record["message"] and "(UNKNOWN_DATABASE)" in record["message"]
    assert "no_such_db_jdbc" in record["message"]
    assert record["after"] == 7


def test_jdbc_program_finished(jdbc: dict[str, object]) -> None:
    """Every check ran and the JVM exited cleanly (a crash would hide checks)."""
    _check(jdbc, "close")
    proc = jdbc["proc"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(jdbc["results"]) == {
        "connect",
        "select_one",
        "current_database",
        "create_table",
        "batch_insert",
        "prepared_select",
        "metadata_tables",
        "metadata_columns",
        "empty_result",
        "limit_zero",
        "large_result",
        "server_error",
        "close",
    }
