"""Pure helpers of the chdb HTTP endpoint: compression, INSERT splitting, formats, errors."""

from __future__ import annotations

import gzip
import os
import zlib

import lz4.frame
import pytest
import zstandard

from streams.local.clickhouse_http import (
    ClickHouseError,
    choose_encoding,
    make_compressor,
    make_decompressor,
    output_format,
    quote_literal,
    split_insert,
)

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
