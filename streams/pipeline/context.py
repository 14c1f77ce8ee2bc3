"""Context of the figures: subject, region and years, attached to give the document's metrics.

Each figure gets ``subject`` (its words before/after it, trimmed; a short growth rate's is
prefixed with the subject of the figure before it), ``metric``/``topic`` as its clause gave them
(:mod:`streams.pipeline.figures`) — a figure whose clause names neither, or only an area or an
investment, takes the topic of its paragraph when the classifier gave that paragraph exactly one
(not forest land; an investment followed by what it buys takes the topic of those words) — ``region`` (全省/全市 → that ancestor of the document region;
else a region named in the sentence, else the paragraph, inside the document region; else the
document region) and its years.

Years follow the devset README (*Year*, *Reference year*). The time expression that governs a
figure is the last one before it in its sentence, across commas and semicolons (:func:`time_marks`,
:func:`governing`): a written year (2022年; 由2015年的… only up to its clause end), a relative one
(今年/本年/当年/上半年/前三季度/1至7月 → 0, 去年/上年 → −1, 前年 → −2, 明年 → +1) or an undated one
(目前, 累计, 近年来, 三年来, 十三五期间, 全年, 截至6月底, a year range…); comparison bases (比上年,
较2021年) date nothing. ``year`` is the written year when one governs, else ``None`` (今年 after
2022年 cuts it off). ``ref_year``/``year_basis``: ``written`` (= year); ``relative`` (publication
year + offset, ``None`` without a date); else ``document`` (the one year the title names);
else ``published`` (the publication year); else ``none``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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
    region_code,
    resolve_mentions,
)
from streams.pipeline.types import Metric, Paragraph, Sentence, YearBasis

_PARAGRAPH_END = re.compile(r"[。！？!?；;：:…]+[”’」』）)】》\"']*$")
_LIST_MARKERS = ("——", "—")
_CITY_SCOPE = ("全市", "我市")
_YEAR_DIGITS = r"(?:19|20)\d{2}|[一二][〇零九][〇零一二三四五六七八九]{2}"
_CN_YEAR_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_YEAR_BLOCKERS = ("较", "比", "与", "同", "相比", "对比")
_YEAR_BLOCKER_ENDS = frozenset(w[-1] for w in _YEAR_BLOCKERS)  # the characters a blocker ends with
_YEAR_NAME_WORDS = ("会议", "方案", "要点", "计划", "规划", "意见", "通知", "办法", "大会")
_COUNTED_UNITS = ("人", "户", "个", "家", "所", "座", "处", "支", "项", "条", "套", "台", "册", "场", "笔")


def attach_context(found: list[SentenceFigures], regions: DocumentRegions, paragraphs: list[Paragraph],
                   lexicon: MetricLexicon, dates: DocDates | None = None,
                   paragraph_topics: list[tuple[str, ...]] | None = None) -> list[Metric]:
    """The metrics of the figures ``found`` in a document (in their order); ``paragraph_topics``
    (the classifier's, by paragraph index) file a figure whose own words name no metric and no
    topic — money, people or a count — under the topic of its paragraph when it has exactly one."""
    context = _RegionContext(doc_region=regions.main, paragraphs=paragraphs, mentions=regions.mentions,
                             demoted=regions.demoted)
    dates = dates or DocDates()
    metrics: list[Metric] = []
    for group in found:
        sentence, text = group.sentence, group.sentence.text
        previous_subject: str | None = None
        marks = time_marks(text, group.blocked, [f.start for f in group.figures])
        per_year = distributed_years(text, [f.start for f in group.figures]) if "分别" in text else {}
        figures = group.figures
        header = _table_header(paragraphs, sentence.paragraph_index) if _CELL_GAP.search(text) else None
        for at, figure in enumerate(figures):
            year, ref_year, basis = date_figure(governing(marks, figure.start), dates)
            if figure.start in per_year:
                year = ref_year = per_year[figure.start]
                basis = "written"
            subject = _subject(figure, previous_subject, lexicon, _pair_of(text, figures, at), text)
            if header is not None:
                subject = _table_cell_subject(text, figure.start, header) or subject
            previous_subject = subject
            topic = _topic(figure, text, sentence.paragraph_index, paragraph_topics, lexicon)
            region = context.for_figure(sentence, figure.left, figure.start, figure.unit)
            # positional, in the field order of Metric (a keyword call of 18 arguments costs more)
            metrics.append(Metric(
                text,  # sentence
                text[figure.start : figure.end],  # span
                sentence.start + figure.start,  # char_start
                sentence.start + figure.end,  # char_end
                figure.value,  # value
                figure.low,  # value_low
                figure.high,  # value_high
                figure.unit,  # unit
                figure.qualifier,  # qualifier
                subject or figure.left.strip()[-12:],  # subject
                figure.metric,  # metric
                topic,  # topic
                region,  # region
                year,  # year
                sentence.paragraph_index,  # paragraph_index
                ref_year,  # ref_year
                basis,  # year_basis
                region_code(region),  # region_code
            ))
    return metrics


_SCOPE_NOUN = re.compile(r"^(?:(?:贫困|脱贫|行政|重点|建档立卡|易地搬迁)?(?:村|乡|镇|县|社区)|(?:集中|移民)?安置[点区])")
_NOT_TOPICAL_UNITS = ("公里", "千米", "米", "km")
# keys that say how much, not of what: their topic comes from the words around them
_OPEN_METRICS = frozenset({"other", "area", "investment"})
_SENTENCE_PART_END = re.compile(r"[；;。！？!?]")


def _topic(figure: Figure, text: str, paragraph_index: int, paragraph_topics: list[tuple[str, ...]] | None,
           lexicon: MetricLexicon) -> str:
    if figure.topic != "other" or figure.metric not in _OPEN_METRICS or paragraph_topics is None:
        return figure.topic
    # villages and townships counted are where the work happens, not what it is about; lengths
    # are roads and pipes, and forest land is ecology, which no topic owns
    if (figure.unit in _NOT_TOPICAL_UNITS or _SCOPE_NOUN.match(figure.right.lstrip())
            or (figure.metric == "area" and lexicon.no_topic_land and _names_any(figure.right, lexicon.no_topic_land))):
        return figure.topic
    if figure.metric == "investment":
        # 投资810万元，对205个村卫生室进行改造: money's topic is what it is spent on, in its own
        # clause or the clauses after it up to the sentence part's end; only a total closing its
        # sentence part (总投资6592.11万元。) sums up what came before, which is the paragraph's
        if figure.right.strip():
            return figure.topic
        end = first_delim_after(text, figure.end)
        if end < len(text) and not _SENTENCE_PART_END.match(text, end):
            stop = _SENTENCE_PART_END.search(text, end)
            return lexicon.topic_of(text[end : stop.start() if stop else len(text)]) or figure.topic
    if 0 <= paragraph_index < len(paragraph_topics) and len(paragraph_topics[paragraph_index]) == 1:
        return paragraph_topics[paragraph_index][0]
    return figure.topic


def _names_any(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


_SAME_PER = {"人": ("每名", "每位", "每个人"), "名": ("每人",), "年": ("每年度",)}


_CELL_GAP = re.compile(r"[ \t\u3000]+")  # (normalize has folded a layout's runs of spaces to one)
_MAX_CELL = 16
_SENTENCE_MARKS = re.compile(r"[，,。；;！？!?：:“”]")
_GENERIC_HEADERS = frozenset({"数值", "数量", "数据", "数", "值", "单位", "指标", "合计", "备注"})
_ROW_LABEL_NOISE = re.compile(r"^(?:其中|内)[：:]?|[（(][^）)]*[）)]")


def _cells(line: str) -> list[tuple[int, str]]:
    """The cells of a table line with their offsets."""
    cells, at = [], 0
    for gap in _CELL_GAP.finditer(line):
        if line[at : gap.start()].strip():
            cells.append((at, line[at : gap.start()].strip()))
        at = gap.end()
    if line[at:].strip():
        cells.append((at, line[at:].strip()))
    return cells


def _table_line(line: str) -> list[str] | None:
    """The cells of ``line`` if it reads as a table line: three cells or more, each short, no
    sentence punctuation (a byline or a sentence with a space in it is no table)."""
    cells = [cell for _, cell in _cells(line)]
    if len(cells) < 3 or any(len(cell) > _MAX_CELL for cell in cells) or _SENTENCE_MARKS.search(line):
        return None
    return cells


def _table_header(paragraphs: list[Paragraph], index: int) -> list[str] | None:
    """The column names of the table a row belongs to: the nearest line above it, across the
    table's other rows, whose cells hold no figure (``产品名称　产量　单位　比上年增长``)."""
    if _table_line(_ROW_LABEL_NOISE.sub("", paragraphs[index].text.lstrip())) is None:
        return None
    for back in range(index - 1, max(index - 40, -1), -1):
        line = paragraphs[back].text
        cells = _table_line(_ROW_LABEL_NOISE.sub("", line.lstrip()))
        if cells is None:
            return None
        if not any(char.isdigit() for char in line):
            return cells
    return None


def _table_cell_subject(row: str, position: int, header: list[str]) -> str | None:
    """A table cell's subject: its row label and, unless generic, its column's name
    (``玉米　7.14　万吨`` under ``产量`` → 玉米产量)."""
    cells = _cells(row)
    column = sum(1 for start, _ in cells if start <= position) - 1
    if column < 1 or len(cells) != len(header) or any(char.isdigit() for char in cells[0][1]):
        return None
    label = _ROW_LABEL_NOISE.sub("", cells[0][1]).strip()
    if not label:
        return None
    name = header[column]
    return label if name in _GENERIC_HEADERS else label + name


_HOUSEHOLDS_OR_PEOPLE = ("户", "人")
_CONJUNCTIONS = ("和", "及", "与", "以及", "、")
_JOINS_NEXT_FIGURE = re.compile(r"(?:以及|和|及|与|、)(?=[\d一二两三四五六七八九十百千万])")
_PEOPLE_NOUN = re.compile(r"(?:人口|人员|群众|人)$")
_HOUSEHOLD_NOUN = re.compile(r"户$")


def _pair_of(text: str, figures: list[Figure], at: int) -> Figure | None:
    """The figure counting the same group in the other unit right next to ``figures[at]``:
    9,146户4.12万人 (households, then people, as one phrase)."""
    figure = figures[at]
    if figure.unit not in _HOUSEHOLDS_OR_PEOPLE:
        return None
    for other in (figures[at + 1] if at + 1 < len(figures) else None, figures[at - 1] if at else None):
        if other is None or other.unit == figure.unit or other.unit not in _HOUSEHOLDS_OR_PEOPLE:
            continue
        first, second = (figure, other) if other.start > figure.start else (other, figure)
        if second.start - first.end <= 1 and not text[first.end : second.start].strip("、 "):
            return other
    return None


def _subject(figure: Figure, previous: str | None, lexicon: MetricLexicon, pair: Figure | None = None,
             text: str = "") -> str:
    """What ``figure`` counts: its words before it, completed by the noun after a count unit (or
    that noun alone when the words before it are another figure's: 36项重点任务和19项阶段任务);
    a growth rate with few words of its own continues ``previous`` (the figure before it).
    Households and people counted as a pair (2964户6796名贫困人口) share their words, each with its
    own noun: 贫困户 for the households, 贫困人口 for the people."""
    subject = strip_subject(figure.left, lexicon)
    right = figure.right
    later = figure
    if pair is not None:
        later = pair if pair.start > figure.start else figure
        right = later.right  # the words after the pair, not the other figure's unit
        if not subject and pair.start < figure.start:
            subject = strip_subject(pair.left, lexicon)
    joined = _JOINS_NEXT_FIGURE.search(text, later.end, later.end + len(right) + 1) if text else None
    if joined is not None:
        right = right[: joined.start() - later.end]  # 36项重点任务和19项…: its noun ends at the 和
    noun = strip_subject(right, lexicon) if figure.unit in _COUNTED_UNITS and right else ""
    if noun and figure.left.endswith(_CONJUNCTIONS):
        subject = noun[:24]
    elif noun and len(subject) < 6:
        subject = (subject + noun)[:24]
    if subject and figure.unit == "户" and "户" not in subject:
        # a household count names households (识别监测对象47户 → 识别监测对象户; 贫困人口…户 → 贫困户)
        subject = _PEOPLE_NOUN.sub("户", subject) if _PEOPLE_NOUN.search(subject) else subject + "户"
    if pair is not None and figure.unit != "户" and _HOUSEHOLD_NOUN.search(subject):
        subject = subject[:-1] + "人口"
    if figure.metric == "growth_rate" and previous is not None and len(subject) <= 6 and not subject.startswith(previous):
        subject = previous + subject
    if figure.per:  # a per-unit rate: 每人, 每户每年, unless the words say so already (人均, 每户, 每名)
        said = "".join(f"每{d}" for d in figure.per.split("/")
                       if not any(w in subject for w in (f"每{d}", f"{d}均", *_SAME_PER.get(d, ()))))
        subject = said + subject
    return subject


# ---------------------------------------------------------------- year and region


_TimeKind = Literal["written", "relative", "undated"]

_RANGE_TEXT = r"{y}年?\s*[-—–~～至到]\s*{y}年"
_YEAR_RANGE = re.compile(_RANGE_TEXT.format(y=r"((?:19|20)\d{2})"))
_ATTRIBUTIVE_YEAR = re.compile(r"[底末初]?的")
_CAPTION_HEAD = re.compile(r"表\s*\d+\s*$")
_CN_DIGIT = "一二两三四五六七八九十"
_RELATIVE = re.compile(
    r"今年以来|今年|本年|当年|上半年|下半年|前三季度|第?[一二三四1-4]季度"
    rf"|\d{{1,2}}\s*[至到—–\-~～]\s*\d{{1,2}}\s*月份?|[{_CN_DIGIT}]{{1,3}}至[{_CN_DIGIT}]{{1,3}}月份?"
    r"|去年|上年|前年|明年"
)
_NAMES_YEAR = ("今年以来", "今年", "本年", "当年", "去年", "上年", "前年", "明年")
_RELATIVE_OFFSET = {"去年": -1, "上年": -1, "前年": -2, "明年": 1}
_UNDATED = re.compile(
    r"截至目前|截止目前|目前|至今|如今|近年来|多年来|近\d+年|近[一二两三四五六七八九十]+年"
    rf"|[{_CN_DIGIT}\d]+年来|十[一二三四五]五(?:期间|以来|时期)|[春秋]季学期|常年|那一年|以前"
    r"|截[至止]到?\d{1,2}月(?:底|末|\d{1,2}日)?"
)
# Parts of a year: they date nothing themselves when a time expression before them names the year.
_YEAR_PART = re.compile(r"全年|年末|年底|年初")
_CUMULATIVE = "累计"
# Every time expression in one alternation, a year range before a year before the words.
_TIME = re.compile(
    r"(?=[\d一二两三四五六七八九十今本当上下前第去明截目至如近多春秋常那以全年累])"  # fails fast elsewhere
    "(?:(?P<range>" + _RANGE_TEXT.format(y=r"(?:19|20)\d{2}") + ")"
    f"|(?P<year>(?P<y>{_YEAR_DIGITS})年)|(?P<relative>{_RELATIVE.pattern})|(?P<undated>{_UNDATED.pattern})"
    f"|(?P<part>{_YEAR_PART.pattern})|(?P<cumulative>{_CUMULATIVE}))"
)
_TITLE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass(frozen=True, slots=True)
class TimeMark:
    """A time expression of a sentence: it governs the figures from ``end`` up to ``until``
    (``value``: the year when written, the offset when relative)."""

    start: int
    end: int
    kind: _TimeKind
    value: int
    until: int
    names_year: bool = False  # 2022年, 今年, 去年 — not 上半年 or 1至7月


@dataclass(frozen=True, slots=True)
class DocDates:
    """What dates a document's undated figures: the one year its title names, its publication year."""

    title_year: int | None = None
    published_year: int | None = None

    @classmethod
    def of(cls, title: str | None, published_at: datetime | None) -> DocDates:
        return cls(title_year=title_year(title), published_year=publication_year(published_at))


def title_year(title: str | None) -> int | None:
    """The year a title names when it names exactly one (``…2023年…统计公报``, ``回眸2023``)."""
    if not title:
        return None
    years = {int(y) for y in _TITLE_YEAR.findall(unicodedata.normalize("NFKC", title))}
    return years.pop() if len(years) == 1 else None


def publication_year(published_at: datetime | None) -> int | None:
    """The year of ``published_at`` as given: dates read from article text are the paper's own
    wall-clock time labelled UTC, so shifting them to another zone would move 31 December."""
    return published_at.year if published_at is not None else None


def time_marks(text: str, blocked: list[tuple[int, int]], figure_starts: list[int]) -> list[TimeMark]:
    """The time expressions of a sentence that can date a figure, in text order.

    Not marks: anything inside a title or short quote, a comparison base (比上年, 较2021年), a
    year naming a meeting or plan, a table caption's year (表1 2023年…). An expression that
    directly continues the one before it (2022年上半年, 今年以来累计, 今年年底) is part of it; a
    part of a year (全年, 年底) after an expression that names the year (2022年, 今年 — not
    上半年) is too, and so is 累计 before any figure of the expression it follows (2020年，全县累计
    接诊…: 2020's total) or after a 累计 that expression framed (2024年累计…，累计…).
    """
    if not any(c in text for c in "年月季累目至如常前"):
        return []
    found: list[TimeMark] = []
    weak: set[int] = set()
    end_of_text = len(text)
    for match in _TIME.finditer(text):  # one pass: an expression consumes its text (上年末 holds no 年末)
        start, end = match.span()
        kind = match.lastgroup
        if blocked and any(a <= start < b for a, b in blocked):
            continue
        if text[start - 1 : start] in _YEAR_BLOCKER_ENDS and any(text.endswith(w, 0, start) for w in _YEAR_BLOCKERS):
            continue
        if kind == "range":
            found.append(TimeMark(start, end, "undated", 0, end_of_text))
        elif kind == "year":
            if "表" in text and _CAPTION_HEAD.search(text, 0, start):
                continue
            clause_end = first_delim_after(text, end)
            until = end_of_text
            if any(w in text[end:clause_end] for w in _YEAR_NAME_WORDS):
                until = clause_end  # 2023年…工作会议: the year names the meeting past its clause
            elif _ATTRIBUTIVE_YEAR.match(text, end):
                until = clause_end  # 由2015年底的36.8%: the year belongs to the figure after it
            year = int(match.group("y").translate(_CN_YEAR_DIGITS))  # 二〇一四年 is written too
            found.append(TimeMark(start, end, "written", year, until, names_year=True))
        else:
            word = match.group()
            time_kind: _TimeKind = "relative" if kind == "relative" else "undated"
            found.append(TimeMark(start, end, time_kind, _RELATIVE_OFFSET.get(word, 0), end_of_text, word in _NAMES_YEAR))
            if kind in ("part", "cumulative"):
                weak.add(start)
    marks: list[TimeMark] = []
    frames: set[int] = set()  # marks that frame an accumulation (2024年累计…): a later 累计 continues them
    for mark in found:
        cumulative = text.startswith(_CUMULATIVE, mark.start)
        if marks and mark.start <= marks[-1].end and text[marks[-1].end : mark.start].strip() == "":
            if cumulative:
                frames.add(marks[-1].start)
            continue
        before = governing(marks, mark.start) if mark.start in weak else None
        if before is not None and cumulative:
            if before.start in frames or not any(before.end <= s < mark.start for s in figure_starts):
                frames.add(before.start)
                continue
        elif before is not None and before.names_year:
            continue
        marks.append(mark)
    return marks


def governing(marks: list[TimeMark], index: int) -> TimeMark | None:
    """The time expression that dates a figure at ``index``: the last one before it still in scope."""
    for mark in reversed(marks):
        if mark.end <= index and index < mark.until:
            return mark
    return None


def distributed_years(text: str, starts: list[int]) -> dict[int, int]:
    """``2016年至2020年…分别为A、B、…和E``: each figure of the 分别 list (figure starts ``starts``)
    gets its own year when the list has one figure per year of the range."""
    out: dict[int, int] = {}
    for match in _YEAR_RANGE.finditer(text):
        first, last = int(match.group(1)), int(match.group(2))
        at = text.find("分别", match.end())
        if at == -1 or first >= last or text.find("。", match.end(), at) != -1:
            continue
        list_end = first_delim_after(text, at)
        listed = [s for s in starts if at < s < list_end]
        if len(listed) == last - first + 1:
            out.update({s: first + i for i, s in enumerate(listed)})
    return out


def date_figure(mark: TimeMark | None, dates: DocDates) -> tuple[int | None, int | None, YearBasis]:
    """``(year, ref_year, year_basis)`` of a figure dated by ``mark`` (see the module doc)."""
    if mark is not None and mark.kind == "written":
        return mark.value, mark.value, "written"
    if mark is not None and mark.kind == "relative":
        ref = dates.published_year + mark.value if dates.published_year is not None else None
        return None, ref, "relative"
    if dates.title_year is not None:
        return None, dates.title_year, "document"
    if dates.published_year is not None:
        return None, dates.published_year, "published"
    return None, None, "none"


def _ends_sentence(text: str) -> bool:
    """The paragraph ends a sentence (or a clause: ``；``/``：``), so the next one starts afresh."""
    return bool(_PARAGRAPH_END.search(text))


@dataclass(slots=True)
class _RegionContext:
    """Region of a figure: its sentence, the document scope words, its paragraph, the document.

    A paragraph that names no region inherits one: from the paragraph before when that one stops
    mid-sentence (e-paper line breaks: ``941名贫⏎⏎困人口``), and for a list item (``——教育扶贫。…``)
    from the paragraph that introduced the list (``以淇县为例：``). Partners, destinations, venues
    and list members (``DocumentRegions.demoted``) give no figure its region.
    """

    doc_region: str
    paragraphs: list[Paragraph]
    mentions: list[tuple[int, tuple[str, ...]]]  # scan_mentions of the whole document text
    demoted: frozenset[int] = frozenset()  # starts of the mentions that are not where the article is
    _mention_starts: list[int] = field(default_factory=list)
    _sentence_cache: dict[int, tuple[list[tuple[int, Region]], str]] = field(default_factory=dict)
    _paragraph_regions: dict[int, str] = field(default_factory=dict)

    def _resolved(self, start: int, end: int) -> list[tuple[int, Region]]:
        """Resolved mentions in ``[start, end)`` of the document text, offsets relative to ``start``."""
        lo = bisect_left(self._mention_starts, start)
        hi = bisect_left(self._mention_starts, end, lo)
        if lo == hi:
            return []
        demoted = self.demoted
        return [(at - start, region) for at, region in resolve_mentions(self.mentions[lo:hi]) if at not in demoted]

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

