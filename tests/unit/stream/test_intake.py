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
