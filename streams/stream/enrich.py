"""One step shared by the ``enrich`` agent and ``newsetl replay --source raw``: bytes of a
``news.raw`` message → the ``news.enriched`` value, or the kind and detail of its IntakeError
(:class:`Wired`). The value is made where the analysis ran (the worker's event loop only passes
bytes on), serialized straight from the pipeline's dataclasses (:mod:`streams.stream.wire`)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models import RawDocument, utcnow
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Analysis, TooManyFigures
from streams.stream import intake
from streams.stream.wire import enriched_value


def _analyse(pipeline: Pipeline, payload: bytes | None, max_doc_chars: int) -> tuple[RawDocument, Analysis]:
    """Validate and analyse one raw message; every failure is an IntakeError."""
    raw = intake.parse_raw(payload, max_doc_chars)
    try:
        return raw, pipeline.analyze(raw.text, title=raw.title, published_at=raw.published_at,
                                     source_region=raw.source_region)
    except TooManyFigures as exc:
        raise intake.IntakeError(intake.TOO_MANY_FIGURES, str(exc), raw.doc_id) from exc
    except Exception as exc:  # noqa: BLE001 - any failure of the analysis becomes a DLQ record
        raise intake.IntakeError(intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}", raw.doc_id) from exc


@dataclass(frozen=True, slots=True)
class Wired:
    """One raw message's ``news.enriched`` value, or the kind and detail of its IntakeError
    (plain values: they cross from the analysis process)."""

    doc_id: str | None
    value: bytes | None = None
    kind: str = ""
    detail: str = ""

    def error(self) -> intake.IntakeError | None:
        return None if self.value is not None else intake.IntakeError(self.kind, self.detail, self.doc_id)


def enrich_wire(pipeline: Pipeline, payload: bytes | None, *, max_doc_chars: int, partition: int,
                offset: int) -> Wired:
    """The bytes to publish for one raw message (or the error to DLQ): its ``EnrichedDocument`` as
    ``to_wire()`` gives it, serialized without building it (:mod:`streams.stream.wire`)."""
    try:
        raw, analysis = _analyse(pipeline, payload, max_doc_chars)
    except intake.IntakeError as exc:
        return Wired(exc.doc_id, None, exc.kind, exc.detail)
    try:
        return Wired(raw.doc_id, enriched_value(raw, analysis, pipeline_version=pipeline.version,
                                                processed_at=utcnow(), partition=partition, offset=offset))
    except Exception as exc:  # noqa: BLE001 - any failure of the analysis becomes a DLQ record
        return Wired(raw.doc_id, None, intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}")
