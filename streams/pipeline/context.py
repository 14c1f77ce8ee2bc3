"""Context of the figures: subject, region and year, attached to give the document's metrics.

Each figure gets ``subject`` (its words before/after it, trimmed; a short growth rate's is
prefixed with the subject of the figure before it), ``metric``/``topic`` as its clause gave them
(:mod:`streams.pipeline.figures`), ``year`` (a year written earlier in the same sentence that
governs it — following the devset convention, 今年/去年 give ``None`` even when the publication
date is known) and ``region`` (全省/全市 → that ancestor of the document region; else a region
named in the sentence, else the paragraph, inside the document region; else the document region).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from streams.pipeline.clauses import first_delim_after, strip_subject
from streams.pipeline.figures import Figure, SentenceFigures
from streams.pipeline.lexicon import MetricLexicon
from streams.pipeline.regions import (
    DocumentRegions,
    Region,
    city_of,
    is_within,
    most_specific,
    province_of,
    region_by_name,
    resolve_mentions,
)
from streams.pipeline.types import Metric, Paragraph, Sentence

_PARAGRAPH_END = re.compile(r"[。！？!?；;：:…]+[”’」』）)】》\"']*$")
_LIST_MARKERS = ("——", "—")
_CITY_SCOPE = ("全市", "我市")
_YEAR_RANGE_HEAD = re.compile(r"\d年?[-—~至到]$")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_YEAR_BLOCKERS = ("较", "比", "与", "同", "相比", "对比")
_YEAR_NAME_WORDS = ("会议", "方案", "要点", "计划", "规划", "意见", "通知", "办法", "大会")
_COUNTED_UNITS = ("人", "户", "个", "家", "所", "座", "处", "支")


def attach_context(found: list[SentenceFigures], regions: DocumentRegions, paragraphs: list[Paragraph],
                   lexicon: MetricLexicon) -> list[Metric]:
    """The metrics of the figures ``found`` in a document (in their order)."""
    context = _RegionContext(doc_region=regions.main, paragraphs=paragraphs, mentions=regions.mentions)
    metrics: list[Metric] = []
    for group in found:
        sentence, text = group.sentence, group.sentence.text
        previous_subject: str | None = None
        for figure in group.figures:
            subject = _subject(figure, previous_subject, lexicon)
            previous_subject = subject
            metrics.append(Metric(
                sentence=text,
                span=text[figure.start : figure.end],
                char_start=sentence.start + figure.start,
                char_end=sentence.start + figure.end,
                value=figure.value,
                value_low=figure.low,
                value_high=figure.high,
                unit=figure.unit,
                qualifier=figure.qualifier,
                subject=subject or figure.left.strip()[-12:],
                metric=figure.metric,
                topic=figure.topic,
                region=context.for_figure(sentence, figure.left, figure.start, figure.unit),
                year=_year_for(text, figure.start, group.blocked),
                paragraph_index=sentence.paragraph_index,
            ))
    return metrics


def _subject(figure: Figure, previous: str | None, lexicon: MetricLexicon) -> str:
    """What ``figure`` counts: its words before it, completed by the noun after a count unit;
    a growth rate with few words of its own continues ``previous`` (the figure before it)."""
    subject = strip_subject(figure.left, lexicon)
    if figure.unit in _COUNTED_UNITS and figure.right:
        noun = strip_subject(figure.right, lexicon)
        subject = (subject + noun)[:24] if len(subject) < 6 else subject
    if figure.metric == "growth_rate" and previous is not None and len(subject) <= 6:
        subject = previous + subject
    return subject


# ---------------------------------------------------------------- year and region


def _year_for(text: str, index: int, blocked: list[tuple[int, int]]) -> int | None:
    """The last year written before ``index`` in the sentence that governs what follows it
    (``blocked``: the sentence's titles and short quotes, whose years do not count)."""
    if "年" not in text:
        return None
    year: int | None = None
    for match in _YEAR.finditer(text, 0, index):
        start = match.start()
        if any(a <= start < b for a, b in blocked):
            continue
        if any(text.endswith(w, 0, start) for w in _YEAR_BLOCKERS):
            continue
        if _YEAR_RANGE_HEAD.search(text, 0, start):
            continue  # second year of 2016—2020年
        clause_end = first_delim_after(text, match.end())
        if any(w in text[match.end() : clause_end] for w in _YEAR_NAME_WORDS) and clause_end <= index:
            continue
        year = int(match.group(1))
    return year


def _ends_sentence(text: str) -> bool:
    """The paragraph ends a sentence (or a clause: ``；``/``：``), so the next one starts afresh."""
    return bool(_PARAGRAPH_END.search(text))


@dataclass(slots=True)
class _RegionContext:
    """Region of a figure: its sentence, the document scope words, its paragraph, the document.

    A paragraph that names no region inherits one: from the paragraph before when that one stops
    mid-sentence (e-paper line breaks: ``941名贫⏎⏎困人口``), and for a list item (``——教育扶贫。…``)
    from the paragraph that introduced the list (``以淇县为例：``).
    """

    doc_region: str
    paragraphs: list[Paragraph]
    mentions: list[tuple[int, tuple[str, ...]]]  # scan_mentions of the whole document text
    _mention_starts: list[int] = field(default_factory=list)
    _sentence_cache: dict[int, tuple[list[tuple[int, Region]], str]] = field(default_factory=dict)
    _paragraph_regions: dict[int, str] = field(default_factory=dict)

    def _resolved(self, start: int, end: int) -> list[tuple[int, Region]]:
        """Resolved mentions in ``[start, end)`` of the document text, offsets relative to ``start``."""
        lo = bisect_left(self._mention_starts, start)
        hi = bisect_left(self._mention_starts, end, lo)
        if lo == hi:
            return []
        return [(at - start, region) for at, region in resolve_mentions(self.mentions[lo:hi])]

    def __post_init__(self) -> None:
        self._mention_starts = [start for start, _ in self.mentions]
        list_head = ""
        previous: str | None = None
        for paragraph in sorted(self.paragraphs, key=lambda p: p.index):
            index, text = paragraph.index, paragraph.text
            continuation = previous is not None and not _ends_sentence(previous)
            is_item = text.startswith(_LIST_MARKERS)
            region = _single(most_specific([r for _, r in self._resolved(paragraph.start, paragraph.end)]))
            if not region and continuation:
                region = self._paragraph_regions.get(index - 1, "")
            elif not region and is_item:
                region = list_head
            self._paragraph_regions[index] = region
            if not is_item and not continuation:
                list_head = region
            previous = text

    def _mentions(self, sentence: Sentence) -> tuple[list[tuple[int, Region]], str]:
        """The sentence's resolved mentions and the single region it names (or ``""``)."""
        cached = self._sentence_cache.get(sentence.start)
        if cached is None:
            found = self._resolved(sentence.start, sentence.end)
            cached = (found, _single(most_specific([r for _, r in found])) if found else "")
            self._sentence_cache[sentence.start] = cached
        return cached

    def for_figure(self, sentence: Sentence, left: str, position: int, unit: str) -> str:
        """Region of the figure at ``position`` in ``sentence`` (``left``: its words before it)."""
        doc = self.doc_region
        region = region_by_name(doc) if doc else None
        if region is not None:
            if "全省" in left and region.level > 1 and unit != "个百分点":
                return province_of(doc) or doc  # 高于全省平均增速0.8个百分点 is the city's
            if "全市" in left and region.level > 2:
                return city_of(doc) or doc
        mentions, named = self._mentions(sentence)
        before = _single(most_specific([r for start, r in mentions if start < position])) if mentions else ""
        candidates = [before]
        if region is not None and region.level == 2 and any(w in sentence.text for w in _CITY_SCOPE):
            candidates.append(doc)  # 全市/我市 in a city's article: the whole city
        candidates.append(named)
        candidates.append(self._paragraph_regions.get(sentence.paragraph_index, ""))
        for candidate in candidates:
            if candidate and (not doc or is_within(candidate, doc)):
                return candidate
        return doc


def _single(regions: list[str]) -> str:
    """The region when exactly one is named, else ``""`` (ambiguous or none)."""
    return regions[0] if len(regions) == 1 else ""

