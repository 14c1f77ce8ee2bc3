"""Explainable rule-based topic classification (产业 / 健康 / 教育 / 就业) of paragraphs and documents.

All knowledge lives in the versioned data file ``rules/topics.json``; this module only applies it:

1. **Terms.** Each topic has a weighted term lexicon. A paragraph's raw score for a topic is the
   sum over matched terms of ``weight × (1 + repeat_factor × (min(count, max_repeats) − 1))``.
   Terms are matched leftmost-longest on the normalized text, so ``就业帮扶车间`` wins over ``就业``.
2. **Headings.** A short heading paragraph (``在健康扶贫上下苦功夫``, ``产业兴 百姓富``) sets a
   context whose topics add ``heading.weight`` to the following paragraphs, until the next heading
   or ``heading.scope`` paragraphs (the first paragraph, a title or masthead, sets no context);
   a heading's own cue topics also score for the heading itself. An inline heading at the start of a paragraph (``——教育扶贫。…``,
   ``在健康扶贫方面，…``) adds ``heading.lead_weight`` to its cue topics for that paragraph.
3. **Labels.** A topic is a label when its raw score reaches ``thresholds.min_score`` and at least
   ``thresholds.relative`` × the paragraph's best score; a paragraph of at most
   ``thresholds.short_chars`` characters (a caption) needs only ``thresholds.short_min_score``.
   A term only ever named as an item of an enumeration (next to ``、``) counts ×
   ``thresholds.list_factor``; ``neutral`` terms (agency names such as 农业农村局) score nothing
   but keep their sub-terms from matching. The reported score is
   ``raw / (raw + min_score)`` in [0, 1): 0.5 is the absolute threshold.
4. **Quantities.** Each figure found in the paragraph (:mod:`~streams.pipeline.figures`) adds
   ``metrics.weight`` to its own topic (at most ``metrics.cap`` per topic): ``三百余名搬迁群众在景区
   实现就业`` is evidence for 就业 even in a tourism paragraph.
5. **Document.** Topic score = paragraph scores averaged with paragraph length as weight;
   labels are topics with ``document.min_score`` or more.

Every matched term (and ``heading:…``/``lead:…`` cue) is kept as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib.resources.abc import Traversable

from streams.pipeline.normalize import is_table_row
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.pipeline.rulemodels import TopicsRules, read_json, validated
from streams.pipeline.scan import LongestTerms

DEFAULT_TOPICS_PATH: Traversable = DEFAULT_RULES_DIR / "topics.json"
_SENTENCE_MARK = re.compile("[。！？!?；;]")


@dataclass(frozen=True, slots=True)
class HeadingRules:
    """How headings are recognized and how far their topics carry."""

    max_chars: int
    weight: float
    lead_weight: float
    scope: int
    exclude: re.Pattern[str]
    inline: re.Pattern[str]
    cue_terms: LongestTerms | None
    cue_topics: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class TopicRules:
    """Compiled contents of ``topics.json``."""

    version: str
    labels: tuple[str, ...]
    term_weights: dict[str, tuple[tuple[str, float], ...]]
    terms: LongestTerms | None
    repeat_factor: float
    max_repeats: int
    list_factor: float
    list_marks: str
    min_score: float
    short_chars: int
    short_min_score: float
    relative: float
    doc_min_score: float
    metric_weight: float
    metric_cap: int
    heading: HeadingRules


@dataclass(slots=True)
class TopicDecision:
    """Topics of one paragraph, with raw and reported scores and the evidence behind them."""

    topics: list[str]
    scores: dict[str, float]
    raw: dict[str, float]
    evidence: dict[str, list[str]] = field(default_factory=dict)
    heading_topics: tuple[str, ...] = ()
    is_heading: bool = False


def _longest(words: Sequence[str]) -> LongestTerms | None:
    """A leftmost-longest scan for ``words`` (``None`` for none)."""
    return LongestTerms(words) if words else None


def _term_table(topics: dict[str, dict[str, float]],
                neutral: Sequence[str] = ()) -> dict[str, tuple[tuple[str, float], ...]]:
    """term → ((topic, weight), …); neutral terms score nothing but shadow their sub-terms."""
    table: dict[str, list[tuple[str, float]]] = {term: [] for term in neutral}
    for topic, terms in topics.items():
        for term, weight in terms.items():
            table.setdefault(term, []).append((topic, float(weight)))
    return {term: tuple(pairs) for term, pairs in table.items()}


def _heading_rules(raw: dict) -> HeadingRules:
    cues: dict[str, list[str]] = {}
    for topic, words in raw.get("cues", {}).items():
        for word in words:
            cues.setdefault(word, []).append(topic)
    return HeadingRules(
        max_chars=int(raw["max_chars"]),
        weight=float(raw["weight"]),
        lead_weight=float(raw["lead_weight"]),
        scope=int(raw["scope"]),
        exclude=re.compile("|".join(raw["exclude"])),
        inline=re.compile("|".join(raw["inline"])),
        cue_terms=_longest(list(cues)),
        cue_topics={word: tuple(topics) for word, topics in cues.items()},
    )


def parse_topic_rules(data: dict, name: str = "topics.json") -> TopicRules:
    """Compile the JSON document of ``topics.json`` (validated first, see
    :mod:`~streams.pipeline.rulemodels`)."""
    data = validated(TopicsRules, data, name)
    table = _term_table(data["terms"], data.get("neutral", []))
    thresholds = data["thresholds"]
    return TopicRules(
        version=str(data["version"]),
        labels=tuple(data["labels"]),
        term_weights=table,
        terms=_longest(list(table)),
        repeat_factor=float(thresholds["repeat_factor"]),
        max_repeats=int(thresholds["max_repeats"]),
        list_factor=float(thresholds["list_factor"]),
        list_marks=str(thresholds["list_marks"]),
        min_score=float(thresholds["min_score"]),
        short_chars=int(thresholds["short_chars"]),
        short_min_score=float(thresholds["short_min_score"]),
        relative=float(thresholds["relative"]),
        doc_min_score=float(data["document"]["min_score"]),
        metric_weight=float(data.get("metrics", {}).get("weight", 0.0)),
        metric_cap=int(data.get("metrics", {}).get("cap", 0)),
        heading=_heading_rules(data["heading"]),
    )


def load_topic_rules(path: Traversable | None = None) -> TopicRules:
    """Load and compile ``topics.json`` (default: the shipped rules file)."""
    path = path or DEFAULT_TOPICS_PATH
    return parse_topic_rules(read_json(path), path.name)


# --- paragraphs ---------------------------------------------------------------------------------


def term_scores(text: str, rules: TopicRules) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Raw per-topic term scores of ``text`` and the matched terms per topic."""
    raw: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    if rules.terms is None:
        return raw, evidence
    counts: dict[str, int] = {}
    listed: dict[str, int] = {}
    marks = rules.list_marks
    if not any(mark in text for mark in marks):  # fast path: no enumeration in the paragraph
        for term in rules.terms.findall(text):
            counts[term] = counts.get(term, 0) + 1
    else:
        end_of_text = len(text)
        for term, start, end in rules.terms.spans(text):
            counts[term] = counts.get(term, 0) + 1
            if (start and text[start - 1] in marks) or (end < end_of_text and text[end] in marks):
                listed[term] = listed.get(term, 0) + 1
    for term, count in counts.items():
        factor = 1.0 + rules.repeat_factor * (min(count, rules.max_repeats) - 1)
        if listed.get(term) == count:  # only ever named as an item of an enumeration
            factor *= rules.list_factor
        for topic, weight in rules.term_weights[term]:
            raw[topic] = raw.get(topic, 0.0) + weight * factor
            evidence.setdefault(topic, []).append(term)
    return raw, evidence


def cue_topics(text: str, rules: TopicRules) -> tuple[str, ...]:
    """Topics a heading text points to: heading cues plus any lexicon term in it."""
    found: list[str] = []
    heading = rules.heading
    if heading.cue_terms is not None:
        for word in heading.cue_terms.findall(text):
            found.extend(heading.cue_topics[word])
    if rules.terms is not None:
        for term in rules.terms.findall(text):
            found.extend(topic for topic, _ in rules.term_weights[term])
    return tuple(label for label in rules.labels if label in found)


def is_heading(text: str, rules: TopicRules) -> bool:
    """A short stand-alone line that is not a caption/byline and holds no full sentence inside."""
    stripped = text.strip()
    if not stripped or len(stripped) > rules.heading.max_chars:
        return False
    if rules.heading.exclude.search(stripped):
        return False
    if stripped[-1] in "。！？!?":  # a sentence, unless it is an inline heading on its own (——教育扶贫。)
        match = rules.heading.inline.match(stripped)
        return bool(match) and match.end() == len(stripped)
    return _SENTENCE_MARK.search(stripped) is None


def inline_heading(text: str, rules: TopicRules) -> str | None:
    """The heading phrase that opens a paragraph (``——教育扶贫。``, ``在健康扶贫方面，``), if any."""
    match = rules.heading.inline.match(text.lstrip())
    return match.group(0) if match else None


def _add(raw: dict[str, float], evidence: dict[str, list[str]], topics: Sequence[str], weight: float,
         note: str) -> None:
    for topic in topics:
        raw[topic] = raw.get(topic, 0.0) + weight
        evidence.setdefault(topic, []).append(note)


def decide(raw: dict[str, float], rules: TopicRules, length: int = 0) -> tuple[list[str], dict[str, float]]:
    """Labels and reported scores from raw scores (a short paragraph needs less evidence)."""
    best = max(raw.values(), default=0.0)
    floor = rules.short_min_score if 0 < length <= rules.short_chars else rules.min_score
    labels = [
        topic for topic in rules.labels
        if raw.get(topic, 0.0) >= floor and raw.get(topic, 0.0) >= rules.relative * best
    ]
    scores = {topic: round(raw.get(topic, 0.0) / (raw.get(topic, 0.0) + rules.min_score), 4)
              for topic in rules.labels}
    return labels, scores


def metric_scores(raw: dict[str, float], evidence: dict[str, list[str]], metrics: Sequence[tuple[str, str]],
                  rules: TopicRules) -> None:
    """Add the topics of the paragraph's quantities (``(span, topic)`` of its figures), capped per topic."""
    used: dict[str, int] = {}
    for span, topic in metrics:
        if topic in rules.labels and used.get(topic, 0) < rules.metric_cap:
            used[topic] = used.get(topic, 0) + 1
            _add(raw, evidence, (topic,), rules.metric_weight, f"metric:{span}")


def classify_paragraph(text: str, rules: TopicRules, context: tuple[str, ...] = (),
                       metrics: Sequence[tuple[str, str]] = ()) -> TopicDecision:
    """Classify one paragraph given its governing heading topics (``context``) and its quantities."""
    raw, evidence = term_scores(text, rules)
    if metrics and rules.metric_weight:
        metric_scores(raw, evidence, metrics, rules)
    heading_like = is_heading(text, rules)
    lead = None if heading_like else inline_heading(text, rules)
    if lead:
        _add(raw, evidence, cue_topics(lead, rules), rules.heading.lead_weight, f"lead:{lead.strip()}")
    own = cue_topics(text, rules) if heading_like else ()
    if own:
        _add(raw, evidence, own, rules.heading.lead_weight, f"heading:{text.strip()}")
    if context and not heading_like:
        _add(raw, evidence, context, rules.heading.weight, "heading")
    labels, scores = decide(raw, rules, len(text.strip()))
    evidence = {topic: _unique(terms) for topic, terms in evidence.items()}
    return TopicDecision(labels, scores, raw, evidence, own, heading_like)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def classify_paragraphs(texts: Sequence[str], rules: TopicRules,
                        metrics: Sequence[Sequence[tuple[str, str]]] | None = None) -> list[TopicDecision]:
    """Classify paragraphs in order, carrying heading topics forward.

    ``metrics[i]`` are the ``(span, topic)`` pairs of the figures found in paragraph ``i``.
    """
    decisions: list[TopicDecision] = []
    context: tuple[str, ...] = ()
    context_note = ""
    left = 0
    for index, text in enumerate(texts):
        quantities = metrics[index] if metrics is not None else ()
        decision = classify_paragraph(text, rules, context if left > 0 else (), quantities)
        if context and left > 0 and not decision.is_heading:
            _rename_heading_evidence(decision, context_note)
            left -= 1
        if decision.is_heading and index > 0:  # the first line is a title or masthead: no context
            context, context_note, left = decision.heading_topics, text.strip(), rules.heading.scope
        if _TABLE_CAPTION.match(text) or _is_table_head(text):
            # table captions and heads name what follows; they are about nothing themselves
            decision = replace(decision, topics=[])
        decisions.append(decision)
    return decisions


_TABLE_CAPTION = re.compile(r"^\s*(?:附)?表\s*[0-9一二三四五六七八九十]+[\s：:、.]")


def _is_table_head(text: str) -> bool:
    """A table row without a figure: the table's head."""
    return is_table_row(text.strip()) and not any(c.isdigit() for c in text)


def _rename_heading_evidence(decision: TopicDecision, note: str) -> None:
    for terms in decision.evidence.values():
        for i, term in enumerate(terms):
            if term == "heading":
                terms[i] = f"heading:{note}"


# --- documents ----------------------------------------------------------------------------------


def classify_document(decisions: Sequence[TopicDecision], lengths: Sequence[int],
                      rules: TopicRules) -> tuple[list[str], dict[str, float]]:
    """Document labels and scores: length-weighted mean of paragraph scores."""
    total = sum(lengths)
    scores: dict[str, float] = {}
    for topic in rules.labels:
        weighted = sum(d.scores.get(topic, 0.0) * n for d, n in zip(decisions, lengths, strict=True))
        scores[topic] = round(weighted / total, 4) if total else 0.0
    labels = [topic for topic in rules.labels if scores[topic] >= rules.doc_min_score]
    return labels, scores
