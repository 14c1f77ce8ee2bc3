"""Pure mapping from an EnrichedDocument to rows of the ClickHouse tables (no I/O).

A document row also carries the near-duplicate fingerprint of its normalized text
(:mod:`streams.pipeline.fingerprint`): derived from the text alone, so a replay writes the same.
It is made here, in the worker's process, not in its analysis process: the analysis is the
stream's bottleneck (measured), the worker's event loop has time to spare.

Column lists are the single place that ties the pydantic models to the DDL in schemas/clickhouse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.models import DlqRecord, EnrichedDocument
from streams.pipeline.fingerprint import fingerprint
from streams.stream.dlq import dlq_record

DOCUMENT_COLUMNS = (
    "doc_id", "source", "url", "title", "published_at", "ingested_at", "processed_at",
    "pipeline_version", "script", "text", "char_count", "token_count", "paragraph_count",
    "metric_count", "topics", "topic_scores", "regions", "keywords", "kafka_partition", "kafka_offset",
    "region_codes", "canonical_url", "minhash",
)
PARAGRAPH_COLUMNS = (
    "doc_id", "paragraph_index", "text", "topics", "scores", "evidence", "published_at",
    "pipeline_version", "processed_at",
)
METRIC_COLUMNS = (
    "doc_id", "paragraph_index", "sentence", "span", "char_start", "char_end", "value", "value_low",
    "value_high", "unit", "qualifier", "subject", "metric", "topic", "region", "year", "published_at",
    "pipeline_version", "processed_at", "ref_year", "year_basis", "region_code", "flags",
)
DLQ_COLUMNS = (
    "error", "detail", "source_topic", "source_partition", "source_offset", "doc_id", "payload",
    "payload_encoding", "failed_at", "dlq_partition", "dlq_offset",
)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "metrics": METRIC_COLUMNS,
    "paragraphs": PARAGRAPH_COLUMNS,
    "documents": DOCUMENT_COLUMNS,
}
# Children first: a document row makes its run visible in the *_latest views, so it goes last.
WRITE_ORDER = ("metrics", "paragraphs", "documents")


def _naive_utc(moment: datetime | None) -> datetime | None:
    """Columns are DateTime64(…, 'UTC'); aware datetimes are converted, naive ones taken as UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def document_row(doc: EnrichedDocument) -> list[Any]:
    raw, result = doc.raw, doc.analysis
    return [
        raw.doc_id, raw.source, raw.url, raw.title or result.doc.title or "",
        _naive_utc(raw.published_at), _naive_utc(raw.ingested_at), _naive_utc(doc.processed_at),
        doc.pipeline_version, result.doc.script, result.text, len(result.text), result.token_count,
        len(result.paragraphs), len(result.metrics), list(result.doc.topics),
        dict(result.doc.topic_scores), list(result.doc.regions), list(result.keywords),
        doc.kafka_partition, doc.kafka_offset, list(result.doc.region_codes), raw.canonical_url,
        fingerprint(result.text).minhash,
    ]


def paragraph_rows(doc: EnrichedDocument) -> list[list[Any]]:
    published, processed = _naive_utc(doc.raw.published_at), _naive_utc(doc.processed_at)
    return [
        [doc.raw.doc_id, p.index, p.text, list(p.topics), dict(p.scores), dict(p.evidence),
         published, doc.pipeline_version, processed]
        for p in doc.analysis.paragraphs
    ]


def metric_rows(doc: EnrichedDocument) -> list[list[Any]]:
    published, processed = _naive_utc(doc.raw.published_at), _naive_utc(doc.processed_at)
    return [
        [doc.raw.doc_id, m.paragraph_index, m.sentence, m.span, m.char_start, m.char_end, m.value,
         m.value_low, m.value_high, m.unit, m.qualifier, m.subject, m.metric, m.topic, m.region,
         m.year, published, doc.pipeline_version, processed, m.ref_year, m.year_basis,
         m.region_code, list(m.flags)]
        for m in doc.analysis.metrics
    ]


def table_rows(docs: list[EnrichedDocument]) -> dict[str, list[list[Any]]]:
    """Rows per table for a batch of documents."""
    return {
        "metrics": [row for doc in docs for row in metric_rows(doc)],
        "paragraphs": [row for doc in docs for row in paragraph_rows(doc)],
        "documents": [document_row(doc) for doc in docs],
    }


def dlq_rows(messages: list[Any]) -> list[list[Any]]:
    """Rows of the ``dlq`` table for messages read from news.dlq (a record that is not one of ours
    is kept as ``invalid_dlq_record``)."""
    rows = []
    for message in messages:
        try:
            record = DlqRecord.model_validate_json(message.value or b"")
        except ValidationError as exc:
            record = dlq_record("invalid_dlq_record", str(exc)[:500], topic=message.topic,
                                partition=message.partition, offset=message.offset, payload=message.value)
        rows.append([
            record.error, record.detail, record.topic, record.partition, record.offset, record.doc_id,
            record.payload, record.payload_encoding, _naive_utc(record.failed_at), message.partition, message.offset,
        ])
    return rows
