"""One step shared by the ``enrich`` agent and ``newsetl replay --source raw``:
bytes of a ``news.raw`` message → EnrichedDocument, or an IntakeError with its DLQ kind."""

from __future__ import annotations

from schemas.models import EnrichedDocument, utcnow
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import TooManyFigures
from streams.stream import intake
from streams.stream.convert import to_analysis_result


def enrich_payload(pipeline: Pipeline, payload: bytes | None, *, max_doc_chars: int, partition: int,
                   offset: int) -> EnrichedDocument:
    """Validate and analyse one raw message; every failure is an IntakeError (never anything else)."""
    raw = intake.parse_raw(payload, max_doc_chars)
    try:
        analysis = pipeline.analyze(raw.text, title=raw.title, published_at=raw.published_at,
                                    source_region=raw.source_region)
    except TooManyFigures as exc:
        raise intake.IntakeError(intake.TOO_MANY_FIGURES, str(exc), raw.doc_id) from exc
    except Exception as exc:  # noqa: BLE001 - any failure of the analysis becomes a DLQ record
        raise intake.IntakeError(intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}", raw.doc_id) from exc
    try:
        result = to_analysis_result(analysis, doc_id=raw.doc_id)
        return EnrichedDocument(
            raw=raw, analysis=result, pipeline_version=pipeline.version, processed_at=utcnow(),
            kafka_partition=partition, kafka_offset=offset,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the analysis becomes a DLQ record
        raise intake.IntakeError(intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}", raw.doc_id) from exc
