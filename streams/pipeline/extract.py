"""Quantitative metrics from a normalized document (DESIGN.md "The analysis contract").

For each sentence the scanner finds number words (Arabic with thousands separators and
decimals, Chinese numerals of two or more characters), reads a multiplier (万/亿/…), an inner
approximation (余/多), a second number of a range (``3至5万元``, ``1,800元至2,600元``,
``三四百人``), the unit (``rules/metrics.json``: surface unit → base unit and factor) or, for a
bare 万/亿 count, the noun that carries the unit (``1.77万贫困人口`` → 人), and adjacent
qualifiers (``近``/``超过``/… before, ``左右``/``以上``/… after). A qualifier away from the number
(``至少配备1名``, ``约占…的68%``) or shared by an enumeration (``分别不超过0.3万元、0.5万元和1万元``)
is found in the clause before it. Figures without a base unit, inside 《…》 or short quotes,
after 第, glued to Latin letters, ``?``/U+FFFD, ``:`` or ``+``, phone numbers and time spans
(``两个多小时``) are not metrics.

Each metric gets ``subject`` (the words before/after it, trimmed), ``metric``/``topic`` from the
lexicon rules, ``year`` (a year written earlier in the same sentence that governs it — following
the devset convention, 今年/去年 give ``None`` even when the publication date is known) and
``region`` (全省/全市 → that ancestor of the document region; else a region named in the
sentence, else the paragraph, inside the document region; else the document region; else
``default_region``).
"""

from __future__ import annotations

import datetime
import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

from schemas.models import MetricResult
from streams.pipeline.lexicon import MetricLexicon
from streams.pipeline.numbers import CN_DIGITS, MULTIPLIERS, parse_arabic, parse_cn_integer, parse_cn_range
from streams.pipeline.regions import (
    Region,
    is_within,
    main_region_of,
    most_specific,
    region_by_name,
    resolve_mentions,
    scan_mentions,
)
from streams.pipeline.types import NormalizedDoc, Paragraph, Sentence

_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]{2,}")
_MULTIPLIER = re.compile("|".join(sorted(MULTIPLIERS, key=len, reverse=True)))
_SINGLE_CN = re.compile(r"(?<![零〇一二两三四五六七八九十百千万亿])[二两三四五六七八九十](?![零〇一二两三四五六七八九十百千万亿])")
_HAS_NUMERAL = re.compile(r"[\d零〇一二两三四五六七八九十百千]")
_ENUM_SPLIT = re.compile(r"、")
_ENUM_INTRO = re.compile(r"[^，,；;。：:、—\d]{1,8}(?:——|：|:)")
_ENUM_AFTER_SPLIT = re.compile(r"、|和|及|与")
_NOUN_PHRASE = re.compile(r"[^\d之和与及、，,；;。：:！？!?\n“”（）()]+")
_PARAGRAPH_END = re.compile(r"[。！？!?；;：:…]+[”’」』）)】》\"']*$")
_LIST_MARKERS = ("——", "—")
_CITY_SCOPE = ("全市", "我市")
_RANGE_SEP = re.compile(r"至|到|—{1,2}|–|~|-")
_APPROX_INNER = re.compile(r"余|多")
_DELIMS = "，,；;。：:、！？!?\n"
_CLAUSE_DELIMS = "，,；;。：:！？!?\n"
_BAD_BEFORE = set("第.:+/?\ufffd#@")
_BAD_AFTER = set(":+/?\ufffd")
_SUBJECT_NOISE = re.compile(r"[“”\"《》（）()\s]")
_FIGURE_CHARS = re.compile(r"[\d.,%]+(?:万|亿)?")
_GAP_ONLY_CONNECTIVES = re.compile(r"[、和及与或以\s]*")
_GENERIC_METRICS = ("other", "poverty_population", "poverty_households")
_YEAR_RANGE_HEAD = re.compile(r"\d年?[-—~至到]$")
_FROM = re.compile(r"[从由][^，,；;。\d]{0,6}$")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_YEAR_BLOCKERS = ("较", "比", "与", "同", "相比", "对比")
_YEAR_NAME_WORDS = ("会议", "方案", "要点", "计划", "规划", "意见", "通知", "办法", "大会")
_YEAR_WORDS = re.compile(r"(?:19|20)\d{2}年(?:底|末|初|上半年|下半年|前三季度|全年)?的?")
_INHERIT_PREFIXES = (
    "其中", "较", "比", "同比", "相比", "降至", "降到", "下降到", "下降至", "提高到", "提高至", "提升到", "增加到", "增至", "上升到", "上升至",
)  # fmt: skip


@dataclass(slots=True)
class _Figure:
    start: int
    end: int
    value: float
    low: float | None
    high: float | None
    unit: str
    qualifier: str


@dataclass(frozen=True, slots=True)
class _Number:
    end: int
    value: float
    cn_range: tuple[float, float] | None
    approx: bool
    factor: float


def _left_char(text: str, index: int) -> str:
    return text[index - 1] if index > 0 else ""


def _parse_token(token: str) -> tuple[float | None, tuple[float, float] | None]:
    if token[0].isdigit():
        return parse_arabic(token), None
    if not any(c in CN_DIGITS for c in token):
        return None, None  # 千万 / 百万 as words
    cn_range = parse_cn_range(token)
    if cn_range is not None:
        return None, cn_range
    value = parse_cn_integer(token)
    return (float(value) if value is not None else None), None


class _Scanner:
    """Reads the figures of one sentence."""

    def __init__(self, text: str, lexicon: MetricLexicon) -> None:
        self.text = text
        self.lex = lexicon
        self.blocked = _blocked_spans(text)

    def _unit_at(self, pos: int) -> tuple[str, str, float] | None:
        match = self.lex.unit_regex.match(self.text, pos)
        if match is None:
            return None
        surface = match.group()
        base, factor = self.lex.units[surface]
        need = self.lex.units_needing_context.get(surface)
        if need and need not in self.text:
            return None
        if surface[-1].isascii() and surface[-1].isalpha():
            after = self.text[pos + len(surface) : pos + len(surface) + 1]
            if after.isascii() and after.isalnum():
                return None
        return surface, base, factor

    def _multiplier_at(self, pos: int) -> tuple[int, float]:
        match = _MULTIPLIER.match(self.text, pos)
        if match and not self._unit_at(pos):
            return match.end(), MULTIPLIERS[match.group()]
        return pos, 1.0

    def _bare_noun_at(self, pos: int) -> tuple[int, str] | None:
        for unit, nouns in self.lex.bare_count_nouns.items():
            for noun in nouns:
                if self.text.startswith(noun, pos):
                    return pos + len(noun), unit
        return None

    def _bare_noun_before(self, start: int, end: int) -> str | None:
        """``总人口16.5万，``: a bare 万/亿 count right after a noun that carries its unit."""
        if end < len(self.text) and self.text[end] not in _CLAUSE_DELIMS:
            return None
        for unit, nouns in self.lex.bare_count_nouns_before.items():
            if any(self.text.endswith(noun, 0, start) for noun in nouns):
                return unit
        return None

    def _names_enumeration(self, start: int, end: int) -> bool:
        """``完成五十亩、南村、长岭背…``: a Chinese-numeral word among names without figures."""
        if self.text[start].isdigit():
            return False
        neighbours: list[str] = []
        if self.text.startswith("、", end):
            stop = end + 1
            while stop < len(self.text) and self.text[stop] not in _DELIMS:
                stop += 1
            neighbours.append(self.text[end + 1 : stop])
        if _left_char(self.text, start) == "、":
            begin = start - 1
            while begin > 0 and self.text[begin - 1] not in _DELIMS:
                begin -= 1
            neighbours.append(self.text[begin : start - 1])
        return any(n and not _HAS_NUMERAL.search(n) for n in neighbours)

    def closes_quote_after(self, end: int) -> bool:
        """A closing ” later in the clause with no opening “ first: the figure is quoted."""
        for i in range(end, len(self.text)):
            char = self.text[i]
            if char == "”":
                return True
            if char == "“" or _is_delim(self.text, i, _CLAUSE_DELIMS):
                return False
        return False

    def enumerated_count_at(self, start: int) -> _Figure | None:
        """``阳光兔业、瑞星牧业、丰之源三家``: one Chinese digit summing up an enumeration.

        The digit counts when the items listed right before it (``A、B、C``, optionally ``…等``)
        or right after its noun (``两项活动——A和B``) are as many as it says (``等``: at most).
        """
        value = CN_DIGITS.get(self.text[start]) or (10 if self.text[start] == "十" else 0)
        if value < 2:
            return None
        unit = next((u for u in self.lex.enumerated_count_units if self.text.startswith(u, start + 1)), None)
        if unit is None:
            return None
        before = self.text[_last_delim_before(self.text, start, _CLAUSE_DELIMS) + 1 : start]
        items = _ENUM_SPLIT.split(before)
        if before.endswith("等") and 2 <= len(items) <= value:
            return _Figure(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        if len(items) == value and all(items):
            return _Figure(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        after = _ENUM_INTRO.match(self.text, start + 1 + len(unit))
        if after:
            listed = self.text[after.end() :].rstrip("。！？!?")
            if not any(c in _CLAUSE_DELIMS for c in listed) and len(_ENUM_AFTER_SPLIT.split(listed)) == value:
                return _Figure(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        return None

    def _number_at(self, pos: int) -> _Number | None:
        """A number (with multiplier and 余/多) at ``pos``."""
        match = _NUMBER.match(self.text, pos)
        if not match:
            return None
        value, cn_range = _parse_token(match.group())
        if value is None and cn_range is None:
            return None
        end, factor = self._multiplier_at(match.end())
        approx = False
        inner = _APPROX_INNER.match(self.text, end)
        if inner:
            end, approx = inner.end(), True
            if factor == 1.0:  # 7300余万元: 余 between the number and its multiplier
                end, factor = self._multiplier_at(end)
        if cn_range is not None:
            return _Number(end, 0.0, (cn_range[0] * factor, cn_range[1] * factor), approx, factor)
        assert value is not None
        return _Number(end, value * factor, None, approx, factor)

    def valid_start(self, start: int, token: str) -> bool:
        if any(a <= start < b for a, b in self.blocked):
            return False
        before = _left_char(self.text, start)
        if before in _BAD_BEFORE or before.isdigit() or (before.isascii() and before.isalpha()):
            return False
        if token[0].isdigit():
            digits = token.replace(",", "").split(".")[0]
            if (len(digits) >= 7 and "," not in token and "." not in token) or (len(digits) > 1 and digits[0] == "0" and "." not in token):
                return False
            if self.text.startswith("-", start + len(token)) and self.text[start + len(token) + 1 : start + len(token) + 2].isdigit():
                nxt = _NUMBER.match(self.text, start + len(token) + 1)
                if nxt and len(nxt.group()) >= 5:
                    return False  # 0718-82613200
        return True

    def figure_at(self, start: int) -> _Figure | None:
        first = self._number_at(start)
        if first is None:
            return None
        pos, value, approx = first.end, first.value, first.approx
        low, high = first.cn_range if first.cn_range else (None, None)
        unit_info = self._unit_at(pos)
        if unit_info is None and first.cn_range is None:
            ranged = self._range_tail(first)
            if ranged is not None:
                pos, low, high, unit_info = ranged
        elif unit_info is not None and first.cn_range is None:
            ranged = self._range_tail_with_unit(start, first, unit_info)
            if ranged is not None:
                end, low, high = ranged
                return self._finish(start, end, low, high, unit_info[1], "approx")
        if unit_info is None:
            if first.factor < 10_000:
                return None
            bare = self._bare_noun_at(pos)
            if bare is None:
                noun_unit = self._bare_noun_before(start, pos)
                if noun_unit is None:
                    return None
                bare = (pos, noun_unit)
            return self._finish(start, bare[0], low, high, bare[1], "approx" if approx else "exact", value)
        surface, base, factor = unit_info
        end = pos + len(surface)
        if base == "个" and any(self.text.startswith(w, end) for w in self.lex.excluded_after_ge):
            return None
        if self.text[end : end + 1] in _BAD_AFTER:
            return None
        if base in ("亩", "家", "户") and not self.text[start].isdigit() and self.text.startswith(self.lex.name_suffixes, end):
            return None  # 五十亩村, 三家村: a place name
        if self._names_enumeration(start, end):
            return None
        if low is not None and high is not None:
            low, high = low * factor, high * factor
        return self._finish(start, end, low, high, base, "approx" if approx else "exact", value * factor)

    def _range_tail(self, first: _Number) -> tuple[int, float, float, tuple[str, str, float]] | None:
        """``3至5万元`` / ``20—30人``: the second number carries the unit (and the multiplier)."""
        sep = _RANGE_SEP.match(self.text, first.end)
        if not sep:
            return None
        second = self._number_at(sep.end())
        if second is None or second.cn_range is not None:
            return None
        unit_info = self._unit_at(second.end)
        if unit_info is None:
            return None
        low = first.value * (second.factor if first.factor == 1.0 else 1.0)
        if low >= second.value:
            return None
        return second.end, low, second.value, unit_info

    def _range_tail_with_unit(
        self, start: int, first: _Number, unit_info: tuple[str, str, float]
    ) -> tuple[int, float, float] | None:
        """``1,800元至2,600元``: both numbers carry the same unit."""
        surface, _, factor = unit_info
        sep = _RANGE_SEP.match(self.text, first.end + len(surface))
        if not sep or sep.group() == "-" or self._from_before(start):
            return None
        second = self._number_at(sep.end())
        if second is None or second.cn_range is not None or not self.text.startswith(surface, second.end):
            return None
        if first.value >= second.value:
            return None
        return second.end + len(surface), first.value * factor, second.value * factor

    def _from_before(self, start: int) -> bool:
        """``从3,960元到4,680元`` is a change (two figures), not a range."""
        return bool(_FROM.search(self.text, 0, start))

    def _finish(
        self,
        start: int,
        end: int,
        low: float | None,
        high: float | None,
        unit: str,
        qualifier: str,
        value: float | None = None,
    ) -> _Figure:
        if low is not None and high is not None:
            value, qualifier = (low + high) / 2, "approx"
        for word, kind in self.lex.qualifiers_after.items():
            if self.text.startswith(word, end):
                end += len(word)
                qualifier = kind if qualifier == "exact" or kind == "approx" else qualifier
                break
        for word, kind in self.lex.qualifiers_before.items():
            if self.text.endswith(word, 0, start):
                heads = self.lex.qualifier_noun_heads.get(word, ())
                if any(self.text.endswith(h, 0, start - len(word)) for h in heads):
                    break  # 动力不足6户: 不足 belongs to the category name
                start -= len(word)
                qualifier = kind if qualifier == "exact" else qualifier
                break
        assert value is not None
        return _Figure(start, end, value, low, high, unit, qualifier)


def _blocked_spans(text: str) -> list[tuple[int, int]]:
    """《…》 titles and short quoted names (“四个不摘”, “351”)."""
    spans: list[tuple[int, int]] = []
    for opener, closer, limit in (("《", "》", 200), ("“", "”", 12), ("\"", "\"", 12), ("「", "」", 12)):
        index = text.find(opener)
        while index != -1:
            close = text.find(closer, index + 1)
            if close == -1:
                break
            if close - index <= limit:
                spans.append((index, close + 1))
            index = text.find(opener, close + 1)
    return spans


def _candidates(text: str) -> list[tuple[int, str, bool]]:
    """(start, token, single Chinese digit) of every number word, in text order."""
    found = [(m.start(), m.group(), False) for m in _NUMBER.finditer(text)]
    singles = [(m.start(), m.group(), True) for m in _SINGLE_CN.finditer(text)]
    if not singles:
        return found
    return sorted(found + singles)


def _scan_sentence(text: str, lexicon: MetricLexicon) -> tuple[list[_Figure], list[tuple[int, int]]]:
    """The figures of a sentence and its blocked spans (titles, short quotes)."""
    candidates = _candidates(text)
    if not candidates:
        return [], []
    scanner = _Scanner(text, lexicon)
    figures: list[_Figure] = []
    consumed = 0
    for start, token, single in candidates:
        if start < consumed or not scanner.valid_start(start, token):
            continue
        try:
            figure = scanner.enumerated_count_at(start) if single else scanner.figure_at(start)
        except (ValueError, OverflowError, ArithmeticError):
            figure = None
        if figure is None or not math.isfinite(figure.value) or scanner.closes_quote_after(figure.end):
            continue
        if figures and figure.start < figures[-1].end:
            figure.start = figures[-1].end
        figures.append(figure)
        consumed = figure.end
    return figures, scanner.blocked


# ---------------------------------------------------------------- context: words, qualifiers


def _is_delim(text: str, i: int, delims: str) -> bool:
    """``text[i]`` ends a segment; a comma between digits is a thousands separator."""
    char = text[i]
    if char not in delims:
        return False
    return not (char == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit())


@lru_cache(maxsize=8)
def _delim_regex(delims: str) -> re.Pattern[str]:
    """Finds what :func:`_is_delim` accepts: a delimiter, a comma only when not between digits."""
    others = "".join(re.escape(c) for c in delims if c != ",")
    comma = r"|(?<![0-9]),|,(?![0-9])" if "," in delims else ""
    return re.compile(f"[{others}]{comma}")


@lru_cache(maxsize=256)
def _delim_positions(text: str, delims: str) -> tuple[int, ...]:
    return tuple(m.start() for m in _delim_regex(delims).finditer(text))


def _last_delim_before(text: str, index: int, delims: str) -> int:
    positions = _delim_positions(text, delims)
    at = bisect_left(positions, index) - 1
    return positions[at] if at >= 0 else -1


def _first_delim_after(text: str, index: int) -> int:
    """Position of the first clause delimiter at or after ``index`` (``len(text)`` if none)."""
    positions = _delim_positions(text, _CLAUSE_DELIMS)
    at = bisect_left(positions, index)
    return positions[at] if at < len(positions) else len(text)


def _segment_start(text: str, index: int, floor: int) -> int:
    return max(floor, _last_delim_before(text, index, _DELIMS) + 1)


def _right_words(text: str, end: int) -> str:
    """Words after a figure up to the clause end, figures removed (``3.18万户8.95万名脱贫人口``).

    An enumeration comma is crossed only when a noun follows the unit directly
    (``1,206名高血压、糖尿病患者``), not in ``龙头企业46家、合作社…``.
    """
    crosses_enumeration = end < len(text) and not _is_delim(text, end, _DELIMS)
    stop = min(len(text), end + 30, _first_delim_after(text, end))
    if not crosses_enumeration:
        enumeration = text.find("、", end, stop)
        if enumeration != -1:
            stop = enumeration
    return _FIGURE_CHARS.sub("", text[end:stop])


def _noun_phrase(text: str, end: int) -> str:
    """The words right after a count unit up to a particle, a conjunction or the clause end."""
    match = _NOUN_PHRASE.match(text, end)
    return match.group() if match else ""


def _clause_start(text: str, index: int) -> int:
    return _last_delim_before(text, index, _CLAUSE_DELIMS) + 1


def _away_qualifier(text: str, figure: _Figure, lexicon: MetricLexicon) -> str | None:
    """A qualifier standing away from the figure in its clause (see module doc)."""
    clause = text[_clause_start(text, figure.start) : figure.start]
    for word, kind in lexicon.qualifiers_before.items():
        at = clause.rfind(word)
        if at == -1 or (word == "超过" and clause[at - 1 : at] == "不"):
            continue
        between = clause[at + len(word) :]
        if not between:
            continue
        if re.fullmatch(r"(?:[\d.,万亿千百]+[^\s，,；;。、和及与]{0,4}?[、和及与])+", between):
            return kind
        if word in ("近",):
            continue
        verb = next((v for v in lexicon.qualifier_verbs if between.startswith(v)), None)
        if verb and len(between) <= 14 and not any(c.isdigit() for c in between):
            return kind
    return None


@lru_cache(maxsize=16)
def _affix_patterns(prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    head = re.compile("^(?:" + "|".join(map(re.escape, prefixes)) + ")+") if prefixes else re.compile(r"^\b\B")
    tail = re.compile("(?:" + "|".join(map(re.escape, suffixes)) + ")+$") if suffixes else re.compile(r"^\b\B")
    return head, tail


def _strip_subject(words: str, lexicon: MetricLexicon) -> str:
    """The figure's words without years, quotes, leading scope words and trailing verbs."""
    words = _SUBJECT_NOISE.sub("", _YEAR_WORDS.sub("", words))
    head, tail = _affix_patterns(lexicon.subject_strip_prefixes, lexicon.subject_strip_suffixes)
    stripped = tail.sub("", head.sub("", words))
    return (stripped or words)[:24] if stripped else ""


# ---------------------------------------------------------------- year and region


def _year_for(text: str, index: int, blocked: list[tuple[int, int]] | None = None) -> int | None:
    """The last year written before ``index`` in the sentence that governs what follows it
    (``blocked``: the sentence's :func:`_blocked_spans`, when already known)."""
    if "年" not in text:
        return None
    year: int | None = None
    if blocked is None:
        blocked = _blocked_spans(text)
    for match in _YEAR.finditer(text, 0, index):
        start = match.start()
        if any(a <= start < b for a, b in blocked):
            continue
        if any(text.endswith(w, 0, start) for w in _YEAR_BLOCKERS):
            continue
        if _YEAR_RANGE_HEAD.search(text, 0, start):
            continue  # second year of 2016—2020年
        clause_end = _first_delim_after(text, match.end())
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
                return find_regions_province(doc)  # 高于全省平均增速0.8个百分点 is the city's
            if "全市" in left and region.level > 2:
                return find_regions_city(doc)
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


def find_regions_province(full_name: str) -> str:
    region = region_by_name(full_name)
    if region is None:
        return full_name
    from streams.pipeline.regions import province_of

    return province_of(full_name) or full_name


def find_regions_city(full_name: str) -> str:
    region = region_by_name(full_name)
    if region is None:
        return full_name
    for name in (full_name[:i] for i in range(len(full_name), 0, -1)):
        candidate = region_by_name(name)
        if candidate is not None and candidate.level == 2 and candidate.code == region.city_code:
            return name
    return full_name


# ---------------------------------------------------------------- public API


def extract_metrics(
    doc: NormalizedDoc,
    *,
    lexicon: MetricLexicon,
    published_at: datetime.date | None = None,
    default_region: str = "",
) -> list[MetricResult]:
    """All metrics of ``doc`` in text order (see module doc). ``published_at`` is accepted for
    the contract but, per the devset convention, relative years (今年/去年) are not resolved."""
    del published_at
    mentions = scan_mentions(doc.text)
    doc_region = main_region_of([r for _, r in resolve_mentions(mentions)]) or default_region
    regions = _RegionContext(doc_region=doc_region, paragraphs=doc.paragraphs, mentions=mentions)
    results: list[MetricResult] = []
    for sentence in doc.sentences:
        results.extend(_sentence_metrics(sentence, lexicon, regions))
    return results


def _sentence_metrics(sentence: Sentence, lexicon: MetricLexicon, regions: _RegionContext) -> list[MetricResult]:
    text = sentence.text
    figures, blocked = _scan_sentence(text, lexicon)
    if not figures:
        return []
    results: list[MetricResult] = []
    previous_end = 0
    prev_left = ""
    history: list[tuple[str, str, str, str]] = []  # (unit, metric, topic, subject)
    breakdown: list[tuple[str, str, str, str]] | None = None  # the figures before an open 其中
    head_end = _first_delim_after(text, 0) if figures else 0
    head = text[:head_end] if text[head_end : head_end + 1] in ("：", ":") else ""  # 按致贫原因分为：
    for figure in figures:
        gap_text = text[previous_end : figure.start]
        if "其中" in gap_text:
            breakdown = list(history)
        elif "；" in gap_text or ";" in gap_text:
            breakdown = None
        seg_start = _segment_start(text, figure.start, previous_end)
        left = text[seg_start : figure.start]
        right = _right_words(text, figure.end)
        gap = text[previous_end : figure.start] if previous_end else "，"
        bare_left = not _strip_subject(left, lexicon) or _GAP_ONLY_CONNECTIVES.fullmatch(left)
        if prev_left and bare_left and not any(c in _CLAUSE_DELIMS for c in gap):
            left = prev_left  # 2.06万户6.13万人, 0.3万元、0.5万元和1万元: the words of the figure before
        prev_left = left
        previous_figure_end, previous_end = previous_end, figure.end
        metric, topic = lexicon.classify(left, right, figure.unit)
        if metric == "other" and topic is None:
            wider = text[max(_clause_start(text, figure.start), previous_figure_end) : figure.start]
            metric, topic = lexicon.classify(wider, right, figure.unit)
        if metric != "other" and figure.unit in lexicon.head_noun_units:
            phrase = _noun_phrase(text, figure.end)
            if phrase:  # 全县56个产业扶贫基地之一: the noun after the unit is what is counted
                metric, topic = lexicon.classify(phrase, "", figure.unit)
        if metric == "other" and topic is None and head and figure.start > len(head):
            metric, topic = lexicon.classify(head, "", figure.unit)  # 按致贫原因分为：…缺劳力23户
        inherited = _inherit(text[seg_start : figure.start], figure.unit, history, metric)
        if inherited is None and breakdown is not None and metric in _GENERIC_METRICS:
            inherited = _parent(figure.unit, breakdown, metric)  # 其中，贫困人口89户309人，非贫困人口16户
        inherited_topic = None
        if inherited is not None:
            metric, inherited_topic = inherited
            topic = lexicon.metric_topics.get(metric)
        if topic is None:
            topic = lexicon.topic_of(f"{left} {right}") or inherited_topic
            if topic is None and metric == "growth_rate" and history:
                topic = history[-1][2]
            if topic is None:
                topic = "other"
        qualifier = figure.qualifier
        if qualifier == "exact":
            qualifier = _away_qualifier(text, figure, lexicon) or qualifier
        subject = _strip_subject(left, lexicon)
        if figure.unit in ("人", "户", "个", "家", "所", "座", "处", "支") and right:
            noun = _strip_subject(right, lexicon)
            subject = (subject + noun)[:24] if len(subject) < 6 else subject
        if metric == "growth_rate" and history and len(subject) <= 6:
            subject = history[-1][3] + subject
        history.append((figure.unit, metric, topic, subject))
        start, end = sentence.start + figure.start, sentence.start + figure.end
        results.append(
            MetricResult(
                sentence=text,
                span=text[figure.start : figure.end],
                char_start=start,
                char_end=end,
                value=_clean(figure.value),
                value_low=None if figure.low is None else _clean(figure.low),
                value_high=None if figure.high is None else _clean(figure.high),
                unit=figure.unit,
                qualifier=qualifier,
                subject=subject or left.strip()[-12:],
                metric=metric,
                topic=topic,
                region=regions.for_figure(sentence, left, figure.start, figure.unit),
                year=_year_for(text, figure.start, blocked),
                paragraph_index=sentence.paragraph_index,
            )
        )
    return results


def _inherit(
    left: str, unit: str, history: list[tuple[str, str, str, str]], own_metric: str
) -> tuple[str, str] | None:
    """``其中…``/``较上年增加…``/``降至…`` figures take the metric of the last one with the same unit.

    After ``其中`` a figure keeps its own metric when its words name a specific one
    (``其中428名毕业生…就业``).
    """
    stripped = _YEAR_WORDS.sub("", left).strip("，,；; ")
    if own_metric == "growth_rate" or not stripped.startswith(_INHERIT_PREFIXES):
        return None
    if stripped.startswith("其中") and own_metric not in _GENERIC_METRICS:
        return None
    return _parent(unit, history, own_metric)


def _parent(unit: str, history: list[tuple[str, str, str, str]], own_metric: str) -> tuple[str, str] | None:
    """Metric and topic of the last earlier figure with ``unit``; a bare ``other`` parent does not
    override a figure's own key (``带动贫困户193户…其中脱贫47户``)."""
    for prev_unit, metric, topic, _ in reversed(history):
        if prev_unit == unit:
            if metric == "other" and own_metric != "other":
                return None
            return metric, topic
    return None


def _clean(value: float) -> float:
    rounded = round(value, 6)
    return float(int(rounded)) if rounded.is_integer() else rounded
