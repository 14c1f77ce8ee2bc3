"""Parse ClickHouse HTTP result bodies of the numbers query used by the client tests.

The query is :data:`NUMBERS_SQL` (``number UInt64`` and ``s String`` = ``toString(number)``);
:func:`parse` turns a body in any of :data:`FORMATS` into a :class:`Parsed` (header names/types
when the format carries them, the numbers, the strings), with nothing but the standard library,
numpy and pyarrow, so that a test can assert exact row counts and values from the bytes.
"""

from __future__ import annotations

import csv
import io
import json
import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.orc
import pyarrow.parquet

ROWS = 500_000
NUMBERS_SQL = f"SELECT number, toString(number) AS s FROM numbers({ROWS})"
NAMES = ["number", "s"]
TYPES = ["UInt64", "String"]

#: Output formats (``FORMAT X``) a raw HTTP request or clickhouse-connect's ``raw_query`` can ask for
#: (Pretty* formats are left out: they stop at output_format_pretty_max_rows=10000 by design).
FORMATS = [
    "TabSeparated",
    "TabSeparatedRaw",
    "TSVWithNames",
    "TSVWithNamesAndTypes",
    "CSV",
    "CSVWithNames",
    "CSVWithNamesAndTypes",
    "JSON",
    "JSONCompact",
    "JSONEachRow",
    "JSONCompactEachRow",
    "JSONCompactEachRowWithNamesAndTypes",
    "JSONStringsEachRow",
    "JSONColumns",
    "JSONCompactColumns",
    "RowBinary",
    "RowBinaryWithNames",
    "RowBinaryWithNamesAndTypes",
    "Native",
    "Arrow",
    "ArrowStream",
    "Parquet",
    "ORC",
]


@dataclass
class Parsed:
    """A parsed body: ``names``/``types`` as the format's header gives them (None: no header)."""

    names: list[str] | None
    types: list[str] | None
    numbers: np.ndarray
    strings: list[str]


class _Reader:
    """Sequential reader of ClickHouse's binary encodings (LEB128 lengths, little endian)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varuint(self) -> int:
        result = shift = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def string(self) -> str:
        size = self.varuint()
        value = bytes(self.data[self.pos : self.pos + size]).decode()
        self.pos += size
        return value

    def uint64s(self, count: int) -> np.ndarray:
        end = self.pos + 8 * count
        if end > len(self.data):
            raise ValueError(f"truncated body: {count} UInt64 values need {end} bytes, have {len(self.data)}")
        values = np.frombuffer(self.data[self.pos : end], dtype="<u8")
        self.pos = end
        return values


def _native(body: bytes) -> Parsed:
    """Native: blocks of (columns, rows, then per column name, type, data)."""
    reader = _Reader(body)
    names = types = None
    numbers: list[np.ndarray] = []
    strings: list[str] = []
    while not reader.done():
        columns, rows = reader.varuint(), reader.varuint()
        block_names, block_types = [], []
        for _ in range(columns):
            block_names.append(reader.string())
            block_types.append(reader.string())
            if block_types[-1] == "UInt64":
                numbers.append(reader.uint64s(rows))
            elif block_types[-1] == "String":
                strings.extend(reader.string() for _ in range(rows))
            else:
                raise ValueError(f"unexpected column type {block_types[-1]!r}")
        if names is None:
            names, types = block_names, block_types
        elif (block_names, block_types) != (names, types):
            raise ValueError(f"block header {block_names} {block_types} differs from {names} {types}")
    return Parsed(names, types, np.concatenate(numbers) if numbers else np.array([], "u8"), strings)


def _row_binary(body: bytes, with_names: bool, with_types: bool) -> Parsed:
    reader = _Reader(body)
    names = types = None
    if with_names:
        count = reader.varuint()
        names = [reader.string() for _ in range(count)]
        if with_types:
            types = [reader.string() for _ in range(count)]
    numbers: list[int] = []
    strings: list[str] = []
    unpack = struct.Struct("<Q").unpack_from
    while not reader.done():
        numbers.append(unpack(reader.data, reader.pos)[0])
        reader.pos += 8
        strings.append(reader.string())
    return Parsed(names, types, np.array(numbers, dtype="u8"), strings)


def _arrow_table(table: pa.Table, signed: bool = False) -> Parsed:
    """Arrow/Parquet keep UInt64 as uint64; ORC has no unsigned types (ClickHouse writes int64)."""
    names = table.column_names
    number_type = pa.int64() if signed else pa.uint64()
    if table.schema.field(0).type != number_type:
        raise ValueError(f"number column is {table.schema.field(0).type}, not {number_type}")
    numbers = table.column(0).to_numpy().astype("u8") if table.num_rows else np.array([], "u8")
    column = table.column(1)
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        strings = [value.decode() for value in column.to_pylist()]
    else:
        strings = column.to_pylist()
    return Parsed(names, None, numbers, strings)


def _uint64s(values: list) -> np.ndarray:
    """UInt64 values from text or JSON: all ints, or all decimal strings (quoted 64-bit integers)."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return np.array(values, dtype="u8")
    if kinds == {str}:
        if not all(map(str.isdigit, values)):
            raise ValueError("a UInt64 value is not a plain decimal number")
        return np.array(list(map(int, values)), dtype="u8")
    raise ValueError(f"UInt64 values of types {kinds}")


def _text_rows(rows: list[list[str]], headers: int) -> Parsed:
    names = rows[0] if headers >= 1 and rows else None
    types = rows[1] if headers >= 2 and len(rows) > 1 else None
    data = rows[headers:]
    if any(len(r) != 2 for r in data):
        raise ValueError("a row without exactly two fields")
    return Parsed(names, types, _uint64s([r[0] for r in data]), [r[1] for r in data])


def _tsv(body: bytes, headers: int) -> Parsed:
    text = body.decode()
    if text and not text.endswith("\n"):
        raise ValueError("TSV body does not end with a newline")
    lines = text.split("\n")[:-1]
    head = [line.split("\t") for line in lines[:headers]]
    fields = "\t".join(lines[headers:]).split("\t") if len(lines) > headers else []
    if len(fields) != 2 * (len(lines) - headers):
        raise ValueError("a TSV row without exactly two fields")
    return Parsed(
        head[0] if headers >= 1 and head else None,
        head[1] if headers >= 2 and len(head) > 1 else None,
        _uint64s(fields[0::2]),
        fields[1::2],
    )


def _csv(body: bytes, headers: int) -> Parsed:
    return _text_rows(list(csv.reader(io.StringIO(body.decode()))), headers)


def _json_lines(body: bytes) -> list:
    """JSON values one per line (raw newlines only separate rows: JSON escapes them in strings)."""
    text = body.decode()
    if text and not text.endswith("\n"):
        raise ValueError("JSON lines body does not end with a newline")
    return json.loads("[" + text[:-1].replace("\n", ",") + "]")


def parse(fmt: str, body: bytes) -> Parsed:
    """The names, types, numbers and strings of a numbers-query body in format ``fmt``."""
    if fmt in ("TabSeparated", "TabSeparatedRaw"):
        return _tsv(body, 0)
    if fmt == "TSVWithNames":
        return _tsv(body, 1)
    if fmt == "TSVWithNamesAndTypes":
        return _tsv(body, 2)
    if fmt == "CSV":
        return _csv(body, 0)
    if fmt == "CSVWithNames":
        return _csv(body, 1)
    if fmt == "CSVWithNamesAndTypes":
        return _csv(body, 2)
    if fmt in ("JSON", "JSONCompact"):
        doc = json.loads(body)
        names = [m["name"] for m in doc["meta"]]
        types = [m["type"] for m in doc["meta"]]
        if doc["rows"] != len(doc["data"]):
            raise ValueError(f"JSON says rows={doc['rows']} but holds {len(doc['data'])}")
        rows = doc["data"] if fmt == "JSONCompact" else [[r["number"], r["s"]] for r in doc["data"]]
        return Parsed(names, types, _uint64s([r[0] for r in rows]), [r[1] for r in rows])
    if fmt in ("JSONEachRow", "JSONStringsEachRow"):
        objs = _json_lines(body)
        return Parsed(None, None, _uint64s([o["number"] for o in objs]), [o["s"] for o in objs])
    if fmt == "JSONCompactEachRow":
        rows = _json_lines(body)
        return Parsed(None, None, _uint64s([r[0] for r in rows]), [r[1] for r in rows])
    if fmt == "JSONCompactEachRowWithNamesAndTypes":
        rows = _json_lines(body)
        data = rows[2:]
        return Parsed(rows[0], rows[1], _uint64s([r[0] for r in data]), [r[1] for r in data])
    if fmt == "JSONColumns":
        doc = json.loads(body)
        return Parsed(list(doc), None, _uint64s(doc["number"]), doc["s"])
    if fmt == "JSONCompactColumns":
        doc = json.loads(body)
        return Parsed(None, None, _uint64s(doc[0]), doc[1])
    if fmt == "RowBinary":
        return _row_binary(body, False, False)
    if fmt == "RowBinaryWithNames":
        return _row_binary(body, True, False)
    if fmt == "RowBinaryWithNamesAndTypes":
        return _row_binary(body, True, True)
    if fmt == "Native":
        return _native(body)
    if fmt == "Arrow":
        return _arrow_table(pa.ipc.open_file(pa.BufferReader(body)).read_all())
    if fmt == "ArrowStream":
        return _arrow_table(pa.ipc.open_stream(pa.BufferReader(body)).read_all())
    if fmt == "Parquet":
        return _arrow_table(pa.parquet.read_table(pa.BufferReader(body)))
    if fmt == "ORC":
        return _arrow_table(pa.orc.ORCFile(pa.BufferReader(body)).read(), signed=True)
    raise ValueError(f"no parser for {fmt}")


#: The header each format carries for the numbers query: (names, types); None where it has none.
HEADERS: dict[str, tuple[list[str] | None, list[str] | None]] = {fmt: (None, None) for fmt in FORMATS}
HEADERS.update(
    {
        "TSVWithNames": (NAMES, None),
        "TSVWithNamesAndTypes": (NAMES, TYPES),
        "CSVWithNames": (NAMES, None),
        "CSVWithNamesAndTypes": (NAMES, TYPES),
        "JSON": (NAMES, TYPES),
        "JSONCompact": (NAMES, TYPES),
        "JSONCompactEachRowWithNamesAndTypes": (NAMES, TYPES),
        "JSONColumns": (NAMES, None),
        "RowBinaryWithNames": (NAMES, None),
        "RowBinaryWithNamesAndTypes": (NAMES, TYPES),
        "Native": (NAMES, TYPES),
        "Arrow": (NAMES, None),
        "ArrowStream": (NAMES, None),
        "Parquet": (NAMES, None),
        "ORC": (NAMES, None),
    }
)


def check_numbers(parsed: Parsed, rows: int = ROWS) -> None:
    """Assert that ``parsed`` holds exactly numbers 0..rows-1, each with its decimal string."""
    numbers = parsed.numbers
    assert len(numbers) == rows, f"{len(numbers)} rows, expected {rows}"
    assert len(parsed.strings) == rows, f"{len(parsed.strings)} strings, expected {rows}"
    assert int(numbers.sum(dtype="u8")) == rows * (rows - 1) // 2
    order = np.argsort(numbers, kind="stable")
    assert np.array_equal(numbers[order], np.arange(rows, dtype="u8")), "numbers are not exactly 0..rows-1"
    if "\n".join(parsed.strings) != "\n".join(map(str, numbers.tolist())):
        bad = next(
            i for i, (n, s) in enumerate(zip(numbers.tolist(), parsed.strings, strict=True)) if s != str(n)
        )
        raise AssertionError(f"row {bad}: s = {parsed.strings[bad]!r} is not toString({numbers[bad]})")


# --- ClickHouse's compressed block framing (HTTP compress=1 / decompress=1) -------------------------
# block = checksum (16) | method (1) | size of header + payload (4, LE) | uncompressed size (4, LE) |
# payload; the checksum is CityHash128 (v1.0.2) of method..payload, its two 64-bit halves little
# endian, as clickhouse-driver reads it: int = first << 64 | second.

LZ4_METHOD = 0x82
NONE_METHOD = 0x02


def _city128(data: bytes) -> int:
    from clickhouse_cityhash.cityhash import CityHash128

    return CityHash128(data)


def frame_block(data: bytes, method: int = LZ4_METHOD) -> bytes:
    """One compressed block holding ``data`` (LZ4 or no compression)."""
    import lz4.block

    payload = lz4.block.compress(data, store_size=False) if method == LZ4_METHOD else data
    body = struct.pack("<BII", method, 9 + len(payload), len(data)) + payload
    value = _city128(body)
    return struct.pack("<QQ", value >> 64, value & ((1 << 64) - 1)) + body


def unframe_blocks(body: bytes) -> tuple[bytes, int]:
    """The data of a sequence of compressed blocks, every checksum verified; and the block count."""
    import lz4.block

    out = []
    pos = blocks = 0
    while pos < len(body):
        if len(body) - pos < 25:
            raise ValueError(f"{len(body) - pos} trailing bytes are no block header")
        first, second = struct.unpack_from("<QQ", body, pos)
        method, size, raw_size = struct.unpack_from("<BII", body, pos + 16)
        block = body[pos + 16 : pos + 16 + size]
        if len(block) != size:
            raise ValueError(f"block {blocks} cut: {len(block)} of {size} bytes")
        if _city128(block) != (first << 64 | second):
            raise ValueError(f"block {blocks}: checksum does not match")
        if method == LZ4_METHOD:
            data = lz4.block.decompress(block[9:], uncompressed_size=raw_size)
        elif method == NONE_METHOD:
            data = block[9:]
        else:
            raise ValueError(f"block {blocks}: unexpected method {method:#x}")
        if len(data) != raw_size:
            raise ValueError(f"block {blocks}: {len(data)} bytes, header says {raw_size}")
        out.append(data)
        pos += 16 + size
        blocks += 1
    return b"".join(out), blocks
