"""Figures of a normalized document: value, unit, span, qualifier, and what their clause says they measure.

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

Each figure's clause is then read for evidence of what it measures: its words before and after
(a figure without words of its own shares those of the figure before it: ``2.06万户6.13万人``),
the metric key and topic the lexicon rules give them, and, for ``其中``/``较…``/``降至…`` figures, the
key of an earlier figure of the sentence with the same unit. The topics are evidence for the
paragraph classifier; :mod:`streams.pipeline.context` attaches subject, region and year.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from streams.pipeline.clauses import (
    CLAUSE_DELIMS,
    DELIMS,
    YEAR_WORDS,
    blocked_spans,
    clause_start,
    first_delim_after,
    last_delim_before,
    noun_phrase,
    right_words,
    segment_start,
    strip_subject,
)
from streams.pipeline.lexicon import MetricLexicon
from streams.pipeline.numbers import (
    CN_DIGITS,
    MULTIPLIERS,
    parse_arabic,
    parse_cn_decimal,
    parse_cn_integer,
    parse_cn_range,
)
from streams.pipeline.types import (
    DEFAULT_LIMITS,
    Limits,
    NormalizedDoc,
    Paragraph,
    Qualifier,
    Sentence,
    TooManyFigures,
)

_NUMBER = re.compile(
    r"(?=[\d零〇一二两三四五六七八九十百千万亿])"  # what every branch starts with: fails fast elsewhere
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"|百分之(?:[零〇一二两三四五六七八九十]+(?:点[零〇一二三四五六七八九]+)?|百)(?![零〇一二两三四五六七八九十百千])"
    r"|[零〇一二两三四五六七八九十百千]+点[零〇一二三四五六七八九]+(?![零〇一二两三四五六七八九十百千])"
    r"|[零〇一二两三四五六七八九十百千万亿]{2,}"
    r"|(?<![零〇一二两三四五六七八九十百千万亿\d])[十百千万](?=[把来余多])"  # 百来人, 百余户, 千多名
    r"|(?<=[上近])[百千万](?![零〇一二两三四五六七八九十百千亿\d]))"  # 上千人次, 近万名, 上万元
)
_PERCENT_WORDS = "百分之"
# 上 before a round magnitude means "as many as" (上千人次) unless it ends a word (晚上, 线上, 会上)
_UP_WORD_ENDS = set("晚线会网路马早身以之加桌山镇村县街楼台世史手头面墙天地市省区乡组队厂场")
# 近 before one: "nearly", unless it ends a word (附近, 最近, 靠近)
_NEAR_WORD_ENDS = set("附最靠邻贴")
_MANY_WORDS = ("多个", "多项", "多家", "多种", "多少", "多名", "多万", "多数", "多元")
_MAGNITUDES = {"十": 10.0, "百": 100.0, "千": 1000.0, "万": 10_000.0}
_MULTIPLIER = re.compile("|".join(sorted(MULTIPLIERS, key=len, reverse=True)))
_SINGLE_CN = re.compile(r"(?=[二两三四五六七八九十])(?<![零〇一二两三四五六七八九十百千万亿])[二两三四五六七八九十](?![零〇一二两三四五六七八九十百千万亿])")
# A quote mark or the end of a clause (CLAUSE_DELIMS; a comma between digits is a separator).
_QUOTE_OR_CLAUSE_END = re.compile(
    "(?=[“”" + re.escape(CLAUSE_DELIMS) + "])"  # what every match starts with: fails fast elsewhere
    "(?:[“”" + re.escape(CLAUSE_DELIMS.replace(",", "")) + r"]|(?<!\d),|,(?!\d))"
)
_CLAUSE_DELIM_SET = frozenset(CLAUSE_DELIMS)
_HAS_NUMERAL = re.compile(r"[\d零〇一二两三四五六七八九十百千]")
_ENUM_SPLIT = re.compile(r"、")
_ENUM_INTRO = re.compile(r"[^，,；;。：:、—\d]{1,8}(?:——|：|:)")
_ENUM_AFTER_SPLIT = re.compile(r"、|和|及|与")
_RANGE_SEP = re.compile(r"至|到|—{1,2}|–|~|-")
_APPROX_INNER = re.compile(r"余|多|来|把")
# a table row: number and unit in cells separated by tabs or spaces (粮食　15.62　万吨　3.4%)
_CELL_GAP = re.compile(r"[\t ]+")
_TABLE_GROWTH_GAP = re.compile(r"[\t ]+[-−]?")
_BAD_BEFORE = set("第.:+/?\ufffd#@")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_BAD_AFTER = set(":+/?\ufffd")
# a per-unit rate (2000元/人, 3.5万元/户, 500元/人/年): the denominators a figure's unit may take
_PER_UNIT = re.compile(r"(?:/(?:人次|人|户|亩|名|位|年|月|天|日|周|吨|斤|公斤|千克|平方米|立方米|个|间|套|所|次|小时|学期|学年|头|只|株|棵|座|家|台))+")
_GAP_ONLY_CONNECTIVES = re.compile(r"[、和及与或以\s]*")
_GENERIC_METRICS = ("other", "poverty_population", "poverty_households")
_FROM = re.compile(r"[从由][^，,；;。\d]{0,6}$")
_AFTER_SPOKEN_SUM = frozenset("了呢啊吧哩嘞哟呀的")
_INHERIT_PREFIXES = (
    "其中", "较", "比", "同比", "相比", "降至", "降到", "下降到", "下降至", "提高到", "提高至", "提升到", "增加到", "增至", "上升到", "上升至",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure of a sentence (offsets in the sentence text) and the evidence of its clause."""

    start: int
    end: int
    value: float
    low: float | None
    high: float | None
    unit: str  # base unit
    qualifier: Qualifier
    left: str  # its words before it (those of the figure before when it has none of its own)
    right: str  # its words after it, up to the clause end
    metric: str
    topic: str
    per: str = ""  # a per-unit rate's denominators, ``/``-joined (2000元/人/年 → ``人/年``)


@dataclass(frozen=True, slots=True)
class SentenceFigures:
    """The figures of one sentence, in text order, with the sentence's titles and short quotes."""

    sentence: Sentence
    blocked: list[tuple[int, int]]
    figures: list[Figure]

    def span(self, figure: Figure) -> str:
        return self.sentence.text[figure.start : figure.end]


def find_figures(doc: NormalizedDoc, lexicon: MetricLexicon, limits: Limits = DEFAULT_LIMITS) -> list[SentenceFigures]:
    """The figures of every sentence of ``doc`` that has any, in text order (see module doc).
    Raises TooManyFigures as soon as a sentence or the document goes over ``limits``."""
    found: list[SentenceFigures] = []
    total = 0
    for sentence in doc.sentences:
        quantities, blocked = _scan_sentence(sentence.text, lexicon, limits.figures_per_sentence)
        total += len(quantities)
        if total > limits.figures_per_document:
            raise TooManyFigures(f"more than {limits.figures_per_document} figures in the document")
        if quantities:
            found.append(SentenceFigures(sentence, blocked, _read_clauses(sentence.text, quantities, lexicon)))
    return found


def topics_by_paragraph(paragraphs: list[Paragraph], found: list[SentenceFigures]) -> list[list[tuple[str, str]]]:
    """``(span, topic)`` of the figures of each paragraph: the classifier's quantity evidence."""
    per_paragraph: list[list[tuple[str, str]]] = [[] for _ in paragraphs]
    for group in found:
        index = group.sentence.paragraph_index
        if 0 <= index < len(per_paragraph):
            per_paragraph[index].extend((group.span(figure), figure.topic) for figure in group.figures)
    return per_paragraph


# ---------------------------------------------------------------- scanning


@dataclass(slots=True)
class _Quantity:
    start: int
    end: int
    value: float
    low: float | None
    high: float | None
    unit: str
    qualifier: str
    per: str = ""


@dataclass(slots=True)  # private and never changed: not frozen, which makes it 4× cheaper to build
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
    if token in _MAGNITUDES:
        return _MAGNITUDES[token], None  # 百来人, 千把块: a round number before 来/把
    if token.startswith(_PERCENT_WORDS):
        rest = token[len(_PERCENT_WORDS) :]
        return (100.0 if rest == "百" else _cn_value(rest)), None
    if "点" in token:
        return parse_cn_decimal(token), None
    if not any(c in CN_DIGITS for c in token):
        return None, None  # 千万 / 百万 as words
    cn_range = parse_cn_range(token)
    if cn_range is not None:
        return None, cn_range
    value = parse_cn_integer(token)
    return (float(value) if value is not None else None), None


def _cn_value(text: str) -> float | None:
    if "点" in text:
        return parse_cn_decimal(text)
    if text in ("零", "〇"):
        return 0.0
    value = parse_cn_integer(text)
    return float(value) if value is not None else None


class _Scanner:
    """Reads the figures of one sentence."""

    def __init__(self, text: str, lexicon: MetricLexicon) -> None:
        self.text = text
        self.lex = lexicon
        self.blocked = blocked_spans(text)
        self._stop_from, self._stop_at, self._stop_char = 0, -1, ""

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
        if end < len(self.text) and self.text[end] not in CLAUSE_DELIMS:
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
            while stop < len(self.text) and self.text[stop] not in DELIMS:
                stop += 1
            neighbours.append(self.text[end + 1 : stop])
        if _left_char(self.text, start) == "、":
            begin = start - 1
            while begin > 0 and self.text[begin - 1] not in DELIMS:
                begin -= 1
            neighbours.append(self.text[begin : start - 1])
        return any(n and not _HAS_NUMERAL.search(n) for n in neighbours)

    def closes_quote_after(self, end: int) -> bool:
        """A closing ” later in the clause with no opening “ first: the figure is quoted."""
        # Figures come in text order: the stop found for an earlier end holds until it is passed,
        # which keeps a sentence of thousands of figures linear.
        if not self._stop_from <= end <= self._stop_at:
            match = _QUOTE_OR_CLAUSE_END.search(self.text, end)
            self._stop_from = end
            self._stop_at, self._stop_char = (match.start(), match.group()) if match else (len(self.text), "")
        return self._stop_char == "”"

    def enumerated_count_at(self, start: int) -> _Quantity | None:
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
        before = self.text[last_delim_before(self.text, start, CLAUSE_DELIMS) + 1 : start]
        items = _ENUM_SPLIT.split(before)
        if before.endswith("等") and 2 <= len(items) <= value:
            return _Quantity(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        if len(items) == value and all(items):
            return _Quantity(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        after = _ENUM_INTRO.match(self.text, start + 1 + len(unit))
        if after:
            listed = self.text[after.end() :].rstrip("。！？!?")
            if not any(c in CLAUSE_DELIMS for c in listed) and len(_ENUM_AFTER_SPLIT.split(listed)) == value:
                return _Quantity(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        if self._built_count(start, unit) or self._pointed_count(start, unit):
            return _Quantity(start, start + 1 + len(unit), float(value), None, None, unit, "exact")
        return None

    def _pointed_count(self, start: int, unit: str) -> bool:
        """``这两笔钱``, ``那三家合作社``: a single digit after 这/那 counting the noun after its unit
        (not 这两个月, 这三个一批)."""
        if start == 0 or self.text[start - 1] not in "这那":
            return False
        return self._counts_a_noun(start, unit)

    def _counts_a_noun(self, start: int, unit: str) -> bool:
        after = self.text[start + 1 + len(unit) : start + 4 + len(unit)]
        if (not after or not _CJK_CHAR.match(after) or after.startswith(self.lex.built_count_not_after)
                or _HAS_NUMERAL.match(after) or after[0] in "多半"):  # 三个多月, 两个半小时: durations
            return False
        return not self.text.startswith(("“", "\"", "‘"), start + 1 + len(unit))

    def _built_count(self, start: int, unit: str) -> bool:
        """``新建三个冷库``, ``培育两家龙头企业``: a single digit right after a verb of building or
        founding, counting the noun after its unit — not a duration (两个月), a slogan (三个一批,
        两个确保) or a pair of words (两个维护)."""
        if not self.text.endswith(self.lex.build_verbs, 0, start):
            return False
        return self._counts_a_noun(start, unit)

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
        if self.blocked and any(a <= start < b for a, b in self.blocked):
            return False
        before = self.text[start - 1] if start > 0 else ""  # _left_char, inlined
        # a half-width full stop after a Chinese character ends a sentence (工作.109个村), no decimal
        ends_sentence = before == "." and _CJK_CHAR.fullmatch(_left_char(self.text, start - 1)) is not None
        if (before in _BAD_BEFORE and not ends_sentence) or before.isdigit() or (before.isascii() and before.isalpha()):
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

    def figure_at(self, start: int) -> _Quantity | None:
        if self.text.startswith(_PERCENT_WORDS, start):
            match = _NUMBER.match(self.text, start)
            value = _parse_token(match.group())[0] if match else None
            if match is None or value is None:
                return None
            return self._finish(start, match.end(), None, None, "%", "exact", value)
        first = self._number_at(start)
        if first is None:
            return None
        pos, value, approx = first.end, first.value, first.approx
        low, high = first.cn_range if first.cn_range else (None, None)
        unit_info = self._unit_at(pos)
        if unit_info is None and first.cn_range is None and first.factor == 1.0:
            cell = self._unit_cell(start, pos)
            if cell is not None:
                end, cell_factor, (_, base, unit_factor) = cell
                return self._finish(start, end, None, None, base, "approx" if approx else "exact",
                                    value * cell_factor * unit_factor)
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
        if base == "%" and self.text.startswith("多", end) and not self.text.startswith(_MANY_WORDS, end):
            end, approx = end + 1, True  # 30%多
        if self.text[start] in _MAGNITUDES:
            before = _left_char(self.text, start)
            word_end = before in "上近" and _left_char(self.text, start - 1) in (
                _UP_WORD_ENDS if before == "上" else _NEAR_WORD_ENDS)
            if word_end and not first.approx:
                return None  # 晚上万家灯火, 附近万亩: a word, not a round number (线上千余人: 千余人)
            if before == "上" and first.factor == 1.0 and not word_end:
                start, approx = start - 1, True  # 上千人次, 上百户: as many as a round number
        per = ""
        rate = _PER_UNIT.match(self.text, end) if self.text.startswith("/", end) else None
        if rate is not None and not self.text[rate.end() : rate.end() + 1].isdigit():
            # a rate is a figure in its numerator's unit; the subject says 每人/每户 (context)
            per, end = rate.group()[1:], rate.end()
        if surface.startswith("块") and value < 10_000 and not self._spoken_money(surface, value, end):
            return None  # 3块地, 一块牌子: pieces
        if surface == "户" and self.text.startswith("次", end):
            return None  # 户次 (visits to households) is no base unit
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
        return self._finish(start, end, low, high, base, "approx" if approx else "exact", value * factor, per)

    def _spoken_money(self, surface: str, value: float, end: int) -> bool:
        """块 under 10,000 is money as 块钱, or from 100 on when no noun follows (卖了八千多块。):
        3块地 and 两块牌子 count pieces."""
        if surface == "块钱":
            return True
        after = self.text[end : end + 1]
        return value >= 100 and (not after or not _CJK_CHAR.match(after) or after in _AFTER_SPOKEN_SUM)

    def _unit_cell(self, start: int, pos: int) -> tuple[int, float, tuple[str, str, float]] | None:
        """``粮食　15.62　万吨　3.4%``: in a table row (or text spaced out as ``投入 500 万元``) the
        unit, with its 万/亿, follows in the next cell; the number must stand in a cell of its own."""
        gap = _CELL_GAP.match(self.text, pos)
        if gap is None or (start > 0 and self.text[start - 1] not in "\t "):
            return None
        cell_end, factor = self._multiplier_at(gap.end())
        unit_info = self._unit_at(cell_end)
        if unit_info is None:
            return None
        return cell_end + len(unit_info[0]), factor, unit_info

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
        per: str = "",
    ) -> _Quantity:
        if low is not None and high is not None:
            value, qualifier = (low + high) / 2, "approx"
        lex, text = self.lex, self.text
        heads, tails = lex.qualifier_after_heads, lex.qualifier_before_tails
        # (the loops only run when the character next to the figure can begin/end a qualifier)
        for word, kind in (lex.qualifiers_after.items() if heads is None or text[end : end + 1] in heads else ()):
            if text.startswith(word, end):
                end += len(word)
                qualifier = kind if qualifier == "exact" or kind == "approx" else qualifier
                break
        before = text[start - 1 : start] if start > 0 else ""
        for word, kind in (lex.qualifiers_before.items() if tails is None or before in tails else ()):
            if self.text.endswith(word, 0, start):
                heads = self.lex.qualifier_noun_heads.get(word, ())
                if any(self.text.endswith(h, 0, start - len(word)) for h in heads):
                    break  # 动力不足6户: 不足 belongs to the category name
                start -= len(word)
                qualifier = kind if qualifier == "exact" else qualifier
                break
        assert value is not None
        return _Quantity(start, end, value, low, high, unit, qualifier, per)


def _candidates(text: str) -> list[tuple[int, str, bool]]:
    """(start, token, single Chinese digit) of every number word, in text order."""
    found = [(m.start(), m.group(), False) for m in _NUMBER.finditer(text)]
    singles = [(m.start(), m.group(), True) for m in _SINGLE_CN.finditer(text)]
    if not singles:
        return found
    return sorted(found + singles)


def _scan_sentence(text: str, lexicon: MetricLexicon,
                   limit: int) -> tuple[list[_Quantity], list[tuple[int, int]]]:
    """The figures of a sentence and its blocked spans (titles, short quotes); TooManyFigures
    when it holds more than ``limit``."""
    candidates = _candidates(text)
    if not candidates:
        return [], []
    scanner = _Scanner(text, lexicon)
    figures: list[_Quantity] = []
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
        if len(figures) > limit:
            raise TooManyFigures(f"more than {limit} figures in one sentence ({text[:30]!r}…)")
        consumed = figure.end
    return figures, scanner.blocked


# ---------------------------------------------------------------- clause evidence


def _read_clauses(text: str, quantities: list[_Quantity], lexicon: MetricLexicon) -> list[Figure]:
    """The figures of one sentence with their words, metric key, topic and qualifier."""
    figures: list[Figure] = []
    previous_end = 0
    prev_left = ""
    breakdown: list[Figure] | None = None  # the figures before an open 其中
    head_end = first_delim_after(text, 0)
    head = text[:head_end] if text[head_end : head_end + 1] in ("：", ":") else ""  # 按致贫原因分为：
    for quantity in quantities:
        gap_text = text[previous_end : quantity.start]
        if "其中" in gap_text:
            breakdown = list(figures)
        elif "；" in gap_text or ";" in gap_text:
            breakdown = None
        seg_start = segment_start(text, quantity.start, previous_end)
        left = text[seg_start : quantity.start]
        right = right_words(text, quantity.end)
        gap = gap_text if previous_end else "，"
        # (the cheap tests first: the words are stripped only when the figure could share them)
        if (prev_left and _CLAUSE_DELIM_SET.isdisjoint(gap)
                and (not strip_subject(left, lexicon) or _GAP_ONLY_CONNECTIVES.fullmatch(left))):
            left = prev_left  # 2.06万户6.13万人, 0.3万元、0.5万元和1万元: the words of the figure before
        prev_left = left
        previous_figure_end, previous_end = previous_end, quantity.end
        metric, topic = lexicon.classify(left, right, quantity.unit)
        if metric == "other" and topic is None:
            wider = text[max(clause_start(text, quantity.start), previous_figure_end) : quantity.start]
            metric, topic = lexicon.classify(wider, right, quantity.unit)
        if metric != "other" and quantity.unit in lexicon.head_noun_units:
            phrase = noun_phrase(text, quantity.end)
            if phrase:  # 全县56个产业扶贫基地之一: the noun after the unit is what is counted
                metric, topic = lexicon.classify(phrase, "", quantity.unit)
        if metric == "other" and topic is None and head and quantity.start > len(head):
            metric, topic = lexicon.classify(head, "", quantity.unit)  # 按致贫原因分为：…缺劳力23户
        if quantity.unit == "%" and figures and figures[-1].unit != "%" and _TABLE_GROWTH_GAP.fullmatch(gap_text):
            # a table row `item value unit growth`: the percentage cell right after a quantity
            # is that quantity's change (``粮食　15.62　万吨　3.4%``)
            metric, topic = "growth_rate", figures[-1].topic
        inherited = _inherit(text[seg_start : quantity.start], quantity.unit, figures, metric)
        if inherited is None and breakdown is not None and metric in _GENERIC_METRICS:
            inherited = _parent(quantity.unit, breakdown, metric)  # 其中，贫困人口89户309人，非贫困人口16户
        inherited_topic = None
        if inherited is not None:
            metric, inherited_topic = inherited
            topic = lexicon.metric_topics.get(metric)
        if topic is None:
            topic = lexicon.topic_of(f"{left} {right}") or inherited_topic
            if topic is None and metric == "growth_rate" and figures:
                topic = figures[-1].topic
            if topic is None:
                topic = "other"
        qualifier = quantity.qualifier
        if qualifier == "exact":
            qualifier = _away_qualifier(text, quantity, lexicon) or qualifier
        figures.append(Figure(  # positional, in field order (faster than keywords)
            quantity.start, quantity.end, _clean(quantity.value),
            None if quantity.low is None else _clean(quantity.low),
            None if quantity.high is None else _clean(quantity.high),
            quantity.unit, qualifier, left, right, metric, topic, quantity.per,  # type: ignore[arg-type]  # a Qualifier
        ))
    return figures


def _away_qualifier(text: str, figure: _Quantity, lexicon: MetricLexicon) -> str | None:
    """A qualifier standing away from the figure in its clause (see module doc)."""
    clause = text[clause_start(text, figure.start) : figure.start]
    if lexicon.qualifier_before_regex is None or lexicon.qualifier_before_regex.search(clause) is None:
        return None  # no qualifier word in the clause (the loop would find none)
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


def _inherit(left: str, unit: str, history: list[Figure], own_metric: str) -> tuple[str, str] | None:
    """``其中…``/``较上年增加…``/``降至…`` figures take the metric of the last one with the same unit.

    After ``其中`` a figure keeps its own metric when its words name a specific one
    (``其中428名毕业生…就业``).
    """
    if own_metric == "growth_rate":
        return None
    stripped = (YEAR_WORDS.sub("", left) if "年" in left else left).strip("，,；; ")  # every year word has 年
    if not stripped.startswith(_INHERIT_PREFIXES):
        return None
    if stripped.startswith("其中") and own_metric not in _GENERIC_METRICS:
        return None
    return _parent(unit, history, own_metric)


def _parent(unit: str, history: list[Figure], own_metric: str) -> tuple[str, str] | None:
    """Metric and topic of the last earlier figure with ``unit``; a bare ``other`` parent does not
    override a figure's own key (``带动贫困户193户…其中脱贫47户``)."""
    for figure in reversed(history):
        if figure.unit == unit:
            if figure.metric == "other" and own_metric != "other":
                return None
            return figure.metric, figure.topic
    return None


def _clean(value: float) -> float:
    rounded = round(value, 6)
    return float(int(rounded)) if rounded.is_integer() else rounded
