"""ClickHouse's compressed block framing (compress=1 / decompress=1)."""

from __future__ import annotations

import struct

import pytest

from streams.local.blocks import (
    LZ4,
    NONE,
    ZSTD,
    BlockCompressor,
    BlockDecompressor,
    BlockError,
    checksum,
    compress_block,
)


def test_a_block_is_checksum_method_sizes_payload():
    data = "城关镇脱贫户 1,203 户".encode() * 50
    block = compress_block(data, LZ4)
    method, size, raw = struct.unpack_from("<BII", block, 16)
    assert (method, raw) == (LZ4, len(data))
    assert size == len(block) - 16  # the sizes count the 9 header bytes, not the checksum
    assert block[:16] == checksum(block[16:])


def test_uncompressed_block_carries_the_data_verbatim():
    block = compress_block(b"abc", NONE)
    assert block[16:] == bytes([NONE]) + struct.pack("<II", 12, 3) + b"abc"


@pytest.mark.parametrize("method", [LZ4, ZSTD, NONE])
def test_round_trip_fed_one_byte_at_a_time(method):
    data = bytes(range(256)) * 40
    stream = compress_block(data[:5000], method) + compress_block(data[5000:], method)
    dec = BlockDecompressor()
    out = b"".join(dec.feed(stream[i : i + 1]) for i in range(len(stream))) + dec.flush()
    assert out == data


def test_compressor_frames_in_blocks_of_at_most_block_bytes():
    comp = BlockCompressor(block_bytes=1000)
    stream = comp.feed(b"x" * 2500) + comp.flush()
    dec = BlockDecompressor()
    sizes = []
    pos = 0
    while pos < len(stream):
        _, size, raw = struct.unpack_from("<BII", stream, pos + 16)
        sizes.append(raw)
        pos += 16 + size
    assert sizes == [1000, 1000, 500]
    assert dec.feed(stream) == b"x" * 2500


def test_compressor_without_data_writes_nothing():
    assert BlockCompressor().flush() == b""


def test_a_flipped_byte_fails_the_checksum():
    block = bytearray(compress_block(b"hello world" * 10))
    block[-1] ^= 0xFF
    with pytest.raises(BlockError) as err:
        BlockDecompressor().feed(bytes(block))
    assert err.value.code == 40


def test_unknown_method_and_truncated_stream_are_errors():
    body = bytes([0x55]) + struct.pack("<II", 12, 3) + b"abc"
    with pytest.raises(BlockError) as err:
        BlockDecompressor().feed(checksum(body) + body)
    assert err.value.code == 89
    dec = BlockDecompressor()
    assert dec.feed(compress_block(b"abcdef")[:-2]) == b""
    with pytest.raises(BlockError) as err:
        dec.flush()
    assert err.value.code == 33
