"""ClickHouse's own compressed block framing, as its HTTP interface uses it for ``compress=1``
(results) and ``decompress=1`` (request bodies).

A block is ``checksum (16 bytes) | method (1) | compressed size (4, LE) | uncompressed size (4, LE) |
payload``. The sizes count the 9 header bytes; the checksum is CityHash128 (version 1.0.2, the one
ClickHouse bundles, from the ``clickhouse-cityhash`` package) of everything after it, written as two
little-endian 64-bit halves. Methods: 0x82 LZ4 (a raw LZ4 block), 0x90 ZSTD, 0x02 none.
"""

from __future__ import annotations

import struct

import lz4.block
import zstandard
from clickhouse_cityhash.cityhash import CityHash128

LZ4 = 0x82
ZSTD = 0x90
NONE = 0x02
HEADER = 9
CHECKSUM = 16
#: ClickHouse's max_compress_block_size: a result is framed in blocks of at most this much data
BLOCK_BYTES = 1 << 20
#: a block larger than this (compressed or not) is refused rather than buffered
MAX_BLOCK_BYTES = 1 << 30
_MASK = (1 << 64) - 1


class BlockError(ValueError):
    """A compressed block that cannot be read; ``code`` is ClickHouse's error code for it."""

    def __init__(self, code: int, name: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.name = name


def checksum(data: bytes) -> bytes:
    """The 16 checksum bytes ClickHouse writes before a block (``data`` = header + payload)."""
    value = CityHash128(data)
    return struct.pack("<QQ", (value >> 64) & _MASK, value & _MASK)


def compress_block(data: bytes, method: int = LZ4) -> bytes:
    """One framed block holding ``data``."""
    if method == LZ4:
        payload = lz4.block.compress(data, store_size=False)
    elif method == ZSTD:
        payload = zstandard.ZstdCompressor(level=1).compress(data)
    elif method == NONE:
        payload = data
    else:
        raise ValueError(f"unknown compression method {method:#x}")
    body = struct.pack("<BII", method, HEADER + len(payload), len(data)) + payload
    return checksum(body) + body


class BlockCompressor:
    """A streaming writer of framed blocks (the ``feed``/``flush`` codec the endpoint chains)."""

    def __init__(self, method: int = LZ4, block_bytes: int = BLOCK_BYTES) -> None:
        self._method = method
        self._block = block_bytes
        self._pending = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        out = []
        while len(self._pending) >= self._block:
            out.append(compress_block(bytes(self._pending[: self._block]), self._method))
            del self._pending[: self._block]
        return b"".join(out)

    def flush(self) -> bytes:
        if not self._pending:
            return b""
        out = compress_block(bytes(self._pending), self._method)
        self._pending.clear()
        return out


class BlockDecompressor:
    """A streaming reader of framed blocks: feed any slices of the stream, get the data back."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        out = []
        while len(self._pending) >= CHECKSUM + HEADER:
            method, size, raw_size = struct.unpack_from("<BII", self._pending, CHECKSUM)
            if size < HEADER or size > MAX_BLOCK_BYTES or raw_size > MAX_BLOCK_BYTES:
                raise BlockError(271, "CANNOT_DECOMPRESS", f"Too large size of compressed block: {size}")
            if len(self._pending) < CHECKSUM + size:
                break
            body = bytes(self._pending[CHECKSUM : CHECKSUM + size])
            expected = bytes(self._pending[:CHECKSUM])
            del self._pending[: CHECKSUM + size]
            if checksum(body) != expected:
                raise BlockError(40, "CHECKSUM_DOESNT_MATCH", "Checksum doesn't match: corrupted data")
            out.append(_decompress(method, body[HEADER:], raw_size))
        return b"".join(out)

    def flush(self) -> bytes:
        if self._pending:
            raise BlockError(
                33, "CANNOT_READ_ALL_DATA", f"Cannot read all data: {len(self._pending)} bytes of a block left"
            )
        return b""


def _decompress(method: int, payload: bytes, raw_size: int) -> bytes:
    try:
        if method == LZ4:
            data = lz4.block.decompress(payload, uncompressed_size=raw_size)
        elif method == ZSTD:
            data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_size)
        elif method == NONE:
            data = payload
        else:
            raise BlockError(89, "UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method: {method:#x}")
    except BlockError:
        raise
    except Exception as exc:
        raise BlockError(271, "CANNOT_DECOMPRESS", f"Cannot decompress block: {exc}") from exc
    if len(data) != raw_size:
        raise BlockError(271, "CANNOT_DECOMPRESS", f"Block decompressed to {len(data)} bytes, not {raw_size}")
    return data
