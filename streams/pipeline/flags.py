"""Consistency flags: the ids of the rules of ``rules/flags.json`` an extracted figure breaks.

A flag says the *text* contradicts itself (a share above 100%, a part above its total), so an
analyst checks the source before using the figure; it never changes a value. The rules, their
explanations and all their words and thresholds live in ``flags.json`` (validated by
:class:`~streams.pipeline.rulemodels.FlagsRules`); this module only applies them. A figure's
*clause* is the sentence text from the previous clause delimiter (``，；。：！？``) up to the figure.

Rules of scope ``row`` look at one figure, those of scope ``document`` at the figures of one article
together; rules of scope ``corpus`` (``median_outlier``, ``poverty_rate_after_exit``) are evaluated
by ClickHouse views across facts and skipped here.

- ``rate_above_100`` (row): a figure in one of ``units`` (``%``) above ``max_value``, unless its
  metric is one of ``growth_metrics`` or its clause, or its words after it up to the clause end,
  contain one of ``growth_words`` (增长 150% is a change) or ``ratio_words`` (完成目标任务的 225%
  compares with a target). 个百分点 is its own unit and never a share.
- ``part_above_total`` (document): a cue word (其中…) at the start of a clause opens a scope up to
  the next ``part_ends`` mark (；) or the sentence end; each figure in it is a part, unless its unit
  is one of ``exempt_units`` (a subgroup's rate is no part of the overall rate) or its clause has an
  ``exempt_words`` word (per-capita and change figures). Its total is the nearest figure with the same
  unit before the cue in the same sentence, or else in the paragraph's earlier sentences; a total
  whose clause has an ``exempt_words`` word is no total. A part above its total is flagged (the part
  only: 共有职工500人，其中女职工320人、党员60人 has two parts and no flag).
- ``households_above_people`` (document): a ``household_unit`` figure directly followed by a
  ``people_unit`` figure (only one of ``gaps`` between, ``2.06万户6.13万人``), or one of them right
  after the other in ``brackets`` (``450人（120户）``), counts the same group: more households than
  people flags both figures.
- ``per_capita_above_total`` (document): a figure whose clause has one of ``per_capita_words``
  above the nearest earlier figure of the sentence with the same unit that is not per-capita itself,
  when that figure's clause names a total (``total_words``) and no change (``exempt_words``); the
  per-capita figure is flagged.

The comparing rules read an approximate or at-least figure without a written range (``500余人``,
``300人以上``) as up to ``approx_factor`` times its value, so ``500余人，其中520人`` is no error.
Flags are listed in the file's rule order; the functions are pure and deterministic.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Any

from streams.pipeline.clauses import CLAUSE_DELIMS, clause_start, first_delim_after, is_delim
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.pipeline.rulemodels import FlagsRules, read_json, validated
from streams.pipeline.types import Metric, NormalizedDoc, Sentence

DEFAULT_FLAGS_PATH: Traversable = DEFAULT_RULES_DIR / "flags.json"


@dataclass(frozen=True, slots=True)
class FlagRule:
    """One rule of ``flags.json``: its id, scope, explanations and parameters (as in the file)."""

    id: str
    scope: str
    explanation: str
    explanation_en: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlagRules:
    """The compiled ``flags.json``: every rule in file order (corpus rules included)."""

    version: str
    rules: tuple[FlagRule, ...]

    def explanation(self, rule_id: str) -> str:
        """The Chinese explanation of ``rule_id`` (KeyError for an unknown id)."""
        return {rule.id: rule.explanation for rule in self.rules}[rule_id]


@dataclass(frozen=True, slots=True)
class Placed:
    """A metric with its sentence and its clause's words (before it, and after it to the clause end)."""

    metric: Metric
    text: str  # its sentence
    sentence_index: int
    paragraph_start: int  # index of the first sentence of its paragraph
    offset: int  # of the figure in its sentence
    end: int
    left: str
    right: str


def parse_flag_rules(data: Any, name: str = "flags.json") -> FlagRules:
    """Compile the JSON document of ``flags.json`` (validated first, see
    :mod:`~streams.pipeline.rulemodels`)."""
    checked = validated(FlagsRules, data, name)
    rules = tuple(
        FlagRule(id=r["id"], scope=r["scope"], explanation=r["explanation"], explanation_en=r["explanation_en"],
                 params=r["params"])
        for r in checked["rules"]
    )
    return FlagRules(version=str(checked["version"]), rules=rules)


@lru_cache(maxsize=8)
def load_flag_rules(path: Traversable = DEFAULT_FLAGS_PATH) -> FlagRules:
    """Read a ``flags.json`` (default: the shipped one); cached per path."""
    return parse_flag_rules(read_json(path), path.name)


def flag_metrics(metrics: Sequence[Metric], doc: NormalizedDoc, rules: FlagRules) -> list[Metric]:
    """``metrics`` (offsets into ``doc.text``) with ``flags``: the ids of the row and document rules
    each breaks, in file order; corpus rules are skipped."""
    placed = place(metrics, doc)
    flags: list[list[str]] = [[] for _ in metrics]
    for rule in rules.rules:
        check = _CHECKS.get(rule.id)
        if rule.scope == "corpus" or check is None:
            continue
        for index in sorted(check(placed, rule.params)):
            flags[index].append(rule.id)
    return [m if m.flags == tuple(f) else replace(m, flags=tuple(f)) for m, f in zip(metrics, flags, strict=True)]


def place(metrics: Sequence[Metric], doc: NormalizedDoc) -> list[Placed]:
    """Each metric's sentence (by its offset) and its clause's words."""
    starts = [s.start for s in doc.sentences]
    firsts: list[int] = []
    for number, sentence in enumerate(doc.sentences):
        same = number and doc.sentences[number - 1].paragraph_index == sentence.paragraph_index
        firsts.append(firsts[-1] if same else number)
    whole = Sentence(paragraph_index=0, start=0, end=len(doc.text), text=doc.text)
    out: list[Placed] = []
    for metric in metrics:
        at = max(bisect_right(starts, metric.char_start) - 1, 0)
        sentence = doc.sentences[at] if doc.sentences else whole
        text = sentence.text
        offset = min(max(metric.char_start - sentence.start, 0), len(text))
        end = min(max(metric.char_end - sentence.start, offset), len(text))
        out.append(Placed(
            metric=metric, text=text, sentence_index=at, paragraph_start=firsts[at] if firsts else 0, offset=offset, end=end,
            left=text[clause_start(text, offset):offset], right=text[end:first_delim_after(text, end)],
        ))
    return out


@lru_cache(maxsize=16)
def _alternation(words: tuple[str, ...]) -> re.Pattern[str]:
    """Finds any of ``words``, longest first."""
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True) if w) or r"(?!)")


def _has_any(text: str, words: Iterable[str]) -> bool:
    return any(word and word in text for word in words)


def _low(metric: Metric) -> float:
    return metric.value if metric.value_low is None else min(metric.value, metric.value_low)


def _high(metric: Metric, approx_factor: float = 1.0) -> float:
    """The largest value ``metric`` may stand for: an approximate or at-least figure without a
    written range (``500余人``, ``1万多户``, ``300人以上``) up to ``approx_factor`` times its value."""
    if metric.value_high is not None:
        return max(metric.value, metric.value_high)
    return metric.value * approx_factor if metric.qualifier in ("approx", "at_least") else metric.value


def rate_above_100(placed: Sequence[Placed], params: dict[str, Any]) -> set[int]:
    """Indexes of shares/rates above ``max_value`` that no growth or ratio word explains."""
    words = [*params["growth_words"], *params["ratio_words"]]
    return {
        index for index, p in enumerate(placed)
        if p.metric.unit in params["units"] and _low(p.metric) > params["max_value"]
        and p.metric.metric not in params["growth_metrics"] and not _has_any(p.left + p.right, words)
    }


def _by_sentence(placed: Sequence[Placed]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for index, p in enumerate(placed):
        groups.setdefault(p.sentence_index, []).append(index)
    return groups


def _cue_scopes(text: str, cues: Sequence[str], ends: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) in ``text`` of each clause that opens with a cue word, up to the next end mark,
    the next cue or the sentence end."""
    starts: list[int] = []
    for match in _alternation(tuple(cues)).finditer(text):
        before = len(text[: match.start()].rstrip())
        if before == 0 or is_delim(text, before - 1, CLAUSE_DELIMS):
            starts.append(match.start())
    scopes = []
    for number, start in enumerate(starts):
        stop = starts[number + 1] if number + 1 < len(starts) else len(text)
        for mark in ends:
            found = text.find(mark, start, stop)
            if found != -1:
                stop = found
        scopes.append((start, stop))
    return scopes


def part_above_total(placed: Sequence[Placed], params: dict[str, Any]) -> set[int]:
    """Indexes of 其中-parts above the total they break down (see module doc)."""
    exempt_units, exempt_words = params["exempt_units"], params["exempt_words"]
    groups = _by_sentence(placed)
    flagged: set[int] = set()
    for sentence_index, members in groups.items():
        text = placed[members[0]].text
        for start, stop in _cue_scopes(text, params["cue_words"], params["part_ends"]):
            for index in members:
                part = placed[index]
                if not start <= part.offset < stop or part.metric.unit in exempt_units:
                    continue
                if _has_any(part.left, exempt_words):
                    continue
                total = _total_before(placed, groups, sentence_index, start, part, params["part_ends"])
                if total is not None and not _has_any(total.left, exempt_words) and _low(part.metric) > _high(
                        total.metric, params["approx_factor"]):
                    flagged.add(index)
    return flagged


def _total_before(placed: Sequence[Placed], groups: dict[int, list[int]], sentence_index: int, cue: int,
                  part: Placed, ends: Sequence[str]) -> Placed | None:
    """The figure the cue at ``cue`` breaks down, when it has ``part``'s unit (see module doc)."""
    text = part.text
    segment = max((text.rfind(mark, 0, cue) + len(mark) for mark in ends if mark in text[:cue]), default=0)
    before = [placed[i] for i in groups[sentence_index] if placed[i].end <= cue]
    in_segment = [p for p in before if p.offset >= segment]
    if in_segment:  # the cue's own clauses: their nearest figure of the part's unit, if any
        return _last_with_unit(in_segment, part)
    if before:
        return _last_with_unit(before, part)
    for earlier in range(sentence_index - 1, part.paragraph_start - 1, -1):  # the paragraph's nearest
        members = groups.get(earlier)  # sentence with figures
        if members:
            return _last_with_unit([placed[i] for i in members], part)
    return None


def _last_with_unit(candidates: Sequence[Placed], part: Placed) -> Placed | None:
    same_unit = [p for p in candidates if p.metric.unit == part.metric.unit]
    return same_unit[-1] if same_unit else None


def households_above_people(placed: Sequence[Placed], params: dict[str, Any]) -> set[int]:
    """Indexes of both figures of an ``X户Y人`` (or ``Y人（X户）``) pair with X > Y."""
    households, people = params["household_unit"], params["people_unit"]
    flagged: set[int] = set()
    for members in _by_sentence(placed).values():
        for first, second in zip(members, members[1:], strict=False):
            a, b = placed[first], placed[second]
            units = (a.metric.unit, b.metric.unit)
            if units not in ((households, people), (people, households)):
                continue
            text = a.text
            gap = text[a.end:b.offset]
            adjacent = units == (households, people) and gap in params["gaps"]
            bracketed = any(gap == opening and text.startswith(closing, b.end) for opening, closing in params["brackets"])
            if not (adjacent or bracketed):
                continue
            house, person = (a, b) if units == (households, people) else (b, a)
            if _low(house.metric) > _high(person.metric, params["approx_factor"]):
                flagged.update((first, second))
    return flagged


def per_capita_above_total(placed: Sequence[Placed], params: dict[str, Any]) -> set[int]:
    """Indexes of per-capita figures above the total before them in their sentence (see module doc)."""
    per_capita, totals, exempt = params["per_capita_words"], params["total_words"], params["exempt_words"]
    flagged: set[int] = set()
    for members in _by_sentence(placed).values():
        for number, index in enumerate(members):
            figure = placed[index]
            if not _has_any(figure.left, per_capita):
                continue
            earlier = [
                placed[i] for i in members[:number]
                if placed[i].metric.unit == figure.metric.unit and not _has_any(placed[i].left, per_capita)
            ]
            if not earlier:
                continue
            total = earlier[-1]
            if _has_any(total.left, totals) and not _has_any(total.left, exempt) and _low(figure.metric) > _high(
                    total.metric, params["approx_factor"]):
                flagged.add(index)
    return flagged


_CHECKS: dict[str, Callable[[Sequence[Placed], dict[str, Any]], set[int]]] = {
    "rate_above_100": rate_above_100,
    "part_above_total": part_above_total,
    "households_above_people": households_above_people,
    "per_capita_above_total": per_capita_above_total,
}
