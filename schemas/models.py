"""Pydantic v2 models: the messages on Kafka topics and the analysis contract of DESIGN.md.

- ``RawDocument``: value of ``news.raw``.
- ``AnalysisResult``: what the pipeline returns (``newsetl analyze`` prints its doc/paragraphs/metrics).
- ``EnrichedDocument``: value of ``news.enriched`` (raw document + analysis + provenance).
- ``DlqRecord``: value of ``news.dlq``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Qualifier = Literal["exact", "approx", "at_least", "at_most"]
FIRST_YEAR, LAST_YEAR = 1970, 2100  # the times a document may carry


def utcnow() -> datetime:
    return datetime.now(UTC)


def doc_id_for(normalized_text: str) -> str:
    """Stable document id: sha256 of the normalized text (first 32 hex digits)."""
    return hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()[:32]


class RawDocument(BaseModel):
    """An article as published to ``news.raw``."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1)
    url: str | None = None
    #: the address the publisher names as the article's own (``<link rel=canonical>``) when it
    #: differs from where it was fetched; ``newsetl follow`` derives ``doc_id`` from it
    canonical_url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    text: str
    ingested_at: datetime = Field(default_factory=utcnow)
    #: the place the source covers (a county's news site: its county, e.g. 甘肃省定西市), from the
    #: feed's configuration or the producer; the analysis files figures under it when the text
    #: names no more specific place of its own (county articles say 全县 and rarely their name)
    source_region: str | None = Field(default=None, max_length=100)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value

    @field_validator("published_at", "ingested_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        # ClickHouse's DateTime64 and every chart assume this range; year 1 or 9999 is a typo.
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValueError(f"must be between {FIRST_YEAR} and {LAST_YEAR}, got year {value.year}")
        return value


class DocSummary(BaseModel):
    doc_id: str
    title: str | None = None
    script: Literal["simplified", "traditional"]
    regions: list[str] = []
    #: GB/T 2260 codes of ``regions``, in the same order (records from before read as []).
    region_codes: list[str] = []
    topics: list[str] = []
    topic_scores: dict[str, float] = {}


class ParagraphResult(BaseModel):
    index: int
    text: str
    topics: list[str] = []
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}


class MetricResult(BaseModel):
    sentence: str = ""  # on news.enriched: empty, with sentence_index into AnalysisResult.sentences
    sentence_index: int | None = None
    span: str
    char_start: int
    char_end: int
    value: float
    value_low: float | None = None
    value_high: float | None = None
    unit: str
    qualifier: Qualifier = "exact"
    subject: str = ""
    metric: str = "other"
    topic: str = "other"
    region: str = ""
    region_code: str = ""  # GB/T 2260 code of ``region`` ("" when unknown or for older records)
    year: int | None = None
    paragraph_index: int
    #: The year an analyst files the figure under, and how it was found: written | relative |
    #: document | published | none (DESIGN.md; records from before these fields read as none).
    ref_year: int | None = None
    year_basis: str = "none"
    #: Ids of the consistency rules (streams/pipeline/rules/flags.json) the figure breaks, in the
    #: file's order; records from before the field read as no flags.
    flags: list[str] = []


class AnalysisResult(BaseModel):
    """Output of the pipeline for one document."""

    doc: DocSummary
    paragraphs: list[ParagraphResult]
    metrics: list[MetricResult]
    text: str = ""
    token_count: int = 0
    keywords: list[str] = []
    pipeline_version: str = ""
    #: Only on the wire: each sentence once, referred to by the metrics' ``sentence_index``.
    sentences: list[str] = []

    @model_validator(mode="after")
    def _sentences_into_metrics(self) -> AnalysisResult:
        if self.sentences:
            for metric in self.metrics:
                if not metric.sentence and metric.sentence_index is not None:
                    if not 0 <= metric.sentence_index < len(self.sentences):
                        raise ValueError(f"sentence_index {metric.sentence_index} is not one of the sentences")
                    metric.sentence = self.sentences[metric.sentence_index]
            self.sentences = []
        return self

    def contract(self) -> dict:
        """The JSON object of the ``analyze`` contract (DESIGN.md)."""
        return self.model_dump(
            include={"doc": True, "paragraphs": {"__all__": {"index", "text", "topics", "scores"}}, "metrics": True},
            exclude={"metrics": {"__all__": {"sentence_index"}}},
            mode="json",
        )

    def compact(self) -> AnalysisResult:
        """A copy for the wire that carries each sentence once (a sentence with thousands of
        figures would otherwise be repeated thousands of times)."""
        index: dict[str, int] = {}
        metrics = [m.model_copy(update={"sentence": "", "sentence_index": index.setdefault(m.sentence, len(index))})
                   for m in self.metrics]
        return self.model_copy(update={"metrics": metrics, "sentences": list(index)})


class EnrichedDocument(BaseModel):
    """Value of ``news.enriched``: everything the sink needs to write the three tables."""

    raw: RawDocument
    analysis: AnalysisResult
    pipeline_version: str
    processed_at: datetime
    kafka_partition: int
    kafka_offset: int

    def to_wire(self) -> bytes:
        """The ``news.enriched`` value: JSON with each sentence once (read back with
        ``EnrichedDocument.model_validate_json``, which restores every metric's sentence)."""
        return self.model_copy(update={"analysis": self.analysis.compact()}).model_dump_json().encode("utf-8")


class DlqRecord(BaseModel):
    """Value of ``news.dlq``."""

    error: str
    detail: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    payload: str
    payload_encoding: Literal["text", "base64"] = "text"
    doc_id: str | None = None
    failed_at: datetime = Field(default_factory=utcnow)
