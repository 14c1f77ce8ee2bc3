"""Output formats of ClickHouse's HTTP interface, as the endpoint must treat them.

chdb streams a result as chunks that are each a complete document in the output format. Joined,
they form one valid result only for formats without a header or footer (:data:`CONCATENABLE`).
Formats that begin with names (and types) repeat them in every chunk: :class:`Reframer` keeps the
first and checks and drops the copies. Every other format (JSON, Arrow, Parquet, XML, Pretty, ...)
is produced whole by the engine.

An empty result streams no chunk at all, while ClickHouse still sends the header or metadata of
the formats that have one — how clients learn column names and types from ``LIMIT 0`` (Native has
none: a server sends an empty body, and clickhouse-connect asks again in JSON).
"""

from __future__ import annotations

from enum import Enum


class Kind(Enum):
    """How a format's streamed chunks join into one result."""

    CONCATENATE = "concatenate"  # chunks join as they are
    HEADER = "header"  # each chunk repeats the header: keep the first
    WHOLE = "whole"  # produced in one piece by the engine


_CONCATENABLE = (
    "Native", "RowBinary", "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "Raw", "CSV",
    "JSONEachRow", "JSONLines", "NDJSON", "JSONCompactEachRow", "JSONStringsEachRow",
    "JSONCompactStringsEachRow", "LineAsString", "RawBLOB", "MsgPack", "BSONEachRow", "Null",
)
#: text formats whose chunks start with this many header lines
_HEADER_LINES: dict[str, int] = {}
for _base in ("TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "Raw", "CSV", "JSONCompactEachRow",
              "JSONCompactStringsEachRow"):
    _HEADER_LINES[f"{_base}WithNames".lower()] = 1
    _HEADER_LINES[f"{_base}WithNamesAndTypes".lower()] = 2
#: binary formats whose chunks start with a column count, names and (maybe) types
_BINARY_HEADER = {"rowbinarywithnames": False, "rowbinarywithnamesandtypes": True}
CONCATENABLE = frozenset(name.lower() for name in _CONCATENABLE)


def kind(fmt: str) -> Kind:
    """How ``fmt``'s chunks join (format names compared case-insensitively)."""
    name = fmt.lower()
    if name in CONCATENABLE:
        return Kind.CONCATENATE
    if name in _HEADER_LINES or name in _BINARY_HEADER:
        return Kind.HEADER
    return Kind.WHOLE


def _read_leb128(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _read_leb128(data, pos)
    if pos + size > len(data):
        raise ValueError("truncated string")
    return data[pos : pos + size], pos + size


def _text_header_length(data: bytes, lines: int, quoted: bool) -> int:
    """Bytes taken by the first ``lines`` lines (CSV: newlines inside quotes do not count)."""
    pos = 0
    for _ in range(lines):
        if quoted:
            inside = False
            while pos < len(data):
                byte = data[pos]
                pos += 1
                if byte == 0x22:
                    inside = not inside
                elif byte == 0x0A and not inside:
                    break
            else:
                raise ValueError("truncated header")
        else:
            end = data.find(b"\n", pos)
            if end < 0:
                raise ValueError("truncated header")
            pos = end + 1
    return pos


def header_length(fmt: str, chunk: bytes) -> int:
    """Bytes of the header at the start of a chunk of a :data:`Kind.HEADER` format."""
    name = fmt.lower()
    if name in _BINARY_HEADER:
        columns, pos = _read_leb128(chunk, 0)
        for _ in range(columns * (2 if _BINARY_HEADER[name] else 1)):
            _, pos = _read_string(chunk, pos)
        return pos
    return _text_header_length(chunk, _HEADER_LINES[name], quoted=name.startswith("csv"))


class Reframer:
    """Joins the streamed chunks of one result into one document of its format."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._kind = kind(fmt)
        self._header: bytes | None = None

    def feed(self, chunk: bytes) -> bytes:
        if self._kind is not Kind.HEADER:
            return chunk
        if self._header is None:
            self._header = chunk[: header_length(self._fmt, chunk)]
            return chunk
        if not chunk.startswith(self._header):
            # never join what cannot be joined: a wrong result must fail, not look right
            raise ValueError(f"a chunk of the {self._fmt} result does not start with its header")
        return chunk[len(self._header) :]
