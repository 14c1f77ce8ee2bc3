"""Score predicted metrics against gold rows (devset or seed gold files).

Gold rows carry offsets into the *raw* file; predictions carry offsets into the normalized text.
Each gold row is placed in the normalized text by normalizing its sentence and span the same way
(``normalize_fragment`` + joined line breaks) and searching for them; when the sentence is not
found the span is searched nearest to the proportional position. A prediction matches a gold row
when value (relative 1e-6) and unit agree and the spans are within ``MAX_DISTANCE`` characters;
matching is one-to-one, nearest first.

Usage: ``score_document(raw_text, predicted, gold_rows)`` → :class:`DocScore`;
``combine(scores)`` for totals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.pipeline.normalize import detect_script, fold_width, normalize, normalize_fragment
from streams.pipeline.types import Metric

MAX_DISTANCE = 12
_LINEBREAK = re.compile(r"\n[ \t\u3000]*")


@dataclass(slots=True)
class Match:
    gold: dict[str, Any]
    predicted: Metric


@dataclass(slots=True)
class DocScore:
    name: str = ""
    n_predicted: int = 0
    n_gold: int = 0
    matches: list[Match] = field(default_factory=list)
    false_positives: list[Metric] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return len(self.matches) / self.n_predicted if self.n_predicted else 1.0

    @property
    def recall(self) -> float:
        return len(self.matches) / self.n_gold if self.n_gold else 1.0

    def accuracy(self, key: str) -> float:
        """Share of matched rows whose ``key`` (metric, topic, qualifier, region, year, ref_year,
        year_basis) is right; only rows whose gold has the key count (seed gold has no ref_year)."""
        scored = [m for m in self.matches if key in m.gold]
        if not scored:
            return 1.0
        return sum(1 for m in scored if getattr(m.predicted, key, None) == m.gold[key]) / len(scored)

    @property
    def subject_overlap(self) -> float:
        """Mean share of the gold subject's characters found in the predicted subject."""
        if not self.matches:
            return 1.0
        total = 0.0
        for m in self.matches:
            gold_chars = set(m.gold.get("subject") or "")
            if gold_chars:
                total += len(gold_chars & set(m.predicted.subject)) / len(gold_chars)
        return total / len(self.matches)


def _flatten(text: str, script: str) -> str:
    return _LINEBREAK.sub("", normalize_fragment(text, script)).strip()  # type: ignore[arg-type]


def _gold_position(norm_text: str, raw_text: str, row: dict[str, Any], script: str) -> int:
    raw_len = len(raw_text)
    span = _flatten(row["span"], script)
    sentence = _flatten(row["sentence"], script)
    raw_sentence = row["sentence"]
    # The span's own offset inside its sentence (``find`` would hit "36人" inside "436人").
    offset_in_sentence = raw_sentence.find(row["span"])
    at = raw_text.find(raw_sentence)
    while at != -1 and at <= row["char_start"]:
        if at + len(raw_sentence) >= row["char_end"]:
            offset_in_sentence = row["char_start"] - at
        at = raw_text.find(raw_sentence, at + 1)
    guess = int(row["char_start"] * len(norm_text) / max(raw_len, 1))
    candidates: list[int] = []
    start = norm_text.find(sentence)
    while start != -1:
        prefix = _flatten(raw_sentence[:offset_in_sentence], script) if offset_in_sentence >= 0 else ""
        inner = sentence.find(span, max(len(prefix) - 2, 0))
        if inner == -1:
            inner = sentence.find(span)
        if inner != -1:
            candidates.append(start + inner)
        start = norm_text.find(sentence, start + 1)
    if not candidates:
        start = norm_text.find(span)
        while start != -1:
            candidates.append(start)
            start = norm_text.find(span, start + 1)
    if not candidates:
        return guess
    return min(candidates, key=lambda c: abs(c - guess))


def _same_value(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def score_document(
    raw_text: str, predicted: Sequence[Metric], gold_rows: Iterable[dict[str, Any]], name: str = ""
) -> DocScore:
    """Match ``predicted`` (offsets into ``normalize(raw_text).text``) to ``gold_rows``."""
    norm_text = normalize(raw_text).text
    script = detect_script(fold_width(raw_text))
    gold = list(gold_rows)
    positions = [_gold_position(norm_text, raw_text, row, script) for row in gold]
    pairs: list[tuple[int, int, int]] = []
    for gi, row in enumerate(gold):
        for pi, pred in enumerate(predicted):
            if pred.unit == row["unit"] and _same_value(pred.value, float(row["value"])):
                distance = abs(pred.char_start - positions[gi])
                if distance <= MAX_DISTANCE:
                    pairs.append((distance, gi, pi))
    pairs.sort()
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    score = DocScore(name=name, n_predicted=len(predicted), n_gold=len(gold))
    for _, gi, pi in pairs:
        if gi in used_gold or pi in used_pred:
            continue
        used_gold.add(gi)
        used_pred.add(pi)
        score.matches.append(Match(gold=gold[gi], predicted=predicted[pi]))
    score.false_positives = [p for i, p in enumerate(predicted) if i not in used_pred]
    score.missed = [g for i, g in enumerate(gold) if i not in used_gold]
    return score


def combine(scores: Sequence[DocScore], name: str = "all") -> DocScore:
    total = DocScore(name=name)
    for s in scores:
        total.n_predicted += s.n_predicted
        total.n_gold += s.n_gold
        total.matches.extend(s.matches)
        total.false_positives.extend(s.false_positives)
        total.missed.extend(s.missed)
    return total


def _scored(score: DocScore, key: str) -> str:
    """The accuracy of ``key``, or ``n/a`` when the gold does not have it (the seeds' has no ref_year)."""
    return f"{score.accuracy(key):.3f}" if any(key in m.gold for m in score.matches) else "n/a"


def format_table(scores: Sequence[DocScore]) -> str:
    """A per-document table plus the total row."""
    header = f"{'doc':<6}{'pred':>6}{'gold':>6}{'match':>6}{'P':>7}{'R':>7}{'metric':>8}{'topic':>7}{'qual':>7}{'year':>7}{'ref_yr':>7}{'basis':>7}{'region':>8}{'subj':>7}"
    lines = [header]
    for s in [*scores, combine(scores)]:
        lines.append(
            f"{s.name:<6}{s.n_predicted:>6}{s.n_gold:>6}{len(s.matches):>6}{s.precision:>7.3f}{s.recall:>7.3f}"
            f"{s.accuracy('metric'):>8.3f}{s.accuracy('topic'):>7.3f}{s.accuracy('qualifier'):>7.3f}"
            f"{s.accuracy('year'):>7.3f}{_scored(s, 'ref_year'):>7}{_scored(s, 'year_basis'):>7}"
            f"{s.accuracy('region'):>8.3f}{s.subject_overlap:>7.3f}"
        )
    return "\n".join(lines)
