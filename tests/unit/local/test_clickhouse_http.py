"""Pure helpers of the chdb HTTP endpoint: compression, INSERT splitting, formats, errors, the
query guard and the insert verification."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import lz4.frame
import pytest
import zstandard

from streams.local.clickhouse_http import (
    ClickHouseError,
    ErrorRow,
    canonical_error,
    check_query,
    check_user_path,
    choose_encoding,
    insert_failure,
    make_compressor,
    make_decompressor,
    mask_literals,
    output_format,
    quote_literal,
    split_insert,
)
from streams.local.services import identify_clickhouse

PAYLOAD = os.urandom(50_000) + b"newsetl " * 100_000


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip", "deflate"])
def test_compressor_decompressor_roundtrip_in_chunks(encoding: str) -> None:
    comp = make_compressor(encoding)
    wire = b"".join(comp.feed(PAYLOAD[i : i + 7000]) for i in range(0, len(PAYLOAD), 7000)) + comp.flush()
    assert len(wire) < len(PAYLOAD)
    dec = make_decompressor(encoding)
    back = b"".join(dec.feed(wire[i : i + 333]) for i in range(0, len(wire), 333)) + dec.flush()
    assert back == PAYLOAD


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("lz4", lz4.frame.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
    ],
)
def test_decompressor_reads_what_standard_libraries_write(encoding: str, encode: object) -> None:
    dec = make_decompressor(encoding)
    assert dec.feed(encode(PAYLOAD)) + dec.flush() == PAYLOAD


def test_lz4_and_zstd_accept_concatenated_frames() -> None:
    for encoding, encode in (("lz4", lz4.frame.compress), ("zstd", zstandard.ZstdCompressor().compress)):
        dec = make_decompressor(encoding)
        assert dec.feed(encode(b"abc") + encode(b"def")) + dec.flush() == b"abcdef"


def test_compressed_output_is_standard() -> None:
    for encoding, decode in (
        ("lz4", lz4.frame.decompress),
        ("zstd", lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)),
        ("gzip", gzip.decompress),
        ("deflate", zlib.decompress),
    ):
        comp = make_compressor(encoding)
        assert decode(comp.feed(PAYLOAD) + comp.flush()) == PAYLOAD


def test_unknown_encoding_is_a_clickhouse_error() -> None:
    with pytest.raises(ClickHouseError) as info:
        make_decompressor("br")
    assert info.value.code == 36 and info.value.http_status == 400


def test_choose_encoding_follows_client_order() -> None:
    assert choose_encoding("lz4,zstd,br,gzip,deflate") == "lz4"
    assert choose_encoding("br, gzip;q=1.0") == "gzip"
    assert choose_encoding("br") is None
    assert choose_encoding(None) is None


@pytest.mark.parametrize(
    ("text", "statement", "fmt", "data"),
    [
        (b"INSERT INTO t (a, b) FORMAT Native\n\x00\x01", "INSERT INTO t (a, b)", "Native", b"\x00\x01"),
        (b"insert into db.t format JSONEachRow {\"a\":1}", "insert into db.t", "JSONEachRow", b'{"a":1}'),
        (b"-- c\n/* x */ INSERT INTO `t` SETTINGS async_insert=0 FORMAT TSV\n1\n", "INSERT INTO `t` SETTINGS async_insert=0", "TSV", b"1\n"),
        (b"INSERT INTO t VALUES (1), (2)", "INSERT INTO t", "Values", b"(1), (2)"),
        (b"INSERT INTO t (`select`) FORMAT CSV\n1\n", "INSERT INTO t (`select`)", "CSV", b"1\n"),
    ],
)
def test_split_insert(text: bytes, statement: str, fmt: str, data: bytes) -> None:
    split = split_insert(text)
    assert split is not None
    assert (split.statement, split.fmt, text[split.data_offset :]) == (statement, fmt, data)


@pytest.mark.parametrize(
    "text",
    [b"SELECT 1", b"INSERT INTO t SELECT * FROM s FORMAT Native", b"CREATE TABLE t (a UInt8) ENGINE = Memory", b""],
)
def test_split_insert_leaves_other_queries_whole(text: bytes) -> None:
    assert split_insert(text) is None


def test_output_format() -> None:
    assert output_format("SELECT 1", "TabSeparated") == "TabSeparated"
    assert output_format("SELECT 1\n FORMAT Native", "TabSeparated") == "Native"
    assert output_format("SELECT 1 format JSONEachRow;", "TSV") == "JSONEachRow"


def test_quote_literal_escapes() -> None:
    assert quote_literal("it's \\ ok") == "'it\\'s \\\\ ok'"


def test_errors_keep_clickhouse_code_and_message() -> None:
    err = ClickHouseError.from_engine(
        RuntimeError("Streaming query failed: Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE)")
    )
    assert err.code == 60 and err.message.startswith("Code: 60. DB::Exception:") and err.http_status == 404
    assert ClickHouseError.make(164, "READONLY", "Cannot execute query in readonly mode").http_status == 403
    assert ClickHouseError.from_engine(RuntimeError("Code: 62. DB::Exception: Syntax error")).http_status == 400
    assert ClickHouseError.from_engine(RuntimeError("boom")).code == 1000


# --- the guard: what a ClickHouse server refuses (on the engine's canonical rendering) -------------

USER_FILES = Path("/srv/ch/user_files")


def test_mask_literals_keeps_structure_and_decodes_values() -> None:
    masked = mask_literals("SELECT * FROM file('/a\\'b\\x2f', 'TSV') AS `file`, `odd name` WHERE x = 'q\\\\'")
    assert masked.skeleton == "SELECT * FROM file('0', '1') AS file, _quoted_identifier_ WHERE x = '2'"
    assert masked.literals == ("/a'b/", "TSV", "q\\")
    assert mask_literals("SELECT '\\u0041'").literals == (None,)


@pytest.mark.parametrize(
    "path",
    ["x.tsv", "sub/x.tsv", "/srv/ch/user_files/x.tsv", "/srv/ch/user_files/*.tsv", "{a,b}.tsv", "/srv/ch/user_files"],
)
def test_paths_inside_user_files_pass(path: str) -> None:
    check_user_path(path, USER_FILES)


@pytest.mark.parametrize(
    "path",
    ["/etc/hostname", "../x", "sub/../../x", "{a,../../etc/passwd}", "/srv/ch/user_files_other/x",
     "/srv/ch/user_files/../x", "", None, "a\0b"],
)
def test_paths_outside_user_files_are_refused_with_291(path: str | None) -> None:
    with pytest.raises(ClickHouseError) as info:
        check_user_path(path, USER_FILES)
    assert info.value.code == 291
    assert info.value.message.startswith("Code: 291. DB::Exception: File `")
    assert info.value.message.endswith("is not inside `/srv/ch/user_files/`. (DATABASE_ACCESS_DENIED)")


def test_symlinks_out_of_user_files_are_refused(tmp_path: Path) -> None:
    user_files = tmp_path / "user_files"
    user_files.mkdir()
    (user_files / "escape").symlink_to("/etc")
    check_user_path("plain.tsv", user_files)
    with pytest.raises(ClickHouseError) as info:
        check_user_path("escape/hostname", user_files)
    assert info.value.code == 291


@pytest.mark.parametrize(
    ("canonical", "readonly", "code"),
    [
        ("SELECT 'x' INTO OUTFILE '/tmp/a' APPEND", 0, 358),
        ("SELECT 'x' INTO OUTFILE 'a' TRUNCATE", 2, 358),
        ("INSERT INTO t FROM INFILE '/etc/passwd' FORMAT TSV", 0, 48),
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", 2, 291),
        ("SELECT file('/etc/hostname')", 0, 291),
        ("SELECT * FROM file(concat('/etc/', 'hostname'), 'LineAsString')", 0, 291),
        ("SELECT * FROM file({p:String}, 'LineAsString')", 0, 291),
        ("SELECT * FROM fileCluster('c', '/etc/hostname', 'LineAsString')", 0, 291),
        ("INSERT INTO FUNCTION file('/root/.bashrc', 'TSV', 'a String') FORMAT TSV", 0, 291),
        ("CREATE TABLE t (`a` String) ENGINE = File(TSV, '/etc/hostname')", 0, 291),
        ("CREATE DICTIONARY d (`a` String) PRIMARY KEY a SOURCE(FILE(PATH '/etc/passwd' FORMAT 'TSV')) "
         "LIFETIME(MIN 0 MAX 0) LAYOUT(FLAT())", 0, 291),
        ("ATTACH TABLE z FROM '/etc' (`a` String) ENGINE = File(TSV)", 0, 291),
        ("BACKUP TABLE t TO File('/tmp/b')", 0, 291),
        ("CREATE TABLE t (`a` UInt8) ENGINE = MergeTree ORDER BY a SETTINGS disk = disk(type = local, path = '/')", 0, 291),
        ("CREATE DICTIONARY d (`a` String) PRIMARY KEY a SOURCE(EXECUTABLE(COMMAND 'id' FORMAT 'TSV')) "
         "LIFETIME(MIN 0 MAX 0) LAYOUT(FLAT())", 0, 482),
        ("SELECT * FROM url('http://x/', 'LineAsString')", 2, 164),
        ("SELECT * FROM s3Cluster('c', 'http://x/')", 1, 164),
        ("SELECT * FROM remoteSecure('h:9440', system.one)", 2, 164),
        ("SELECT * FROM executable('x.sh', TSV, 'a String')", 2, 164),
        ("CREATE TEMPORARY TABLE t (`a` String) ENGINE = URL('http://x/', LineAsString)", 2, 164),
        ("SYSTEM CLEAR DNS CACHE", 1, 164),
        ("KILL QUERY WHERE 1 ASYNC", 2, 164),
        ("SET dialect = 'prql'", 0, 36),
    ],
)
def test_check_query_refuses_with_clickhouse_codes(canonical: str, readonly: int, code: int) -> None:
    with pytest.raises(ClickHouseError) as info:
        check_query(canonical, readonly, USER_FILES)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("canonical", "readonly"),
    [
        ("SELECT 'INTO OUTFILE /tmp/x', 'file(\\'/etc\\')' AS s", 2),
        ("SELECT * FROM file('x.tsv', 'TSV', 'a String')", 2),
        ("CREATE TABLE t (`a` String) ENGINE = File(TSV)", 0),
        ("SELECT * FROM url('http://x/', 'LineAsString')", 0),
        ("SYSTEM CLEAR DNS CACHE", 0),
        ("SELECT profile FROM t WHERE url = {u:String}", 1),
        ("SELECT count() FROM numbers(10)", 1),
        ("SET dialect = 'clickhouse'", 0),
    ],
)
def test_check_query_lets_normal_work_pass(canonical: str, readonly: int) -> None:
    check_query(canonical, readonly, USER_FILES)


def test_readonly_refusal_names_the_user() -> None:
    with pytest.raises(ClickHouseError) as info:
        check_query("SYSTEM FLUSH LOGS", 1, USER_FILES, user="reader")
    assert info.value.message == "Code: 164. DB::Exception: reader: Cannot execute query in readonly mode. (READONLY)"
    assert info.value.http_status == 403


def test_canonical_error_drops_the_format_wrapper() -> None:
    err = canonical_error(RuntimeError(
        "Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed): failed at position 9 (end of "
        "query): ; SELECT 2. : In scope SELECT formatQuerySingleLine('SELECT 1; SELECT 2'). (SYNTAX_ERROR)"
    ))
    assert err.message == (
        "Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed): failed at position 9 (end of "
        "query): ; SELECT 2. . (SYNTAX_ERROR)"  # as a ClickHouse server words it
    )


# --- insert verification --------------------------------------------------------------------------


def _row(code: int, value: int, ours: bool, name: str = "X", message: str = "m") -> ErrorRow:
    return ErrorRow(code, 0, name, value, ours, message)


def test_an_insert_without_new_errors_succeeded() -> None:
    assert insert_failure({(243, 0): 4}, []) is None


def test_the_inserts_own_error_is_reported_with_its_code() -> None:
    err = insert_failure(
        {(243, 0): 1}, [_row(243, 2, True, "NOT_ENOUGH_SPACE", "Cannot reserve 1.00 MiB, not enough space")]
    )
    assert err is not None
    assert err.message == "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)"
    assert err.http_status == 507


def test_one_error_of_another_query_is_not_the_inserts() -> None:
    assert insert_failure({}, [_row(60, 1, False)]) is None
    assert insert_failure({(60, 0): 7}, [_row(60, 8, False)]) is None


def test_an_error_possibly_overwritten_by_a_concurrent_one_counts_as_a_failure() -> None:
    err = insert_failure({(243, 0): 0}, [_row(243, 2, False, "NOT_ENOUGH_SPACE")])
    assert err is not None and err.code == 243


def test_the_inserts_own_error_wins_over_others() -> None:
    err = insert_failure({}, [_row(60, 3, False, "UNKNOWN_TABLE"), _row(469, 1, True, "VIOLATED_CONSTRAINT")])
    assert err is not None and err.code == 469


# --- how `newsetl status` tells the endpoint from other servers (streams.local.services) -----------

CH_HEADERS = {"X-ClickHouse-Server-Display-Name": "host", "X-ClickHouse-Query-Id": "q"}


def test_status_identifies_our_endpoint_and_a_clickhouse_server() -> None:
    ours = identify_clickhouse(200, {**CH_HEADERS, "X-Newsetl-Endpoint": "chdb 26.9.2.1"}, b"26.9.2.1\n")
    assert (ours.ok, ours.server, ours.version, ours.problem) == (True, "chdb", "26.9.2.1", "")
    real = identify_clickhouse(200, {"x-clickhouse-query-id": "q"}, b"25.3.2.39\n")
    assert (real.ok, real.server, real.version) == (True, "ClickHouse", "25.3.2.39")


def test_status_calls_a_foreign_http_server_not_an_endpoint() -> None:
    probe = identify_clickhouse(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>26.1</html>")
    assert (probe.ok, probe.version, probe.problem) == (False, None, "not a ClickHouse endpoint (HTTP 200, text/html)")
    assert identify_clickhouse(404, {}, b"").problem == "not a ClickHouse endpoint (HTTP 404, no content type)"


def test_status_reports_authentication_failures() -> None:
    body = b"Code: 516. DB::Exception: etl: Authentication failed. (AUTHENTICATION_FAILED) (version 26.9.2.1)\n"
    probe = identify_clickhouse(403, {**CH_HEADERS, "X-ClickHouse-Exception-Code": "516"}, body)
    assert probe.auth_failed and not probe.ok
    assert probe.problem == (
        "authentication failed (code 516): check NEWSETL_CLICKHOUSE_USER and NEWSETL_CLICKHOUSE_PASSWORD"
    )
    assert identify_clickhouse(401, CH_HEADERS, b"Code: 194. DB::Exception: password required").auth_failed


def test_status_reports_other_errors_and_odd_answers() -> None:
    probe = identify_clickhouse(500, {**CH_HEADERS, "X-ClickHouse-Exception-Code": "1001"}, b"Code: 1001. boom\nmore")
    assert (probe.ok, probe.auth_failed, probe.problem) == (False, False, "error HTTP 500: Code: 1001. boom")
    assert identify_clickhouse(200, CH_HEADERS, b"<html>").problem == "unexpected answer to SELECT version(): '<html>'"


def test_concurrent_syntax_errors_elsewhere_are_not_the_inserts():
    # two other clients' syntax errors between the counters: not a sink's failure
    assert insert_failure({(62, 0): 5}, [_row(62, 7, False, "SYNTAX_ERROR")]) is None
    # the insert's own one still is
    err = insert_failure({(62, 0): 5}, [_row(62, 6, True, "SYNTAX_ERROR")])
    assert err is not None and err.code == 62


def test_parse_errors_the_client_allowed_are_not_failures():
    grown = [_row(27, 1, True, "CANNOT_PARSE_INPUT_ASSERTION_FAILED")]
    assert insert_failure({}, grown, allowed=frozenset({27})) is None
    assert insert_failure({}, grown).code == 27
    # allowing parse errors does not hide a full disk
    full = [*grown, _row(243, 1, True, "NOT_ENOUGH_SPACE")]
    assert insert_failure({}, full, allowed=frozenset({27})).code == 243
