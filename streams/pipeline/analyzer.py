"""The one analysis entry point: ``Pipeline.analyze(text) -> Analysis``; the only place that chains the stages.

In order, each once per document:

1. normalize — width, script, paragraphs, sentences (:mod:`~streams.pipeline.normalize`);
2. segment — tokens of the whole normalized text, for the token count and the keywords;
3. regions — the region mentions of the text, scanned once (:mod:`~streams.pipeline.regions`);
4. figures — value, unit, span, qualifier and clause evidence: the metric key and topic their
   words name (:mod:`~streams.pipeline.figures`);
5. classify — the paragraphs, with the topics of their figures as extra evidence
   (:mod:`~streams.pipeline.classify`);
6. context — subject, region, year and reference year of each figure (:mod:`~streams.pipeline.context`);
7. flags — the ids of the row and document consistency rules of ``rules/flags.json`` each figure
   breaks (a share above 100%, a 其中 part above its total…; :mod:`~streams.pipeline.flags`);
8. assemble — the document's topics from its paragraphs, keywords, one :class:`Analysis`.

``Pipeline.version`` is ``<code version>+c<8 hex>.r<8 hex>``: the caller's code version, a sha256
over the pipeline's own modules and one over the names and bytes of the effective rules files (the
shipped ``rules/`` overlaid by ``rules_dir``, see :mod:`~streams.pipeline.rulefiles`), so it changes
when any of them changes, also without a version bump.

The result is deterministic: same text, title, publication date, rules and code → equal results.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from streams.pipeline.classify import TopicDecision, classify_document, classify_paragraphs, load_topic_rules
from streams.pipeline.context import DocDates, attach_context
from streams.pipeline.figures import find_figures, topics_by_paragraph
from streams.pipeline.flags import flag_metrics, load_flag_rules
from streams.pipeline.keywords import KeywordScorer
from streams.pipeline.lexicon import load_metric_lexicon
from streams.pipeline.normalize import normalize
from streams.pipeline.regions import document_regions
from streams.pipeline.rulefiles import code_hash, rules_files, rules_hash
from streams.pipeline.segment import get_segmenter
from streams.pipeline.types import DEFAULT_LIMITS, Analysis, DocInfo, Limits, NormalizedDoc, ParagraphTopics

KEYWORD_COUNT = 10


class Pipeline:
    """The analysis pipeline with its rules loaded (build once, call ``analyze`` many times)."""

    def __init__(self, rules_dir: Path | None = None, segmenter: str = "rjieba", *, code_version: str,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        files = rules_files(rules_dir)
        self.limits = limits
        self.rules_dir = rules_dir
        self.rules_hash = rules_hash(files)
        self.code_hash = code_hash()
        self.version: str = f"{code_version}+c{self.code_hash}.r{self.rules_hash}"
        self.segmenter = get_segmenter(segmenter, files["dict.txt"])
        self.topic_rules = load_topic_rules(files["topics.json"])
        self.metric_lexicon = load_metric_lexicon(files["metrics.json"])
        self.flag_rules = load_flag_rules(files["flags.json"])
        domain_terms = set(self.segmenter.words) | set(self.topic_rules.term_weights)
        self.keyword_scorer = KeywordScorer.for_terms(domain_terms)

    def analyze(self, text: str, *, title: str | None = None, published_at: datetime | None = None,
                source_region: str | None = None) -> Analysis:
        """Analyze one article (raw text as published; ``title`` names its region when the text
        does not, and the year it reports on; ``published_at`` resolves 今年/去年 and dates the
        figures nothing else dates — the metrics' ``ref_year``; ``source_region``, the place the
        source covers, is the article's region when the text names none more specific)."""
        doc = normalize(text)
        counts = Counter(self.segmenter.cut(doc.text))
        regions = document_regions(doc.text, title, source_region)
        figures = find_figures(doc, self.metric_lexicon, self.limits)
        decisions = classify_paragraphs(
            [p.text for p in doc.paragraphs], self.topic_rules, topics_by_paragraph(doc.paragraphs, figures)
        )
        metrics = attach_context(figures, regions, doc.paragraphs, self.metric_lexicon,
                                 DocDates.of(title, published_at), [tuple(d.topics) for d in decisions])
        metrics = flag_metrics(metrics, doc, self.flag_rules)
        topics, topic_scores = classify_document(decisions, [len(p.text) for p in doc.paragraphs], self.topic_rules)
        return Analysis(
            doc=DocInfo(title=title, script=doc.script, regions=regions.names, topics=topics,
                        topic_scores=topic_scores, region_codes=regions.codes),
            paragraphs=_paragraph_topics(doc, decisions),
            metrics=metrics,
            text=doc.text,
            token_count=_token_count(counts),
            keywords=self.keyword_scorer.top(counts, KEYWORD_COUNT),
            pipeline_version=self.version,
        )


def _paragraph_topics(doc: NormalizedDoc, decisions: list[TopicDecision]) -> list[ParagraphTopics]:
    return [
        ParagraphTopics(p.index, p.text, d.topics, d.scores, d.evidence)  # index, text, topics, scores, evidence
        for p, d in zip(doc.paragraphs, decisions, strict=True)
    ]


def _token_count(counts: Counter[str]) -> int:
    """Tokens that are not whitespace."""
    return counts.total() - sum(counts[word] for word in filter(str.isspace, counts))
