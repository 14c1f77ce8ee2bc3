"""Which output formats stream, and how streamed chunks are joined."""

from __future__ import annotations

import pytest

from streams.local import formats
from streams.local.formats import Kind, Reframer


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("Native", Kind.CONCATENATE),
        ("TabSeparated", Kind.CONCATENATE),
        ("jsoneachrow", Kind.CONCATENATE),
        ("CSVWithNames", Kind.HEADER),
        ("TSVWithNamesAndTypes", Kind.HEADER),
        ("RowBinaryWithNamesAndTypes", Kind.HEADER),
        ("JSONCompactEachRowWithNames", Kind.HEADER),
        ("JSON", Kind.WHOLE),
        ("Arrow", Kind.WHOLE),
        ("ArrowStream", Kind.WHOLE),
        ("Parquet", Kind.WHOLE),
        ("Values", Kind.WHOLE),
        ("CustomSeparatedWithNames", Kind.WHOLE),
        ("PrettyCompact", Kind.WHOLE),
    ],
)
def test_kind(fmt, expected):
    assert formats.kind(fmt) is expected


def test_text_header_is_sent_once():
    r = Reframer("TSVWithNamesAndTypes")
    head = b"\xe4\xb9\xa1\tn\nString\tUInt8\n"
    assert r.feed(head + b"a\t1\n") == head + b"a\t1\n"
    assert r.feed(head + b"b\t2\n") == b"b\t2\n"


def test_csv_header_may_hold_a_quoted_newline():
    head = b'"line\none","x"\n'
    assert formats.header_length("CSVWithNames", head + b"1,2\n") == len(head)
    r = Reframer("CSVWithNames")
    r.feed(head + b"1,2\n")
    assert r.feed(head + b"3,4\n") == b"3,4\n"


def test_row_binary_header_is_parsed():
    head = b"\x02\x06number\x01s\x06UInt64\x06String"
    data = b"\x01" + b"\x00" * 7 + b"\x011"
    assert formats.header_length("RowBinaryWithNamesAndTypes", head + data) == len(head)
    assert formats.header_length("RowBinaryWithNames", b"\x01\x01a" + data) == 3
    r = Reframer("RowBinaryWithNamesAndTypes")
    r.feed(head + data)
    assert r.feed(head + data) == data


def test_a_chunk_without_the_header_is_an_error_not_a_wrong_result():
    r = Reframer("TSVWithNames")
    r.feed(b"a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="does not start with its header"):
        r.feed(b"3\t4\n")


def test_concatenable_chunks_pass_unchanged():
    r = Reframer("CSV")
    assert [r.feed(b"1,2\n"), r.feed(b"3,4\n")] == [b"1,2\n", b"3,4\n"]
