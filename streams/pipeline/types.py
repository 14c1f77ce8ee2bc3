"""Plain data types of the pipeline: what its stages pass along and what ``Pipeline.analyze`` returns.

They know nothing of Kafka, ClickHouse or the wire format (the stream converts an
:class:`Analysis` to ``schemas.models.AnalysisResult`` at its edge). Offsets are Python
code-point offsets into ``NormalizedDoc.text`` (the normalized, simplified text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Script = Literal["simplified", "traditional"]
Qualifier = Literal["exact", "approx", "at_least", "at_most"]
#: How ``Metric.ref_year`` was found: a year written with the figure, a relative expression
#: (今年/去年…) and the publication year, the one year the title names, the publication year, nothing.
YearBasis = Literal["written", "relative", "document", "published", "none"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work one document may cause: finding figures costs more than linear time in
    the figures of a sentence, so a pathological text is refused instead of analysed."""

    figures_per_sentence: int = 500
    figures_per_document: int = 50_000


DEFAULT_LIMITS = Limits()


class TooManyFigures(ValueError):
    """A document over :class:`Limits`; the message says which bound and where."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Sentence:
    paragraph_index: int
    start: int
    end: int
    text: str


@dataclass(slots=True)
class NormalizedDoc:
    text: str
    script: Script
    paragraphs: list[Paragraph] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Metric:
    """One quantity with its context; ``char_start``/``char_end`` index the normalized text.

    ``year`` is a year written in the sentence that governs the figure; ``ref_year`` the year an
    analyst files it under, found as ``year_basis`` says (see :mod:`streams.pipeline.context`).
    ``flags`` are the ids of the consistency rules of ``rules/flags.json`` the figure breaks (see
    :mod:`streams.pipeline.flags`), in the file's order; ``()`` for none.
    """

    sentence: str
    span: str
    char_start: int
    char_end: int
    value: float
    value_low: float | None
    value_high: float | None
    unit: str
    qualifier: Qualifier
    subject: str
    metric: str
    topic: str
    region: str
    year: int | None
    paragraph_index: int
    ref_year: int | None = None
    year_basis: YearBasis = "none"
    region_code: str = ""  # GB/T 2260 code of ``region``; "" when it is ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParagraphTopics:
    """Topics of one paragraph with their scores and the evidence (matched terms, cues) per topic."""

    index: int
    text: str
    topics: list[str]
    scores: dict[str, float]
    evidence: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class DocInfo:
    """Document-level findings: script, regions (most specific first mentioned first), topics."""

    title: str | None
    script: Script
    regions: list[str]
    topics: list[str]
    topic_scores: dict[str, float]
    #: GB/T 2260 codes of ``regions``, in the same order.
    region_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything ``Pipeline.analyze`` finds in one article."""

    doc: DocInfo
    paragraphs: list[ParagraphTopics]
    metrics: list[Metric]
    text: str
    token_count: int
    keywords: list[str]
    pipeline_version: str
