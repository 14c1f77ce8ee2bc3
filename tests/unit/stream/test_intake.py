"""Each way a news.raw message can be bad maps to its own DLQ kind."""

import json

import pytest

from streams.stream import intake

GOOD = {"doc_id": "d1", "source": "test", "text": "全县脱贫3601户8055人。"}


def encoded(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (None, intake.EMPTY_MESSAGE),
        (b"", intake.EMPTY_MESSAGE),
        (b"\xff\xfe\x00garbage", intake.UNDECODABLE_BYTES),
        (b'{"doc_id": "x", "text": ', intake.INVALID_JSON),
        (b"[1, 2, 3]", intake.NOT_AN_OBJECT),
        (b'"just a string"', intake.NOT_AN_OBJECT),
        (encoded({"doc_id": "x", "source": "s"}), intake.SCHEMA_VIOLATION),
        (encoded({**GOOD, "published_at": "not a date"}), intake.SCHEMA_VIOLATION),
        (encoded({**GOOD, "unexpected": 1}), intake.SCHEMA_VIOLATION),
        (encoded({**GOOD, "doc_id": ""}), intake.SCHEMA_VIOLATION),
        (encoded({**GOOD, "text": ""}), intake.EMPTY_TEXT),
        (encoded({**GOOD, "text": " \n\u3000 "}), intake.EMPTY_TEXT),
        (encoded({**GOOD, "text": "字" * 101}), intake.TEXT_TOO_LONG),
    ],
)
def test_bad_payload_kind(payload, kind):
    with pytest.raises(intake.IntakeError) as caught:
        intake.parse_raw(payload, max_doc_chars=100)
    assert caught.value.kind == kind
    assert caught.value.detail


def test_good_payload_parses():
    doc = intake.parse_raw(encoded(GOOD), max_doc_chars=100)
    assert doc.doc_id == "d1"
    assert doc.text == GOOD["text"]
    assert doc.ingested_at.tzinfo is not None


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "JSON nested too deeply"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "JSON nested too deeply"),
        (encoded({**GOOD, "published_at": "0001-01-01T00:00:00Z"}),
         "published_at: must be between 1970 and 2100, got year 1"),
        (encoded({**GOOD, "published_at": "9999-12-31T00:00:00Z"}),
         "published_at: must be between 1970 and 2100, got year 9999"),
        (encoded({**GOOD, "ingested_at": "1969-12-31T23:59:59Z"}),
         "ingested_at: must be between 1970 and 2100, got year 1969"),
    ],
)
def test_hostile_payloads_are_refused_at_intake_with_one_line(payload, detail):
    with pytest.raises(intake.IntakeError) as caught:
        intake.parse_raw(payload, max_doc_chars=100)
    assert (caught.value.kind, caught.value.detail) == (
        intake.INVALID_JSON if "JSON" in detail else intake.SCHEMA_VIOLATION, detail)


def test_the_edges_of_the_date_range_are_accepted():
    for moment in ("1970-01-01T00:00:00Z", "2100-12-31T23:59:59Z"):
        assert intake.parse_raw(encoded({**GOOD, "published_at": moment}), max_doc_chars=100).published_at.year in (1970, 2100)
