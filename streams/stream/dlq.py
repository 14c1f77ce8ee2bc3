"""Building ``news.dlq`` records: error kind, detail, source position and the original payload."""

from __future__ import annotations

import base64

from schemas.models import DlqRecord


def payload_text(payload: bytes | None) -> tuple[str, str]:
    """The payload as UTF-8 text when it is valid UTF-8, else base64; with the encoding used."""
    if payload is None:
        return "", "text"
    try:
        return payload.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"


def dlq_record(
    kind: str,
    detail: str,
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    payload: bytes | None,
    doc_id: str | None = None,
) -> DlqRecord:
    text, encoding = payload_text(payload)
    return DlqRecord(
        error=kind,
        detail=detail[:2000],
        topic=topic,
        partition=partition,
        offset=offset,
        payload=text,
        payload_encoding=encoding,
        doc_id=doc_id,
    )


def dlq_key(doc_id: str | None, key: bytes | None) -> bytes | None:
    """Key of a DLQ message: the doc_id when known, else the source key (may be null)."""
    if doc_id:
        return doc_id.encode("utf-8")
    return key
