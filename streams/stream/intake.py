"""Turning the bytes of a ``news.raw`` message into a valid RawDocument, or a typed error.

Every failure has a stable ``kind`` (the DLQ's ``error`` field); nothing raises anything else.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from schemas.checks import TextDecodeError, decode_utf8, describe_validation_error, length_problem
from schemas.models import RawDocument

# DLQ error kinds, one per way a message can be refused or fail.
EMPTY_MESSAGE = "empty_message"
UNDECODABLE_BYTES = "undecodable_bytes"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
SCHEMA_VIOLATION = "schema_violation"
EMPTY_TEXT = "empty_text"
TEXT_TOO_LONG = "text_too_long"
ENRICH_ERROR = "enrich_error"
TOO_MANY_FIGURES = "too_many_figures"
POISON_MESSAGE = "poison_message"
#: Kinds decided by the analysis (code, rules, limits), not by the message alone: a replay with
#: another pipeline may meet them anew, so it always records them.
ANALYSIS_KINDS = frozenset({ENRICH_ERROR, TOO_MANY_FIGURES})
SINK_REJECTED = "sink_rejected"
OUTPUT_REJECTED = "output_rejected"
INVALID_ENRICHED = "invalid_enriched"


class IntakeError(Exception):
    """A message that cannot become a RawDocument; ``kind`` is one of the kinds above."""

    def __init__(self, kind: str, detail: str, doc_id: str | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.doc_id = doc_id


def _schema_error(exc: ValidationError) -> IntakeError:
    first = exc.errors()[0]
    if first.get("loc") == ("text",) and "empty" in first.get("msg", ""):
        return IntakeError(EMPTY_TEXT, "text is empty or only whitespace")
    return IntakeError(SCHEMA_VIOLATION, describe_validation_error(exc))


def parse_raw(payload: bytes | None, max_doc_chars: int) -> RawDocument:
    """Validate one ``news.raw`` value; raises IntakeError with the DLQ kind."""
    if not payload:
        raise IntakeError(EMPTY_MESSAGE, "message value is empty or null")
    try:
        text = decode_utf8(payload)
    except TextDecodeError as exc:
        raise IntakeError(UNDECODABLE_BYTES, f"value is {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntakeError(INVALID_JSON, f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise IntakeError(INVALID_JSON, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise IntakeError(NOT_AN_OBJECT, f"expected a JSON object, got {type(data).__name__}")
    too_long = length_problem(data["text"], max_doc_chars) if isinstance(data.get("text"), str) else None
    if too_long:
        raise IntakeError(TEXT_TOO_LONG, too_long)
    try:
        return RawDocument.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(exc) from None
