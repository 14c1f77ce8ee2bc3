"""ClickHouse's HTTP interface served by the ClickHouse engine embedded through chdb.

``python -m streams.local.clickhouse_http --host 127.0.0.1 --port 8123 --path .newsetl/clickhouse``
serves the real ClickHouse engine (chdb) on ClickHouse's own HTTP protocol, so that
clickhouse-connect, curl and dashboard tools talk to it exactly as to a ClickHouse server:

- the query in the ``query`` URL parameter and/or in the request body; for an INSERT the data
  follows the statement (``INSERT INTO t (a, b) FORMAT Native`` + body), streamed into
  :meth:`chdb.state.sqlitelike.Connection.send_insert` chunk by chunk;
- server-side query parameters (``{name:Type}`` + ``param_name=...``) passed to chdb natively;
- ``database``, ``default_format``, ``session_id``/``session_timeout``/``session_check``,
  ``query_id`` and any ClickHouse setting as URL parameters; settings are applied to the query
  only (sessions keep their own ``SET`` state); ``readonly`` is enforced by the engine (code 164);
  GET requests are ``readonly=2`` as in ClickHouse;
- compressed request bodies (``Content-Encoding``) and responses (``Accept-Encoding`` together
  with ``enable_http_compression=1``): lz4 (frame), zstd, gzip, deflate;
- results streamed in chunks (``Transfer-Encoding: chunked``) through chdb's ``send_query``;
- the response headers ``X-ClickHouse-Query-Id``, ``-Summary``, ``-Format``, ``-Timezone``,
  ``-Server-Display-Name``; errors as ClickHouse reports them (``Code: N. DB::Exception: ...``,
  ``X-ClickHouse-Exception-Code``, 4xx/5xx status).

Every request runs on its own chdb connection (they are cheap, ~0.2 ms, and the engine runs
queries on different connections in parallel); a ClickHouse HTTP session is one long-lived chdb
connection, used by one request at a time.

Where chdb (clickhouse-local) differs from a server, the endpoint behaves as the server:

- inserts are verified: chdb's streaming insert reports success when the table refused the
  data (full disk, violated constraint, failing materialized view); the engine's error counters
  (``system.errors``) tell, and the insert fails with the engine's code (243 NOT_ENOUGH_SPACE...);
- hostile queries are refused (:func:`check_query`): ``INTO OUTFILE``/``FROM INFILE``, file paths
  outside ``<path>/user_files`` (the process's working directory, so that relative paths land
  there), executable dictionaries, and for readonly requests ``SYSTEM``/``KILL`` and table
  functions reaching other servers; ``--reader-user`` adds a user whose requests are readonly=1;
- connections wait for their next request without holding a thread and are closed after
  ``--keep-alive-timeout``; at most ``--max-threads`` requests run at once, ``--max-queued`` more
  wait, beyond that the answer is 503 (TOO_MANY_SIMULTANEOUS_QUERIES).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import os
import queue
import re
import selectors
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from streams.local import formats
from streams.local.blocks import BlockCompressor, BlockDecompressor, BlockError

log = logging.getLogger("newsetl.clickhouse_http")

#: URL parameters that belong to the HTTP protocol, not to the query settings.
HTTP_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "user",
        "password",
        "quota_key",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "stacktrace",
        "close_session",
    }
)
#: Real ClickHouse settings that only steer the HTTP transport: honoured here, not sent to chdb.
TRANSPORT_SETTINGS = frozenset(
    {
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_wait_end_of_query",
        "http_response_buffer_size",
        "add_http_cors_header",
    }
)
SUPPORTED_ENCODINGS = ("lz4", "zstd", "gzip", "deflate")
READ_CHUNK = 1 << 20
STREAM_FLUSH_BYTES = 1 << 20
SPOOL_MEMORY_BYTES = 64 << 20
MAX_QUERY_BYTES = 256 << 20
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"Code: (\d+)\. ")
_CODE_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")

# ClickHouse error codes used by the HTTP layer itself.
UNKNOWN_FORMAT = 73
BAD_ARGUMENTS = 36
READONLY = 164
SESSION_NOT_FOUND = 372
SESSION_IS_LOCKED = 373
UNKNOWN_SETTING = 115
AUTHENTICATION_FAILED = 516
NOT_IMPLEMENTED = 48
QUERY_IS_TOO_LARGE = 229
SYNTAX_ERROR = 62
NOT_ENOUGH_SPACE = 243
ABORTED = 236
DATABASE_ACCESS_DENIED = 291
INTO_OUTFILE_NOT_ALLOWED = 358
DICTIONARY_ACCESS_DENIED = 482
ACCESS_DENIED = 497

_STATUS_BY_CODE: dict[int, int] = {
    194: 401,  # REQUIRED_PASSWORD
    192: 403,  # UNKNOWN_USER
    193: 403,  # WRONG_PASSWORD
    516: 403,  # AUTHENTICATION_FAILED
    497: 403,  # ACCESS_DENIED
    164: 403,  # READONLY
    60: 404,  # UNKNOWN_TABLE
    81: 404,  # UNKNOWN_DATABASE
    46: 404,  # UNKNOWN_FUNCTION
    47: 404,  # UNKNOWN_IDENTIFIER
    16: 404,  # NO_SUCH_COLUMN_IN_TABLE
    372: 404,  # SESSION_NOT_FOUND
    229: 413,  # QUERY_IS_TOO_LARGE
    48: 501,  # NOT_IMPLEMENTED
    243: 507,  # NOT_ENOUGH_SPACE
    373: 500,  # SESSION_IS_LOCKED
}
_BAD_REQUEST_CODES = frozenset(
    {6, 25, 26, 27, 32, 33, 34, 35, 36, 38, 41, 42, 43, 44, 53, 62, 69, 72, 73, 115, 117, 130, 190, 403, 457}
)


class ClickHouseError(Exception):
    """An error in ClickHouse's own terms: code and ``DB::Exception`` message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_engine(cls, exc: BaseException) -> ClickHouseError:
        """Wrap an exception raised by chdb, keeping ClickHouse's code and message."""
        text = str(exc)
        match = _CODE.search(text)
        if match is None:
            return cls(1000, f"Code: 1000. DB::Exception: {text}. (POCO_EXCEPTION)")
        return cls(int(match.group(1)), text[match.start() :].strip())

    @classmethod
    def make(cls, code: int, name: str, text: str) -> ClickHouseError:
        """A server-side error formatted as ClickHouse formats it."""
        return cls(code, f"Code: {code}. DB::Exception: {text}. ({name})")

    @property
    def http_status(self) -> int:
        """The HTTP status ClickHouse answers this error code with."""
        if self.code in _STATUS_BY_CODE:
            return _STATUS_BY_CODE[self.code]
        return 400 if self.code in _BAD_REQUEST_CODES else 500


# --- compression ----------------------------------------------------------------------------------


class Codec(Protocol):
    """A streaming (de)compressor: feed chunks, then flush the tail."""

    def feed(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


@dataclass
class _FuncCodec:
    feed_fn: Callable[[bytes], bytes]
    flush_fn: Callable[[], bytes]
    started: bytes = b""

    def feed(self, data: bytes) -> bytes:
        head, self.started = self.started, b""
        return head + self.feed_fn(data)

    def flush(self) -> bytes:
        head, self.started = self.started, b""
        return head + self.flush_fn()


def make_compressor(encoding: str, level: int | None = None) -> Codec:
    """A streaming compressor for an HTTP ``Content-Encoding`` (lz4, zstd, gzip, deflate)."""
    if encoding == "lz4":
        import lz4.frame

        comp = lz4.frame.LZ4FrameCompressor()
        return _FuncCodec(comp.compress, comp.flush, started=comp.begin())
    if encoding == "zstd":
        import zstandard

        zobj = zstandard.ZstdCompressor(level=level or 3).compressobj()
        return _FuncCodec(zobj.compress, zobj.flush)
    if encoding in ("gzip", "deflate"):
        wbits = 31 if encoding == "gzip" else 15
        cobj = zlib.compressobj(level if level is not None else 3, zlib.DEFLATED, wbits)
        return _FuncCodec(cobj.compress, cobj.flush)
    raise ClickHouseError.make(BAD_ARGUMENTS, "BAD_ARGUMENTS", f"Unknown HTTP content encoding '{encoding}'")


def make_decompressor(encoding: str) -> Codec:
    """A streaming decompressor for a request's ``Content-Encoding``."""
    if encoding == "lz4":
        import lz4.frame

        dec = lz4.frame.LZ4FrameDecompressor()

        def lz4_feed(data: bytes) -> bytes:
            out = [dec.decompress(data)]
            # a body may hold several concatenated frames
            while dec.eof and dec.unused_data:
                rest = dec.unused_data
                dec.reset()
                out.append(dec.decompress(rest))
            return b"".join(out)

        return _FuncCodec(lz4_feed, lambda: b"")
    if encoding == "zstd":
        import zstandard

        zdec = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        return _FuncCodec(zdec.decompress, lambda: b"")
    if encoding in ("gzip", "deflate", "x-gzip"):
        dobj = zlib.decompressobj(47 if encoding != "deflate" else 15)
        return _FuncCodec(dobj.decompress, dobj.flush)
    raise ClickHouseError.make(BAD_ARGUMENTS, "BAD_ARGUMENTS", f"Unknown HTTP content encoding '{encoding}'")


def choose_encoding(accept_encoding: str | None) -> str | None:
    """The first encoding of ``Accept-Encoding`` (in the client's order) that is supported."""
    if not accept_encoding:
        return None
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if name in SUPPORTED_ENCODINGS and "q=0" != params.replace(" ", "")[:3]:
            return name
    return None


class _Chain:
    """Codecs applied one after the other."""

    def __init__(self, codecs: list[Codec]) -> None:
        self._codecs = codecs

    def feed(self, data: bytes) -> bytes:
        for codec in self._codecs:
            data = codec.feed(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for codec in self._codecs:
            data = codec.feed(data) + codec.flush() if data else codec.flush()
        return data


def _chain(codecs: list[Codec]) -> Codec | None:
    if not codecs:
        return None
    return codecs[0] if len(codecs) == 1 else _Chain(codecs)


# --- SQL helpers ----------------------------------------------------------------------------------

_LEADING_COMMENTS = rb"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*"
_INSERT_FORMAT = re.compile(
    rb"^" + _LEADING_COMMENTS + rb"(INSERT\s+INTO\s+.*?)\s+FORMAT\s+([A-Za-z][A-Za-z0-9_]*)[ \t]*(?:\r?\n)?",
    re.IGNORECASE | re.DOTALL,
)
_INSERT_VALUES = re.compile(
    rb"^" + _LEADING_COMMENTS + rb"(INSERT\s+INTO\s+.*?)\s+VALUES\s*", re.IGNORECASE | re.DOTALL
)
_QUOTED = re.compile(rb"`[^`]*`|\"[^\"]*\"|'(?:[^'\\]|\\.)*'", re.DOTALL)
_SELECT_WORD = re.compile(rb"\b(SELECT|WITH)\b", re.IGNORECASE)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class InsertSplit:
    """An ``INSERT ... FORMAT X`` statement and where its data starts in the text."""

    statement: str
    fmt: str
    data_offset: int


def split_insert(head: bytes) -> InsertSplit | None:
    """Split ``INSERT INTO t (cols) [SETTINGS ...] FORMAT X<data>`` (or ``... VALUES <data>``).

    Returns None for anything else (SELECT, ``INSERT ... SELECT``, DDL), which runs as one query.
    """
    for pattern, fixed_fmt in ((_INSERT_FORMAT, None), (_INSERT_VALUES, "Values")):
        match = pattern.match(head)
        if match is None:
            continue
        statement = match.group(1)
        if _SELECT_WORD.search(_QUOTED.sub(b"``", statement)):
            return None
        fmt = fixed_fmt or match.group(2).decode()
        return InsertSplit(statement.decode("utf-8"), fmt, match.end())
    return None


def output_format(sql: str, default: str) -> str:
    """The output format of a query: its trailing ``FORMAT X`` clause, else ``default``."""
    match = _TRAILING_FORMAT.search(sql)
    return match.group(1) if match else default


def quote_literal(value: str) -> str:
    """A ClickHouse string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(value: str) -> str:
    """A ClickHouse identifier in backquotes (backslash and backquote escaped)."""
    return "`" + value.replace("\\", "\\\\").replace("`", "\\`") + "`"


# --- what a ClickHouse server refuses ---------------------------------------------------------------
#
# chdb runs the engine as clickhouse-local, which trusts its user: INTO OUTFILE/FROM INFILE write and
# read server files, file() takes any path (user_files_path is not enforced in local mode), and
# executable dictionary sources run shell commands. A server refuses these over HTTP. No chdb setting
# restores that, so the endpoint checks the query itself — on the engine's own canonical rendering of
# it (formatQuerySingleLine: same parser, comments dropped, literals in one escaping, heredocs turned
# into plain literals, multi-statements refused), so no comment or quoting trick reads differently
# here than in the engine.

_CANON_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`", re.DOTALL)
_PLACEHOLDER = re.compile(r"'(\d+)'")
_ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "a": "\a", "v": "\v"}
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_FROM_INFILE = re.compile(r"\bFROM\s+INFILE\b", re.IGNORECASE)
_ADMIN_STATEMENT = re.compile(r"^\s*(SYSTEM|KILL)\b", re.IGNORECASE)
#: Table functions (and engines of the same name) that reach other servers, run programs or read
#: outside the data directory: a readonly request may not use them.
REMOTE_SOURCES = (
    "url", "urlCluster", "s3", "s3Cluster", "gcs", "oss", "cosn", "hdfs", "hdfsCluster", "azureBlobStorage",
    "azureBlobStorageCluster", "executable", "executablePool", "remote", "remoteSecure", "cluster",
    "clusterAllReplicas", "mysql", "postgresql", "jdbc", "odbc", "mongodb", "redis", "sqlite", "iceberg",
    "icebergS3", "icebergAzure", "icebergHDFS", "icebergLocal", "deltaLake", "deltaLakeLocal", "hudi",
    "arrowFlight", "ytsaurus", "fuzzQuery", "fuzzJSON",
)
_REMOTE_CALL = re.compile(r"\b(" + "|".join(REMOTE_SOURCES) + r")\s*\(", re.IGNORECASE)
_FILE_CALL = re.compile(r"\b(file|fileCluster)\s*\(", re.IGNORECASE)
_ENGINE_BEFORE = re.compile(r"\bENGINE\s*=\s*$", re.IGNORECASE)
_SOURCE_BEFORE = re.compile(r"\bSOURCE\s*\(\s*$", re.IGNORECASE)
_DICT_PATH = re.compile(r"\bPATH\s+'(\d+)'", re.IGNORECASE)
_EXEC_SOURCE = re.compile(r"\bSOURCE\s*\(\s*(EXECUTABLE|EXECUTABLE_POOL)\s*\(", re.IGNORECASE)
_ATTACH_FROM = re.compile(r"^\s*ATTACH\b.*?\bFROM\s+'(\d+)'", re.IGNORECASE | re.DOTALL)
_DISK_CALL = re.compile(r"\bdisk\s*\(", re.IGNORECASE)
_DIALECT = re.compile(r"\bdialect\s*=\s*'(\d+)'", re.IGNORECASE)
_STREAMABLE = re.compile(r"^\s*\(*\s*(SELECT|WITH)\b", re.IGNORECASE)
_SESSION_STATEMENT = re.compile(r"^\s*(SET|USE)\b", re.IGNORECASE)
_RESULT_STATEMENT = re.compile(r"^\s*\(*\s*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE)
_FORMAT_WRAPPER = re.compile(r"(?:: )?In scope SELECT formatQuerySingleLine\(.*?(?=\. \([A-Z][A-Z0-9_]*\)\s*$)", re.DOTALL)


@dataclass(frozen=True)
class MaskedSql:
    """A canonical query with its string literals replaced by ``'N'`` (N indexes ``literals``).

    A literal is None when it holds an escape not decoded here (never a path worth trusting).
    """

    skeleton: str
    literals: tuple[str | None, ...]


def _unescape(body: str) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2 : i + 4]):
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        else:
            return None
    return "".join(out)


def mask_literals(canonical: str) -> MaskedSql:
    """Mask the literals of a query as the engine formats it (``'...'`` literals with backslash
    escapes, backquoted identifiers); identifiers lose their quotes when they are plain words."""
    literals: list[str | None] = []

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        if token[0] == "`":
            inner = token[1:-1]
            return inner if re.fullmatch(r"\w+", inner) else "_quoted_identifier_"
        literals.append(_unescape(token[1:-1]))
        return f"'{len(literals) - 1}'"

    return MaskedSql(_CANON_QUOTED.sub(repl, canonical), tuple(literals))


def _call_args(skeleton: str, open_paren: int) -> list[str]:
    """Top-level arguments of the call whose ``(`` is at ``open_paren`` (literals already masked)."""
    depth, start, args = 0, open_paren + 1, []
    for i in range(open_paren, len(skeleton)):
        ch = skeleton[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                args.append(skeleton[start:i].strip())
                break
        elif ch == "," and depth == 1:
            args.append(skeleton[start:i].strip())
            start = i + 1
    else:
        args.append(skeleton[start:].strip())
    return [] if args == [""] else args


def check_user_path(path: str | None, user_files: Path) -> None:
    """Refuse a file path outside ``user_files`` as ClickHouse's ``user_files_path`` does (291).

    Relative paths are relative to ``user_files`` (the endpoint runs there); ``..`` is refused
    anywhere, globs included (``{a,../b}``), and symlinks are followed.
    """
    root = os.path.realpath(user_files)
    shown = path if path is not None else "<expression>"
    denied = ClickHouseError.make(
        DATABASE_ACCESS_DENIED, "DATABASE_ACCESS_DENIED", f"File `{shown}` is not inside `{root}/`"
    )
    if path is None or not path or "\0" in path:
        raise denied
    if ".." in re.split(r"[/{},|]", path):
        raise denied
    full = os.path.normpath(os.path.join(root, path))
    glob_free = re.split(r"[*?{\[]", full, maxsplit=1)[0]
    resolved = os.path.realpath(glob_free) if glob_free else root
    for candidate in (full, resolved):
        if candidate != root and not candidate.startswith(root + os.sep):
            raise denied


def _literal_at(masked: MaskedSql, arg: str) -> str | None:
    match = _PLACEHOLDER.fullmatch(arg)
    return masked.literals[int(match.group(1))] if match else None


def check_query(canonical: str, readonly: int, user_files: Path, user: str = "default") -> None:
    """Refuse what a ClickHouse server refuses over HTTP; ``canonical`` is the engine's own
    single-line rendering of the query (see :meth:`Request._canonical`).

    - ``INTO OUTFILE`` (358 INTO_OUTFILE_NOT_ALLOWED) and ``FROM INFILE`` (48 NOT_IMPLEMENTED):
      client-side features of clickhouse-client, never done by a server;
    - ``file()``/``fileCluster()``, the ``File`` engine and dictionary, ``ATTACH ... FROM`` and
      ``BACKUP ... TO File()``: paths confined to ``user_files`` (291 DATABASE_ACCESS_DENIED);
      custom ``disk(...)`` definitions are refused (291);
    - executable dictionary sources (482 DICTIONARY_ACCESS_DENIED, as for DDL on a server);
    - readonly requests: ``SYSTEM``/``KILL`` and table functions reaching other servers or
      programs (164 READONLY, ClickHouse's answer for readonly=1);
    - a ``dialect`` other than clickhouse (the guard reads ClickHouse SQL only; 36 BAD_ARGUMENTS).
    """
    masked = mask_literals(canonical)
    sk = masked.skeleton
    if _INTO_OUTFILE.search(sk):
        raise ClickHouseError.make(INTO_OUTFILE_NOT_ALLOWED, "INTO_OUTFILE_NOT_ALLOWED", "INTO OUTFILE is not allowed")
    if _FROM_INFILE.search(sk):
        raise ClickHouseError.make(
            NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "FROM INFILE is a client-side feature, not supported over HTTP"
        )
    for match in _DIALECT.finditer(sk):
        if (masked.literals[int(match.group(1))] or "").lower() != "clickhouse":
            raise ClickHouseError.make(BAD_ARGUMENTS, "BAD_ARGUMENTS", "Only the clickhouse dialect is supported")
    if readonly:
        refused = _ADMIN_STATEMENT.match(sk) or _REMOTE_CALL.search(sk)
        if refused:
            raise ClickHouseError.make(READONLY, "READONLY", f"{user}: Cannot execute query in readonly mode")
    if _EXEC_SOURCE.search(sk):
        raise ClickHouseError.make(
            DICTIONARY_ACCESS_DENIED,
            "DICTIONARY_ACCESS_DENIED",
            "Dictionaries with executable dictionary source are not allowed to be created from DDL query",
        )
    if _DISK_CALL.search(sk):
        raise ClickHouseError.make(DATABASE_ACCESS_DENIED, "DATABASE_ACCESS_DENIED", "Custom disks are not allowed")
    attach = _ATTACH_FROM.match(sk)
    if attach:
        check_user_path(masked.literals[int(attach.group(1))], user_files)
    for match in _FILE_CALL.finditer(sk):
        args = _call_args(sk, match.end() - 1)
        before = sk[: match.start()]
        if _SOURCE_BEFORE.search(before):  # dictionary SOURCE(FILE(PATH '...' FORMAT '...'))
            found = _DICT_PATH.search(args[0] if args else "")
            check_user_path(masked.literals[int(found.group(1))] if found else None, user_files)
        elif _ENGINE_BEFORE.search(before):  # ENGINE = File(format[, path])
            if len(args) > 1:
                check_user_path(_literal_at(masked, args[1]), user_files)
        else:
            index = 1 if match.group(1).lower() == "filecluster" else 0
            check_user_path(_literal_at(masked, args[index]) if len(args) > index else None, user_files)


def canonical_error(exc: BaseException) -> ClickHouseError:
    """The engine's error for a query it could not parse, without the formatQuery wrapper."""
    err = ClickHouseError.from_engine(exc)
    return ClickHouseError(err.code, _FORMAT_WRAPPER.sub("", err.message))


_INSERT_TARGET = re.compile(r"^\s*INSERT\s+INTO\s+(?:TABLE\s+)?([`\"\w.]+)", re.IGNORECASE)
#: Not a ClickHouse path: the endpoint's own count of the INSERT statements it executed.
INSERTS_PATH = "/newsetl/inserts"


class InsertCounter:
    """INSERT statements and rows the endpoint executed, per target table as written in the
    statement (``db.table``): lets a test count writes, which identical duplicate rows hide once
    ReplacingMergeTree collapses them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}

    def count(self, statement: str, rows: int) -> None:
        match = _INSERT_TARGET.match(statement)
        table = match.group(1).replace("`", "").replace('"', "") if match else "?"
        with self._lock:
            entry = self._counts.setdefault(table, [0, 0])
            entry[0] += 1
            entry[1] += rows

    def to_json(self) -> bytes:
        with self._lock:
            data = {table: {"inserts": n, "rows": rows} for table, (n, rows) in sorted(self._counts.items())}
        return json.dumps(data).encode()


# --- the engine -----------------------------------------------------------------------------------


_DATABASE = ""  # the key of the current database among a session's overlaid settings


def _setting_sql(name: str, value: str) -> str:
    """The statement that gives a connection ``value`` for setting ``name`` (``_DATABASE``: USE)."""
    return f"USE {quote_identifier(value)}" if name == _DATABASE else f"SET {name} = {quote_literal(value)}"


def _current_values(conn: Any, which: str) -> dict[str, str]:
    """The connection's values of the settings ``which`` selects, and its database under ``_DATABASE``."""
    rows = conn.query(
        f"SELECT name, value FROM system.settings WHERE {which} UNION ALL SELECT '', currentDatabase()",
        "TabSeparatedRaw",
    ).bytes()
    return dict(line.split("\t", 1) for line in rows.decode().splitlines())


@dataclass
class _Session:
    """A ClickHouse HTTP session: one chdb connection keeping its ``SET``/``USE`` state.

    A request's URL settings (and ``database``) apply to that request only. They are laid over the
    session's own values and left in place after the request: the next request changes only what
    differs (most clients send the same settings every time), and values no longer asked for go
    back to the session's own before anything runs.
    """

    conn: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    timeout: float = 60.0
    last_used: float = field(default_factory=time.monotonic)
    #: overlaid name -> the session's own value under it; ``_DATABASE`` for the current database
    own: dict[str, str] = field(default_factory=dict)
    #: overlaid name -> the value applied now
    applied: dict[str, str] = field(default_factory=dict)

    def overlay(self, wanted: dict[str, str]) -> None:
        """Make exactly ``wanted`` overlaid on the session's own values."""
        for name in [n for n in self.applied if n not in wanted]:
            self._set(name, self.own.pop(name))
            del self.applied[name]
        new = [n for n in wanted if n not in self.applied]
        if new:
            listed = ", ".join(quote_literal(n) for n in new if n != _DATABASE) or "''"
            current = _current_values(self.conn, f"name IN ({listed})")
            for name in new:
                if name not in current:  # chdb refuses the SET below with UNKNOWN_SETTING
                    self._set(name, wanted[name])
                self.own[name] = current[name]
        for name, value in wanted.items():
            if self.applied.get(name) != value:
                self._set(name, value)
                self.applied[name] = value

    def reset(self) -> None:
        """Back to the session's own values (before a statement that changes them)."""
        try:
            self.overlay({})
        finally:
            self.own.clear()
            self.applied.clear()

    def _set(self, name: str, value: str) -> None:
        self.conn.query(_setting_sql(name, value))


class Renderings:
    """The engine's rendering of recent query texts (dashboards and clients repeat theirs): the
    rendering depends on the text alone, and costs a query of its own (~1 ms)."""

    MAX_ENTRIES = 1024
    MAX_TEXT = 64 << 10

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, sql: str) -> str | None:
        with self._lock:
            canonical = self._items.get(sql)
            if canonical is not None:
                self._items.move_to_end(sql)
            return canonical

    def put(self, sql: str, canonical: str) -> None:
        if len(sql) > self.MAX_TEXT:
            return
        with self._lock:
            self._items[sql] = canonical
            while len(self._items) > self.MAX_ENTRIES:
                self._items.popitem(last=False)


class Engine:
    """chdb connections on one data path: long-lived per HTTP session; for requests without a
    session, a small pool of connections whose URL settings are overlaid as a session's are
    (a connection costs ~1 ms to open and each setting a query to apply), taken back only after
    statements that cannot change a connection's state."""

    MAX_IDLE = 8

    def __init__(self, path: Path) -> None:
        from chdb import session as chdb_session

        path = path.resolve()  # the process runs in user_files (see serve): relative would break
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.user_files = path / "user_files"
        self.user_files.mkdir(exist_ok=True)
        self._session_cls = chdb_session.Session
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        self._idle: list[_Session] = []
        self.renderings = Renderings()
        #: set once the engine reported a fatal error: nothing it runs will succeed again
        self.aborted = False
        self._admin = self.connect()
        row = self._admin.query("SELECT version(), timezone()", "TabSeparated").bytes().decode()
        self.version, self.timezone = row.strip().split("\t")

    def connect(self) -> Any:
        """A new chdb connection (its own settings and current database)."""
        return self._session_cls(str(self.path))

    def acquire_pooled(self) -> _Session:
        """A connection for one request without a session (its overlay says what it has applied)."""
        with self._sessions_lock:
            if self._idle:
                return self._idle.pop()
        return _Session(self.connect())

    def release_pooled(self, sess: _Session, reusable: bool) -> None:
        """Back to the pool when ``reusable`` and there is room; else closed."""
        if reusable:
            with self._sessions_lock:
                if len(self._idle) < self.MAX_IDLE:
                    self._idle.append(sess)
                    return
        sess.conn.close()

    def acquire_session(self, session_id: str, timeout: float, check: bool) -> _Session:
        """The session's connection, locked for this request.

        ClickHouse refuses concurrent queries in one session (SESSION_IS_LOCKED); this waits a
        moment first, so a client's next query racing the end of its previous response passes.
        """
        with self._sessions_lock:
            sess = self._sessions.get(session_id)
            if sess is None:
                if check:
                    raise ClickHouseError.make(
                        SESSION_NOT_FOUND, "SESSION_NOT_FOUND", f"Session {session_id} not found"
                    )
                sess = _Session(self.connect(), timeout=timeout)
                self._sessions[session_id] = sess
        if not sess.lock.acquire(timeout=1.0):
            raise ClickHouseError.make(
                SESSION_IS_LOCKED, "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
            )
        sess.timeout = timeout
        return sess

    def session_state(self, session_id: str, timeout: float, check: bool) -> list[str]:
        """Statements that give another connection the session's own settings and database."""
        sess = self.acquire_session(session_id, timeout, check)
        try:
            sess.reset()
            values = _current_values(sess.conn, "changed AND name != 'readonly'")
        finally:
            self.release_session(sess)
        return [_setting_sql(name, value) for name, value in values.items()]

    def release_session(self, sess: _Session) -> None:
        sess.last_used = time.monotonic()
        sess.lock.release()

    def expire_sessions(self) -> None:
        """Close sessions idle for longer than their timeout."""
        now = time.monotonic()
        with self._sessions_lock:
            for sid, sess in list(self._sessions.items()):
                if now - sess.last_used > sess.timeout and sess.lock.acquire(blocking=False):
                    del self._sessions[sid]
                    sess.conn.close()
                    sess.lock.release()

    def close(self) -> None:
        with self._sessions_lock:
            for sess in [*self._sessions.values(), *self._idle]:
                sess.conn.close()
            self._sessions.clear()
            self._idle.clear()
        self._admin.close()


# --- insert verification ----------------------------------------------------------------------------
#
# chdb's streaming insert (send_insert/append/finish) swallows every exception the table's sink
# throws when the data is committed — NOT_ENOUGH_SPACE on a full disk, a violated CONSTRAINT, a
# failing materialized view — and finish() reports the rows as written. The engine still counts
# each exception in system.errors (per code: count, last message, last query id), and
# system.session_query_ids lists this connection's query ids, so the endpoint compares the counters
# around the insert and attributes new errors to it. Row counts cannot tell: a deduplicated insert
# legitimately writes nothing, and other clients write to the same tables meanwhile.


@dataclass(frozen=True)
class ErrorCounters:
    """system.errors before an insert, with where this connection's query ids start."""

    values: dict[tuple[int, int], int]
    sequence: int
    own_query_id: str


@dataclass(frozen=True)
class ErrorRow:
    """One row of system.errors after an insert; ``ours`` when its last error is the insert's."""

    code: int
    remote: int
    name: str
    value: int
    ours: bool
    message: str


def _rows(conn: Any, sql: str) -> list[list[Any]]:
    raw = conn.query(sql, "JSONCompactEachRow").bytes().decode("utf-8", errors="replace")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def error_counters(conn: Any) -> ErrorCounters:
    """The engine's error counters now, and this connection's last query sequence number."""
    values = {(int(c), int(r)): int(v) for c, r, v in _rows(conn, "SELECT code, remote, value FROM system.errors")}
    ((sequence, own),) = _rows(
        conn, "SELECT ifNull(max(sequence_number), 0), queryID() FROM system.session_query_ids"
    )
    return ErrorCounters(values, int(sequence), str(own))


def errors_since(conn: Any, before: ErrorCounters) -> list[ErrorRow]:
    """system.errors rows whose count grew since ``before``; ``ours`` when the last error of the
    code carries a query id this connection used after ``before`` (the insert's)."""
    ours = (
        "SELECT query_id FROM system.session_query_ids "
        f"WHERE sequence_number > {before.sequence} AND query_id != {quote_literal(before.own_query_id)}"
    )
    rows = _rows(conn, f"SELECT code, remote, name, value, query_id IN ({ours}), last_error_message FROM system.errors")
    return [
        ErrorRow(int(code), int(remote), str(name), int(value), bool(mine), str(message))
        for code, remote, name, value, mine, message in rows
        if int(value) > before.values.get((int(code), int(remote)), 0)
    ]


#: errors only a query's own parsing or analysis raises, never a table's sink: a concurrent
#: client's count of these says nothing about an insert
QUERY_ONLY_CODES = frozenset({46, 47, 62, 115, 164})
#: input parse errors, which ``input_format_allow_errors_num/ratio`` allow an insert to skip
PARSE_CODES = frozenset({6, 25, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 407, 457})


def insert_failure(before: dict[tuple[int, int], int], grown: list[ErrorRow],
                   allowed: frozenset[int] = frozenset()) -> ClickHouseError | None:
    """The error to report for an insert chdb called successful, None when it was.

    An error counted during the insert is the insert's when its query id says so; when the count
    of a code grew by more than one, a concurrent query's error of the same code may have
    overwritten the insert's query id, so that counts as a failure too (a retry is safe for the
    sink: its inserts carry deduplication tokens). One other query's error alone is not ours.
    """
    suspects = [
        row for row in grown
        if row.code not in allowed
        and (row.ours or (row.code not in QUERY_ONLY_CODES and row.value - before.get((row.code, row.remote), 0) > 1))
    ]
    if not suspects:
        return None
    row = min(suspects, key=lambda r: (not r.ours, r.code))
    return ClickHouseError.make(row.code, row.name, row.message.rstrip("."))


# --- the request ----------------------------------------------------------------------------------


class BodyReader:
    """The request body: Content-Length or chunked, decoded from its Content-Encoding."""

    def __init__(
        self, rfile: Any, length: int | None, chunked: bool, encoding: str | None, blocks: bool = False
    ) -> None:
        self._rfile = rfile
        self._remaining = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length
        codecs: list[Codec] = []
        if encoding and encoding != "identity":
            codecs.append(make_decompressor(encoding))
        if blocks:  # decompress=1: ClickHouse's compressed blocks inside any Content-Encoding
            codecs.append(BlockDecompressor())
        self._codec = _chain(codecs)
        self._flushed = False

    def _raw(self) -> bytes:
        if self._done:
            return b""
        if not self._chunked:
            data = self._rfile.read(min(READ_CHUNK, self._remaining))
            if not data:
                raise ClickHouseError.make(33, "CANNOT_READ_ALL_DATA", "Unexpected end of request body")
            self._remaining -= len(data)
            self._done = self._remaining <= 0
            return data
        if self._chunk_left == 0:
            line = self._rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
            self._chunk_left = size
        data = self._rfile.read(min(READ_CHUNK, self._chunk_left))
        if not data:
            raise ClickHouseError.make(33, "CANNOT_READ_ALL_DATA", "Unexpected end of chunked request body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(3)
        return data

    def chunks(self) -> Iterator[bytes]:
        """Decoded body chunks until the end of the body."""
        try:
            while not self._done:
                raw = self._raw()
                data = self._codec.feed(raw) if self._codec else raw
                if data:
                    yield data
            if self._codec and not self._flushed:
                self._flushed = True
                tail = self._codec.flush()
                if tail:
                    yield tail
        except ClickHouseError:
            raise
        except BlockError as exc:
            raise ClickHouseError.make(exc.code, exc.name, str(exc)) from exc
        except Exception as exc:  # corrupt compressed data and the like
            raise ClickHouseError.make(
                354, "CANNOT_DECOMPRESS", f"Cannot decode request body: {type(exc).__name__}: {exc}"
            ) from exc

    def drain(self) -> None:
        """Read and drop what is left (keeps the connection usable)."""
        self._codec = None
        for _ in self.chunks():
            pass


@dataclass
class ServerConfig:
    """What the HTTP server needs besides the engine."""

    user: str = "default"
    password: str = ""
    display_name: str = field(default_factory=socket.gethostname)
    #: a second user whose every request is readonly=1 (the dashboards' user); None: no such user
    reader: tuple[str, str] | None = None
    #: threads executing requests; more requests wait in a queue, beyond it they get a 503
    max_threads: int = 64
    max_queued: int = 256
    #: seconds a connection may wait for its next request (ClickHouse's keep_alive_timeout)
    keep_alive_timeout: float = 10.0
    #: seconds a read or write of a request in progress may stall (http_receive/send_timeout)
    io_timeout: float = 30.0


@dataclass
class _Connection:
    sock: socket.socket
    address: Any
    handler: ClickHouseHandler | None = None
    idle_since: float = field(default_factory=time.monotonic)


class ClickHouseHTTPServer(socketserver.TCPServer):
    """An HTTP server that owns the engine, with a bounded number of threads.

    A connection holds a thread only while a request is being read or answered: between requests
    (and before the first) it waits in a selector, and is closed after ``keep_alive_timeout``.
    Ready connections are served by at most ``max_threads`` workers; when ``max_queued`` more
    wait already, a new request is answered 503 and closed, as an overloaded server would.
    """

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: Engine, config: ServerConfig) -> None:
        super().__init__(address, ClickHouseHandler)
        self.engine = engine
        self.config = config
        self.inserts = InsertCounter()
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._pending = 0  # requests queued or being served
        self._workers = 0
        self._idle_workers = 0
        self._incoming: list[_Connection] = []
        self._closing = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="http-dispatch", daemon=True)
        self._dispatcher.start()

    # socketserver calls this in the accepting thread for every new connection
    def process_request(self, request: Any, client_address: Any) -> None:
        # a response is headers then body: with Nagle the second small write waits for the
        # client's delayed ACK of the first (~40 ms per request)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._park(_Connection(request, client_address))

    def _park(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            if self._closing:
                self._close(conn)
                return
            self._incoming.append(conn)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the wake-up pipe is full: the dispatcher wakes anyway

    def _dispatch_loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        parked: dict[int, _Connection] = {}
        tick = min(1.0, self.config.keep_alive_timeout / 4)
        while True:
            for key, _ in selector.select(timeout=tick):
                if key.data is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except OSError:
                        pass
                    continue
                conn = key.data
                selector.unregister(conn.sock)
                del parked[id(conn)]
                if _peer_closed(conn.sock):
                    self._close(conn)  # a client hanging up needs no worker (nor a slot)
                else:
                    self._submit(conn)
            with self._lock:
                incoming, self._incoming = self._incoming, []
                closing = self._closing
            for conn in incoming:
                try:
                    selector.register(conn.sock, selectors.EVENT_READ, conn)
                    parked[id(conn)] = conn
                except (ValueError, OSError):
                    self._close(conn)
            now = time.monotonic()
            for conn in list(parked.values()):
                if closing or now - conn.idle_since > self.config.keep_alive_timeout:
                    selector.unregister(conn.sock)
                    del parked[id(conn)]
                    self._close(conn)
            if closing:
                selector.close()
                return

    def _submit(self, conn: _Connection) -> None:
        with self._lock:
            if self._pending >= self.config.max_threads + self.config.max_queued:
                reject = True
            else:
                reject = False
                self._pending += 1
                spawn = self._idle_workers == 0 and self._workers < self.config.max_threads
                if spawn:
                    self._workers += 1
                elif self._idle_workers:
                    self._idle_workers -= 1  # reserved for this job
                self._jobs.put(conn)
        if reject:
            self._reject(conn)
        elif spawn:
            threading.Thread(target=self._work_loop, name="http-worker", daemon=True).start()

    def _work_loop(self) -> None:
        while True:
            try:
                conn = self._jobs.get(timeout=30)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._idle_workers -= 1
                        self._workers -= 1
                        return
                continue
            try:
                self._serve(conn)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle_workers += 1

    def _serve(self, conn: _Connection) -> None:
        """Answer the requests available on ``conn``, then park it again (or close it)."""
        keep = False
        try:
            conn.sock.settimeout(self.config.io_timeout)
            if conn.handler is None:
                conn.handler = ClickHouseHandler.attach(conn.sock, conn.address, self)
            handler = conn.handler
            while True:
                handler.close_connection = True
                handler.handle_one_request()
                if handler.close_connection:
                    break
                handler.wfile.flush()
                if not _has_buffered_input(handler.rfile, conn.sock, self.config.io_timeout):
                    keep = True
                    break
        except Exception:
            log.exception("connection from %s failed", conn.address)
        if keep:
            self._park(conn)
        else:
            self._close(conn)

    def _reject(self, conn: _Connection) -> None:
        body = (
            f"Code: 202. DB::Exception: Too many simultaneous queries. Maximum: {self.config.max_threads}. "
            f"(TOO_MANY_SIMULTANEOUS_QUERIES) (version {self.engine.version})\n"
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            f"X-ClickHouse-Exception-Code: 202\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            conn.sock.setblocking(False)
            conn.sock.send(head + body)
        except OSError:
            pass
        self._close(conn)

    def _close(self, conn: _Connection) -> None:
        if conn.handler is not None:
            try:
                conn.handler.finish()
            except Exception:
                pass
        self.shutdown_request(conn.sock)

    def threads_in_use(self) -> int:
        """Worker threads alive now (bounded by ``max_threads``)."""
        with self._lock:
            return self._workers

    def server_close(self) -> None:
        if not hasattr(self, "_dispatcher"):  # the bind failed inside TCPServer.__init__
            super().server_close()
            return
        with self._lock:
            self._closing = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._dispatcher.join(5)
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()


def _peer_closed(sock: socket.socket) -> bool:
    """True when a readable socket only says the client closed (or reset) it."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _has_buffered_input(rfile: Any, sock: socket.socket, timeout: float) -> bool:
    """True when the next request is already readable (pipelined, or read ahead into ``rfile``):
    it must be served now, as the selector would not see bytes already in the buffer."""
    sock.setblocking(False)
    try:
        return bool(rfile.peek(1))
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


class ClickHouseHandler(BaseHTTPRequestHandler):
    """One HTTP request in ClickHouse's protocol."""

    protocol_version = "HTTP/1.1"
    server: ClickHouseHTTPServer
    user = "default"
    reader = False

    @classmethod
    def attach(cls, sock: socket.socket, address: Any, server: ClickHouseHTTPServer) -> ClickHouseHandler:
        """A handler for a connection whose requests the server feeds one by one (the base class
        would serve the whole connection from its constructor, holding a thread while idle)."""
        handler = cls.__new__(cls)
        handler.request = sock
        handler.client_address = address
        handler.server = server
        handler.setup()
        return handler

    def end_headers(self) -> None:
        self.send_header("X-Newsetl-Endpoint", f"chdb {self.server.engine.version}")
        if not self.close_connection:
            self.send_header("Keep-Alive", f"timeout={int(self.server.config.keep_alive_timeout)}")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)

    # --- entry points ---
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._send_simple(204, b"")

    # --- plumbing ---
    def _send_simple(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, err: ClickHouseError, query_id: str) -> None:
        body = f"{err.message} (version {self.server.engine.version})\n".encode()
        self._send_simple(
            err.http_status,
            body,
            {
                "X-ClickHouse-Exception-Code": str(err.code),
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Server-Display-Name": self.server.config.display_name,
                "X-ClickHouse-Timezone": self.server.engine.timezone,
            },
        )

    def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                raw = base64.b64decode(auth[6:].strip()).decode()
            except Exception:
                raw = ":"
            b_user, _, b_password = raw.partition(":")
            user = user or b_user
            password = password if password is not None else b_password
        user = user or params.get("user") or "default"
        if password is None:
            password = params.get("password", "")
        return user, password

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query_id = str(uuid.uuid4())
        body: BodyReader | None = None
        try:
            path = url.path.rstrip("/") or "/"
            if path in ("/ping", "/replicas_status") or (path == "/" and not url.query and self.command == "GET"):
                if self.server.engine.aborted:
                    # the engine stopped for good: say so, so that status and supervisors see it
                    raise ClickHouseError.make(ABORTED, "ABORTED", "The embedded engine aborted; restart the endpoint")
                self._send_simple(200, b"Ok.\n")
                return
            if path not in ("/", INSERTS_PATH):
                raise ClickHouseError.make(
                    BAD_ARGUMENTS, "BAD_ARGUMENTS", f"There is no handle {url.path}. Use / or /ping"
                )
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id") or query_id
            user, password = self._credentials(params)
            self.user, self.reader = user, False
            cfg = self.server.config
            known = [(cfg.user, cfg.password, False)]
            if cfg.reader is not None:
                known.append((cfg.reader[0], cfg.reader[1], True))
            matched = [
                reader for name, secret, reader in known
                if user == name and hmac.compare_digest(password.encode(), secret.encode())
            ]
            if not matched:
                raise ClickHouseError.make(
                    AUTHENTICATION_FAILED,
                    "AUTHENTICATION_FAILED",
                    f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
                )
            self.reader = matched[0]
            if self.reader and path == INSERTS_PATH:
                raise ClickHouseError.make(ACCESS_DENIED, "ACCESS_DENIED", f"{user}: Not enough privileges")
            if path == INSERTS_PATH:
                self._send_simple(200, self.server.inserts.to_json())
                return
            length = self.headers.get("Content-Length")
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            body = BodyReader(
                self.rfile,
                int(length) if length else None,
                chunked,
                (self.headers.get("Content-Encoding") or "").strip().lower() or None,
                blocks=params.get("decompress") in ("1", "true"),
            )
            # as ClickHouse's HTTP handler: these request headers stand for the URL parameters
            for header, param in (("X-ClickHouse-Database", "database"), ("X-ClickHouse-Format", "default_format")):
                value = self.headers.get(header)
                if value:
                    params[param] = value
            Request(self, params, body, query_id).run()
        except ClickHouseError as err:
            if err.code == ABORTED and "fatal error" in err.message and not self.server.engine.aborted:
                self.server.engine.aborted = True
                log.error("the embedded engine aborted: every query will fail until the endpoint restarts")
            if body is not None:
                try:
                    body.drain()
                except Exception:
                    self.close_connection = True
            self._send_error(err, query_id)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug here must not kill the server thread silently
            log.exception("internal error")
            self.close_connection = True
            self._send_error(ClickHouseError.make(1001, "STD_EXCEPTION", f"{type(exc).__name__}: {exc}"), query_id)


_EXTERNAL_SUFFIXES = ("_structure", "_types", "_format")


def _read_form(content_type: str, body: BodyReader, params: dict[str, str]) -> dict[str, bytes]:
    """A multipart/form-data body: fields (``query``, ``param_*``, settings) into ``params``,
    file parts returned as external tables by name."""
    raw = bytearray()
    for chunk in body.chunks():
        raw += chunk
        if len(raw) > MAX_QUERY_BYTES:
            raise ClickHouseError.make(QUERY_IS_TOO_LARGE, "QUERY_IS_TOO_LARGE", "Request body is too large")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + bytes(raw)
    )
    if not message.is_multipart():
        raise ClickHouseError.make(BAD_ARGUMENTS, "BAD_ARGUMENTS", "Cannot read the multipart/form-data body")
    tables: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            tables[name] = data
        else:
            params[name] = data.decode("utf-8", errors="replace")
    return tables


def _split_types(types: str) -> list[str]:
    """``Int32, Array(Tuple(String, UInt8))`` → its types (commas inside parentheses kept)."""
    out: list[str] = []
    depth, current = 0, ""
    for char in types:
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        out.append(current.strip())
    return out


class Request:
    """Executes one query request on a chdb connection and writes the response."""

    def __init__(self, handler: ClickHouseHandler, params: dict[str, str], body: BodyReader, query_id: str) -> None:
        self.h = handler
        self.engine = handler.server.engine
        self.params = params
        self.body = body
        self.query_id = query_id
        self.settings: dict[str, str] = {}
        self.query_params: dict[str, str] = {}
        self._raw_sql: bytes | None = None
        #: external data (multipart/form-data file parts): table name → its data
        self.external: dict[str, bytes] = {}
        content_type = handler.headers.get("Content-Type") or ""
        if content_type.lower().startswith("multipart/form-data"):
            self.external = _read_form(content_type, body, params)
            self.body = BodyReader(None, 0, False, None)
        table_params = {f"{name}{suffix}" for name in self.external for suffix in _EXTERNAL_SUFFIXES}
        for key, value in params.items():
            if key in table_params:
                continue
            if key.startswith("param_"):
                self.query_params[key[6:]] = value
            elif key not in HTTP_PARAMS:
                if not _SETTING_NAME.match(key):
                    raise ClickHouseError.make(UNKNOWN_SETTING, "UNKNOWN_SETTING", f"Unknown setting '{key}'")
                self.settings[key] = value
        readonly = int(self.settings.pop("readonly", "0") or "0")
        if handler.command == "GET" and readonly == 0:
            readonly = 2
        if handler.reader:
            readonly = 1  # the dashboards' user, as deploy/clickhouse/users.d/newsetl_reader.xml
        self.readonly = readonly
        self.user = handler.user
        dialect = self.settings.get("dialect", "clickhouse").strip("'\"").lower()
        if dialect != "clickhouse":
            raise ClickHouseError.make(BAD_ARGUMENTS, "BAD_ARGUMENTS", "Only the clickhouse dialect is supported")
        self.compress = self.settings.get("enable_http_compression", "0") in ("1", "true")
        self.level = int(self.settings.get("http_zlib_compression_level", "3") or "3")
        for name in TRANSPORT_SETTINGS:
            self.settings.pop(name, None)

    # --- query text ---
    def _read_statement(self) -> tuple[str | None, InsertSplit | None, bytes]:
        """(whole query, or the insert split with the head bytes that hold its statement)."""
        chunks = self.body.chunks()
        head = bytearray()
        query = self.params.get("query")
        if query:
            head += query.encode() + b"\n"
        # look at up to 1 MiB of body to find an INSERT ... FORMAT statement
        for chunk in chunks:
            head += chunk
            if len(head) >= READ_CHUNK:
                break
        split = split_insert(bytes(head))
        if split is not None and split.fmt.lower() == "values" and self.query_params:
            split = None  # the streaming insert takes no parameters: run it whole with them
        if split is not None:
            self._rest = chunks
            return None, split, bytes(head)
        for chunk in chunks:
            head += chunk
            if len(head) > MAX_QUERY_BYTES:
                raise ClickHouseError.make(QUERY_IS_TOO_LARGE, "QUERY_IS_TOO_LARGE", "Query is too large")
        try:
            text = bytes(head).decode("utf-8").strip()
        except UnicodeDecodeError:
            # binary literals (a Parquet blob in a string): the engine gets the bytes; the checks
            # and the FORMAT lookup read the text with the undecodable bytes replaced
            text = bytes(head).decode("utf-8", errors="replace").strip()
            self._raw_sql = bytes(head).strip()
        if not text:
            raise ClickHouseError.make(SYNTAX_ERROR, "SYNTAX_ERROR", "Empty query")
        return text, None, b""

    # --- settings ---
    def _apply(self, conn: Any) -> None:
        """Apply database and settings to a fresh connection (it is closed after the request);
        readonly comes later, after the external tables (see run)."""
        try:
            if self.params.get("database"):
                conn.query(_setting_sql(_DATABASE, self.params["database"]))
            for name, value in self.settings.items():
                conn.query(_setting_sql(name, value))
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc

    def _load_external(self, conn: Any) -> None:
        """External data as ClickHouse's HTTP interface takes it: each file part is a temporary
        table of the request (``<name>_structure`` or ``<name>_types``, ``<name>_format``, default
        TabSeparated), created before readonly applies, as the server does."""
        for name, data in self.external.items():
            structure = self.params.get(f"{name}_structure")
            if not structure:
                types = _split_types(self.params.get(f"{name}_types") or "String")
                structure = ", ".join(f"_{i} {t}" for i, t in enumerate(types, 1))
            fmt = self.params.get(f"{name}_format") or "TabSeparated"
            if not _SETTING_NAME.match(fmt):
                raise ClickHouseError.make(UNKNOWN_FORMAT, "UNKNOWN_FORMAT", f"Unknown format {fmt}")
            table = quote_identifier(name)
            create = f"CREATE TEMPORARY TABLE {table} ({structure}) ENGINE = Memory"
            self._guard(conn, create)  # the structure comes from the request
            try:
                conn.query(f"DROP TEMPORARY TABLE IF EXISTS {table}")
                conn.query(create)
                if data:
                    inserter = conn.send_insert(f"INSERT INTO {table}", fmt)
                    inserter.append(data)
                    inserter.finish()
            except Exception as exc:
                raise ClickHouseError.from_engine(exc) from exc

    # --- execution ---
    def run(self) -> None:
        text, split, head = self._read_statement()
        session_id = self.params.get("session_id")
        sess = None
        timeout = float(self.params.get("session_timeout") or 60)
        check = self.params.get("session_check") in ("1", "true")
        key = f"{self.user}\0{session_id}"  # as in ClickHouse, a session belongs to its user
        pooled: _Session | None = None  # a pooled connection for a request without a session
        reusable = False
        if session_id and not self.readonly:
            sess = self.engine.acquire_session(key, timeout, check)
            conn = sess.conn
        elif not session_id and not self.readonly and not self.external:
            pooled = self.engine.acquire_pooled()
            conn = pooled.conn
        else:
            conn = self.engine.connect()
        try:
            if sess is None and session_id:
                # a readonly request (GET, the reader user) sees the session's state on a
                # connection of its own, so that readonly never sticks to the session
                for statement in self.engine.session_state(key, timeout, check):
                    try:
                        conn.query(statement)
                    except Exception as exc:
                        raise ClickHouseError.from_engine(exc) from exc
            if pooled is not None:
                try:
                    pooled.overlay(self._wanted())
                except Exception as exc:
                    raise ClickHouseError.from_engine(exc) from exc
            elif sess is None:
                self._apply(conn)
                self._load_external(conn)
                if self.readonly:
                    try:
                        conn.query(f"SET readonly = {self.readonly}")
                    except Exception as exc:
                        raise ClickHouseError.from_engine(exc) from exc
            else:
                try:
                    sess.overlay(self._wanted())
                except Exception as exc:
                    sess.reset()
                    raise ClickHouseError.from_engine(exc) from exc
                self._load_external(conn)
            if split is not None:
                self._guard(conn, f"{split.statement} FORMAT {split.fmt}")
                self._insert(conn, split, head)
                reusable = True
            else:
                assert text is not None
                canonical = self._guard(conn, text)
                if sess is not None and _SESSION_STATEMENT.match(canonical):
                    # SET/USE change the session's own values: run them on those, as ClickHouse does
                    sess.reset()
                has_result = bool(_RESULT_STATEMENT.match(canonical))
                self._query(conn, text, streamable=bool(_STREAMABLE.match(canonical)), has_result=has_result)
                # a query leaves the connection as it found it; SET, USE, temporary tables do not
                reusable = has_result and "TEMPORARY" not in canonical.upper()
        finally:
            if sess is not None:
                for name in self.external:  # they belong to the request, not to the session
                    try:
                        conn.query(f"DROP TEMPORARY TABLE IF EXISTS {quote_identifier(name)}")
                    except Exception:
                        log.warning("could not drop the external table %s", name)
                self.engine.release_session(sess)
            elif pooled is not None:
                self.engine.release_pooled(pooled, reusable)
            else:
                conn.close()

    def _wanted(self) -> dict[str, str]:
        """The URL settings and database a request lays over a session's or pooled connection's own."""
        wanted = dict(self.settings)
        if self.params.get("database"):
            wanted[_DATABASE] = self.params["database"]
        return wanted

    def _guard(self, conn: Any, sql: str) -> str:
        """Refuse what a ClickHouse server refuses (see :func:`check_query`), on the engine's own
        rendering of the query: a query the engine cannot render is not run."""
        canonical = self.engine.renderings.get(sql)
        if canonical is None:
            try:
                rendered = conn.query(f"SELECT formatQuerySingleLine({quote_literal(sql)})", "TabSeparatedRaw")
            except Exception as exc:
                raise canonical_error(exc) from exc
            canonical = rendered.bytes().decode("utf-8", errors="replace").rstrip("\n")
            self.engine.renderings.put(sql, canonical)
        check_query(canonical, self.readonly, self.engine.user_files, self.user)
        return canonical

    def _headers(self, fmt: str | None, summary: dict[str, int]) -> dict[str, str]:
        headers = {
            "X-ClickHouse-Query-Id": self.query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "X-ClickHouse-Server-Display-Name": self.h.server.config.display_name,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}, separators=(",", ":")),
        }
        if self.params.get("send_progress_in_http_headers") in ("1", "true"):
            # ClickHouse repeats this header while a query runs; here the query has run (or
            # started streaming) before the headers go, so one is all there is to tell
            headers["X-ClickHouse-Progress"] = headers["X-ClickHouse-Summary"]
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
            headers["Content-Type"] = _content_type(fmt)
        if self.params.get("session_id"):
            headers["X-ClickHouse-Session-Id"] = self.params["session_id"]
        return headers

    def _insert(self, conn: Any, split: InsertSplit, head: bytes) -> None:
        started = time.monotonic_ns()
        try:
            before = error_counters(conn)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc
        try:
            inserter = conn.send_insert(split.statement, split.fmt)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc
        try:
            pending = bytearray(head[split.data_offset :])
            for chunk in self._rest:
                pending += chunk
                if len(pending) >= READ_CHUNK:
                    inserter.append(bytes(pending))
                    pending.clear()
            if pending:
                inserter.append(bytes(pending))
            result = inserter.finish()
        except ClickHouseError:
            inserter.cancel()
            raise
        except Exception as exc:
            try:
                inserter.cancel()
            except Exception:
                pass
            raise ClickHouseError.from_engine(exc) from exc
        try:
            allowed = PARSE_CODES if any(
                self.settings.get(name, "0") not in ("", "0", "0.0")
                for name in ("input_format_allow_errors_num", "input_format_allow_errors_ratio")
            ) else frozenset()
            failure = insert_failure(before.values, errors_since(conn, before), allowed)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc
        if failure is not None:
            raise failure
        self.h.server.inserts.count(split.statement, result.rows_written)
        summary = _summary(written_rows=result.rows_written, written_bytes=result.bytes_written, started=started)
        headers = self._headers(None, summary)
        self.h.send_response(200)
        for key, value in headers.items():
            self.h.send_header(key, value)
        self.h.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.h.send_header("Content-Length", "0")
        self.h.end_headers()

    def _query(self, conn: Any, sql: str, streamable: bool = True, has_result: bool = True) -> None:
        """Run a statement and answer with its result (``has_result``: a SELECT, SHOW, DESCRIBE…;
        other statements answer no X-ClickHouse-Format, as ClickHouse, which clients read as
        "no result, only a summary")."""
        executed: str | bytes = self._raw_sql if self._raw_sql is not None else sql
        started = time.monotonic_ns()
        default_format = self.params.get("default_format") or "TabSeparated"
        fmt = output_format(sql, default_format)
        kind = formats.kind(fmt)
        params = self.query_params or None
        chunks: Generator[bytes, None, None] | None = None
        whole: bytes | None = None
        summary = _summary(started=started)
        try:
            stream = None
            # only SELECTs stream; trying others raises an engine error, which would count in
            # system.errors and blur the verification of concurrent inserts
            if streamable and kind is not formats.Kind.WHOLE:
                try:
                    stream = conn.send_query(executed, default_format, params=params)
                except Exception as exc:
                    if "Streaming query is not supported" not in str(exc):
                        raise
            if stream is not None:
                first = _next_chunk(stream)
                if first is None:
                    whole = self._empty_result(conn, sql, default_format, kind)
                else:
                    chunks = _joined(stream, first, formats.Reframer(fmt))
            else:
                result = conn.query(executed, default_format, params=params)
                whole = result.bytes()
                summary = _summary(
                    read_rows=result.rows_read(),
                    read_bytes=result.bytes_read(),
                    written_rows=result.rows_written(),
                    written_bytes=result.bytes_written(),
                    started=started,
                )
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc
        encoder = self._encoder()
        headers = self._headers(fmt if has_result else None, summary)
        if encoder.encoding:
            headers["Content-Encoding"] = encoder.encoding
        if whole is not None:
            self._send_whole(headers, encoder.whole(whole))
            return
        assert chunks is not None
        wait = any(self.params.get(name) in ("1", "true") for name in ("wait_end_of_query", "http_wait_end_of_query"))
        try:
            (self._send_spooled if wait else self._send_chunked)(headers, encoder, chunks)
        finally:
            # a client gone mid-result: the stream is cancelled here, before run() closes the
            # connection (closing a chdb connection under a live stream aborts the engine)
            chunks.close()

    def _empty_result(self, conn: Any, sql: str, default_format: str, kind: formats.Kind) -> bytes:
        """What ClickHouse sends for a result without rows: nothing for a format without a header
        (Native included: a server sends no block either), else the header or metadata, from the
        query run again whole (for an empty result that costs little)."""
        if kind is formats.Kind.CONCATENATE:
            return b""
        return conn.query(sql, default_format, params=self.query_params or None).bytes()

    def _encoder(self) -> _Encoder:
        encoding = choose_encoding(self.h.headers.get("Accept-Encoding")) if self.compress else None
        codecs: list[Codec] = []
        if self.params.get("compress") in ("1", "true"):
            codecs.append(BlockCompressor())
        if encoding:
            codecs.append(make_compressor(encoding, self.level))
        return _Encoder(encoding, _chain(codecs))

    def _start(self, headers: dict[str, str]) -> None:
        self.h.send_response(200)
        for key, value in headers.items():
            self.h.send_header(key, value)

    def _send_whole(self, headers: dict[str, str], payload: bytes) -> None:
        self._start(headers)
        self.h.send_header("Content-Length", str(len(payload)))
        self.h.end_headers()
        self.h.wfile.write(payload)

    def _send_spooled(self, headers: dict[str, str], encoder: _Encoder, chunks: Generator[bytes, None, None]) -> None:
        """wait_end_of_query=1: the whole result first (memory, then a temporary file, as
        ClickHouse buffers it), so that an error in the middle is an error status, not a cut body."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
            try:
                for chunk in chunks:
                    spool.write(encoder.feed(chunk))
            except ClickHouseError:
                raise
            except Exception as exc:
                raise ClickHouseError.from_engine(exc) from exc
            spool.write(encoder.flush())
            size = spool.tell()
            spool.seek(0)
            self._start(headers)
            self.h.send_header("Content-Length", str(size))
            self.h.end_headers()
            while piece := spool.read(STREAM_FLUSH_BYTES):
                self.h.wfile.write(piece)

    def _send_chunked(self, headers: dict[str, str], encoder: _Encoder, chunks: Generator[bytes, None, None]) -> None:
        self._start(headers)
        self.h.send_header("Transfer-Encoding", "chunked")
        self.h.end_headers()
        write = self.h.wfile.write

        def send(data: bytes) -> None:
            if data:
                write(b"%x\r\n%s\r\n" % (len(data), data))

        buffer = bytearray()
        try:
            for chunk in chunks:
                buffer += chunk
                if len(buffer) >= STREAM_FLUSH_BYTES:
                    send(encoder.feed(bytes(buffer)))
                    buffer.clear()
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:
            # as ClickHouse does: the error text goes into the body, the response stays incomplete
            err = exc if isinstance(exc, ClickHouseError) else ClickHouseError.from_engine(exc)
            buffer += f"\n{err.message} (version {self.engine.version})\n".encode()
            send(encoder.feed(bytes(buffer)) + encoder.flush())
            self.h.close_connection = True
            return
        send(encoder.feed(bytes(buffer)) + encoder.flush())
        write(b"0\r\n\r\n")


@dataclass
class _Encoder:
    """The response body's encodings: ClickHouse's compressed blocks (compress=1), then the HTTP
    Content-Encoding."""

    encoding: str | None
    codec: Codec | None

    def feed(self, data: bytes) -> bytes:
        return self.codec.feed(data) if self.codec else data

    def flush(self) -> bytes:
        return self.codec.flush() if self.codec else b""

    def whole(self, data: bytes) -> bytes:
        return self.feed(data) + self.flush() if self.codec else data


def _joined(stream: Any, first: bytes, reframer: formats.Reframer) -> Generator[bytes, None, None]:
    """The chunks of a streamed result as one document; the stream is cancelled if not read to
    its end (client gone, error)."""
    done = False
    try:
        yield reframer.feed(first)
        while (chunk := _next_chunk(stream)) is not None:
            yield reframer.feed(chunk)
        done = True
    finally:
        if not done:
            try:
                stream.cancel()
            except Exception:
                pass


def _next_chunk(stream: Any) -> bytes | None:
    """The next chunk of a chdb streaming result, None at its end.

    chdb's ``StreamingResult.fetch`` ends the stream on an empty chunk without looking at its
    error flag, which can turn a failure into a silently truncated result; read it here instead.
    """
    conn, handle = getattr(stream, "_conn", None), getattr(stream, "_result", None)
    if conn is None or handle is None or not hasattr(conn, "streaming_fetch_result"):
        chunk = stream.fetch()  # a chdb without the internals used below
        return None if chunk is None else chunk.bytes()
    raw = conn.streaming_fetch_result(handle)
    if raw is None:
        return None
    if raw.has_error():
        raise RuntimeError(raw.error_message())
    if raw.rows_read() == 0:
        stream._exhausted = True
        return None
    return raw.bytes()


def _summary(
    read_rows: int = 0,
    read_bytes: int = 0,
    written_rows: int = 0,
    written_bytes: int = 0,
    started: int = 0,
) -> dict[str, int]:
    return {
        "read_rows": read_rows,
        "read_bytes": read_bytes,
        "written_rows": written_rows,
        "written_bytes": written_bytes,
        "total_rows_to_read": 0,
        "result_rows": 0,
        "result_bytes": 0,
        "elapsed_ns": max(0, time.monotonic_ns() - started),
    }


def _content_type(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith(("tabseparated", "tsv", "csv", "pretty", "values", "vertical", "markdown")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


# --- process entry --------------------------------------------------------------------------------


def serve(host: str, port: int, path: Path, config: ServerConfig, ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or ``server.shutdown()``)."""
    engine = Engine(path)
    # relative paths of file() and the File engine are relative to the working directory in chdb
    # (clickhouse-local); a server's are relative to user_files_path
    os.chdir(engine.user_files)
    server = ClickHouseHTTPServer((host, port), engine, config)
    stop = threading.Event()

    def expire_loop() -> None:
        while not stop.wait(5):
            engine.expire_sessions()

    threading.Thread(target=expire_loop, name="session-expiry", daemon=True).start()

    def on_signal(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    log.warning("chdb %s serving ClickHouse HTTP on http://%s:%d (data %s)", engine.version, host, port, path)
    if ready:
        ready()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        server.server_close()
        engine.close()
        log.warning("stopped")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m streams.local.clickhouse_http --host --port --path``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--path", type=Path, default=Path(".newsetl/clickhouse"))
    parser.add_argument("--user", default="default")
    parser.add_argument(
        "--password-file", type=Path, default=None, help="file holding the password (not on the command line)"
    )
    parser.add_argument("--display-name", default=socket.gethostname())
    parser.add_argument(
        "--reader-user", default=None, help="a read-only user (every request readonly=1), e.g. for dashboards"
    )
    parser.add_argument("--reader-password-file", type=Path, default=None, help="file holding the reader's password")
    parser.add_argument("--max-threads", type=int, default=64, help="requests executed at once (default 64)")
    parser.add_argument("--max-queued", type=int, default=256, help="requests waiting beyond that before 503")
    parser.add_argument(
        "--keep-alive-timeout", type=float, default=10.0, help="seconds an idle connection is kept (default 10)"
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    password = args.password_file.read_text().strip("\n") if args.password_file else ""
    reader = None
    if args.reader_user:
        secret = args.reader_password_file.read_text().strip("\n") if args.reader_password_file else ""
        reader = (args.reader_user, secret)
    config = ServerConfig(
        args.user,
        password,
        args.display_name,
        reader=reader,
        max_threads=max(1, args.max_threads),
        max_queued=max(0, args.max_queued),
        keep_alive_timeout=max(0.1, args.keep_alive_timeout),
    )
    try:
        serve(args.host, args.port, args.path, config)
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
