"""The one analysis entry point: ``Pipeline.analyze(text) -> AnalysisResult``.

Both the Faust ``enrich`` agent and ``newsetl analyze`` call :func:`get_pipeline` and
``Pipeline.analyze``; nothing else composes the stages. The stages, in order:

normalize → segment (whole normalized text) → regions → extract metrics → classify
(paragraphs, with the topics of their metrics as extra evidence; then the document) → keywords.

``Pipeline.version`` is ``<code version>+r<8 hex>``, the hex being a sha256 over the names and
bytes of the effective rules files (the shipped ``rules/`` overlaid by ``rules_dir``), so it
changes when either the code version or any rules file changes. It is written into every row
and used for replay dedup.

The result is deterministic: same text, title, date, rules and code → equal results.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from schemas.models import AnalysisResult, DocSummary, MetricResult, ParagraphResult, doc_id_for
from streams import __version__
from streams.pipeline.classify import TopicDecision, classify_document, classify_paragraphs, load_topic_rules
from streams.pipeline.extract import extract_metrics
from streams.pipeline.keywords import KeywordScorer
from streams.pipeline.lexicon import load_metric_lexicon
from streams.pipeline.normalize import normalize
from streams.pipeline.regions import find_regions
from streams.pipeline.segment import get_segmenter
from streams.pipeline.types import NormalizedDoc
from streams.settings import Settings

DEFAULT_RULES_DIR = Path(__file__).parent / "rules"
RULE_SUFFIXES = (".json", ".txt")
KEYWORD_COUNT = 10


def rules_files(rules_dir: Path | None) -> dict[str, Path]:
    """Effective rules files by name: the shipped ones, overridden/extended by ``rules_dir``."""
    files = {p.name: p for p in sorted(DEFAULT_RULES_DIR.iterdir()) if p.suffix in RULE_SUFFIXES}
    if rules_dir is not None and rules_dir.is_dir():
        files.update({p.name: p for p in sorted(rules_dir.iterdir()) if p.suffix in RULE_SUFFIXES})
    return dict(sorted(files.items()))


def rules_hash(files: dict[str, Path]) -> str:
    """Short sha256 over names and bytes of the rules files."""
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


def pipeline_version(rules_dir: Path | None = None) -> str:
    """``<code version>+r<rules hash>``, e.g. ``0.1.0+r3f9a1c2e``."""
    return f"{__version__}+r{rules_hash(rules_files(rules_dir))}"


class Pipeline:
    """The analysis pipeline with its rules loaded (build once, call ``analyze`` many times)."""

    def __init__(self, rules_dir: Path | None = None, segmenter: str = "rjieba") -> None:
        files = rules_files(rules_dir)
        self.rules_dir = rules_dir
        self.version: str = f"{__version__}+r{rules_hash(files)}"
        self.segmenter = get_segmenter(segmenter, files["dict.txt"])
        self.topic_rules = load_topic_rules(files["topics.json"])
        metrics_dir = files["metrics.json"].parent if "metrics.json" in files else rules_dir
        self.metric_lexicon = load_metric_lexicon(metrics_dir)
        domain_terms = set(self.segmenter.words) | set(self.topic_rules.term_weights)
        self.keyword_scorer = KeywordScorer.for_terms(domain_terms)

    def analyze(self, text: str, *, doc_id: str | None = None, title: str | None = None,
                published_at: datetime | None = None) -> AnalysisResult:
        """Analyze one article (raw text as published) into the contract's result."""
        doc = normalize(text)
        counts = Counter(self.segmenter.cut(doc.text))
        regions = find_regions(doc.text) or (find_regions(title) if title else [])
        metrics = self._metrics(doc, published_at, regions)
        decisions = classify_paragraphs(
            [p.text for p in doc.paragraphs], self.topic_rules, _metric_topics(doc, metrics)
        )
        topics, topic_scores = classify_document(
            decisions, [len(p.text) for p in doc.paragraphs], self.topic_rules
        )
        return AnalysisResult(
            doc=DocSummary(
                doc_id=doc_id or doc_id_for(doc.text), title=title, script=doc.script,
                regions=regions, topics=topics, topic_scores=topic_scores,
            ),
            paragraphs=_paragraph_results(doc, decisions),
            metrics=metrics,
            text=doc.text,
            token_count=_token_count(counts),
            keywords=self.keyword_scorer.top(counts, KEYWORD_COUNT),
            pipeline_version=self.version,
        )

    def _metrics(self, doc: NormalizedDoc, published_at: datetime | None,
                 regions: list[str]) -> list[MetricResult]:
        published: date | None = published_at.date() if published_at else None
        return extract_metrics(doc, lexicon=self.metric_lexicon, published_at=published,
                               default_region=regions[0] if regions else "")


def _paragraph_results(doc: NormalizedDoc, decisions: list[TopicDecision]) -> list[ParagraphResult]:
    return [
        ParagraphResult(index=p.index, text=p.text, topics=d.topics, scores=d.scores, evidence=d.evidence)
        for p, d in zip(doc.paragraphs, decisions, strict=True)
    ]


def _metric_topics(doc: NormalizedDoc, metrics: list[MetricResult]) -> list[list[tuple[str, str]]]:
    """``(span, topic)`` of the metrics of each paragraph."""
    per_paragraph: list[list[tuple[str, str]]] = [[] for _ in doc.paragraphs]
    for metric in metrics:
        if 0 <= metric.paragraph_index < len(per_paragraph):
            per_paragraph[metric.paragraph_index].append((metric.span, metric.topic))
    return per_paragraph


def _token_count(counts: Counter[str]) -> int:
    """Tokens that are not whitespace."""
    return counts.total() - sum(counts[word] for word in filter(str.isspace, counts))


@lru_cache(maxsize=8)
def _cached_pipeline(rules_dir: Path | None, segmenter: str) -> Pipeline:
    return Pipeline(rules_dir=rules_dir, segmenter=segmenter)


def get_pipeline(settings: Settings) -> Pipeline:
    """The process-wide pipeline for ``settings`` (cached per rules_dir and segmenter)."""
    return _cached_pipeline(settings.rules_dir, settings.segmenter)
