"""A deterministic repost generator: near-duplicates of our 21 originals, with known groups.

Chinese local news is republished everywhere — retitled, trimmed, with a dateline or an
editor's note, re-punctuated, in traditional script, sometimes with updated figures. This module
builds such a corpus from the 5 seeds (``seeds/*.txt``) and the 16 devset articles
(``tests/data/devset/dNN.txt`` + ``dNN.meta.json``) to evaluate near-duplicate detection and
"count each fact once".

:func:`originals` reads the 21 originals (doc_ids ``seed-000`` … ``seed-004``, ``d01`` … ``d16``);
:func:`generate` makes about ``per_original`` :class:`Variant` of each, every one a
:class:`~schemas.models.RawDocument` with its group (the original's doc_id) and the kinds of
transformation applied (often 2–3 of them):

- ``retitle``: a prefix (``【聚焦】``), a site suffix, or a shortened title (a part without
  figures dropped); the headline line in the text is replaced (or, for an untitled original, a
  headline is added);
- ``trim``: whole body paragraphs dropped (≤ 30 % of the text; never the first block, never the
  first body paragraph and the last block together);
- ``reorder``: two adjacent body paragraphs swapped;
- ``lead``: a dateline / source line after the headline (``本报讯（记者 张某）``, ``来源：…``);
- ``note``: an editor's note or editor line appended (``编者按：…``, ``（责任编辑：…）``);
- ``punct``: full-width ↔ half-width punctuation, spaces after sentences, doubled blank lines,
  CRLF line ends, paragraph indents — never a character next to a digit, so a number
  (``3.5万``, ``1,200``, ``11:25``) is never touched;
- ``traditional``: the whole text converted with OpenCC ``s2t``;
- ``update``: 2–3 figures the pipeline extracts (a span found exactly once in the raw text,
  starting with Arabic digits) get new numbers; each :class:`Change` records the old and new span
  and the value/unit the pipeline reads from the new span (checked by analyzing the variant).
  Never combined with ``trim``.

Lines the generator writes itself (leads, notes, a headline for an untitled original) hold no
digit and no Chinese number word, so they add no figure (``Variant.added_lines``).

Everything is pure and deterministic: one ``random.Random(seed)``, fixed ``ingested_at``; the
only outside dependency of :func:`generate` is the analysis pipeline (for the updates).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from schemas.models import RawDocument
from streams.ingest.articles import read_path
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Analysis

KINDS: tuple[str, ...] = ("retitle", "trim", "reorder", "lead", "note", "punct", "traditional", "update")
#: Share of variants that are updates (when the original has figures to change).
UPDATE_SHARE = 0.15
#: Trim drops at most this share of the text's characters.
TRIM_SHARE = 0.30
#: The same fallback as tests/support/dashboard_seed.py for an original without a date.
FALLBACK_PUBLISHED = datetime(2018, 3, 1, 8, 0, tzinfo=UTC)
MAX_DELAY = timedelta(days=20)

#: Digits and number words (simplified and traditional) that an added line must not contain.
NUMBER_CHARS = frozenset("零〇一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟廿卅萬億兩貳參陸")

# Fictional names only (no digits, no number words: checked by has_number in the tests).
_PEOPLE = ("张某", "李某某", "王晓", "陈欣然", "刘洋", "赵磊", "周敏", "吴桐", "孙悦", "郑凯", "林雨", "何静")
_COUNTIES = ("云溪县", "青河县", "澜江县", "松岭县", "桃源县", "石门县", "柳川县", "凤鸣县")
_SITES = ("云岭新闻网", "南岭日报客户端", "青峰市人民政府网", "澜江在线", "微信公众号“溪山发布”",
          "微信公众号“乡村振兴观察”", "桃源融媒", "松岭新闻网", "凤鸣发布", "柳川日报")
_PREFIXES = ("【聚焦】", "【乡村振兴】", "【转载】", "【关注】", "【基层故事】", "聚焦｜", "深度｜")
_SUFFIXES = ("_云岭新闻网", " - 南岭日报客户端", "｜澜江在线", " - 松岭新闻网", "_桃源融媒")
_GENERIC_TITLES = ("脱贫攻坚在行动", "乡村振兴进行时", "走进脱贫攻坚主战场", "产业兴旺 群众增收",
                   "守底线促衔接 奋进新征程")
_LEADS = ("本报讯（记者 {p}）", "本报讯（记者 {p} 通讯员 {q}）", "来源：{c}融媒体中心", "来源：{s}",
          "转自：{s}", "（{s}记者 {p}）", "{c}融媒体中心讯（通讯员 {p}）")
_NOTES = ("编者按：脱贫摘帽不是终点，而是新生活、新奋斗的起点。", "（责任编辑：{p}）", "（编辑：{p} 审核：{q}）",
          "本文转载自{s}，版权归原作者所有。如有侵权，请联系删除。",
          "编者按：巩固拓展脱贫攻坚成果，是全面推进乡村振兴的前提。本文介绍了当地的做法，供读者参考。",
          "编者按：乡村振兴，关键在人。让我们走进基层，看看干部群众的奋斗故事。")

# Punctuation pairs (full-width, half-width) that `punct` may swap. Not 。 (it would glue
# sentences), not ？/? (an ASCII ? is a broken character in some seeds), not . or %.
_PUNCT_PAIRS = (("，", ","), ("：", ":"), ("；", ";"), ("（", "("), ("）", ")"), ("！", "!"))
_DIGITS = re.compile(r"\d")
_BLANK_SPLIT = re.compile(r"\n(?:[ \t\u3000\r]*\n)+")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: A span we may update: one number (optionally grouped, optionally decimal) then a unit without digits.
_UPDATABLE = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([^\d.,，、~～\-—至到].*)")


@dataclass(frozen=True)
class Change:
    """One updated figure: ``old_span`` as written once in the original's text, ``new_span`` what replaced
    it (converted to traditional script in the text of a ``traditional`` variant; the pipeline's
    metric span is ``new_span``); value/unit as the pipeline reads ``new_span``."""

    old_span: str
    new_span: str
    value: float
    unit: str


@dataclass(frozen=True)
class Variant:
    """A repost of ``group`` (an original's doc_id) made by ``kinds``; ``changes`` only for updates."""

    doc: RawDocument
    group: str
    kinds: tuple[str, ...]
    changes: tuple[Change, ...] = ()
    #: the lines this generator wrote (leads, notes, a headline for an untitled original), as inserted
    #: before ``punct``/``traditional``; none holds a digit or a number word
    added_lines: tuple[str, ...] = ()


def has_number(text: str) -> bool:
    """Whether ``text`` holds a digit (any script) or a Chinese number word character."""
    return any(ch.isdigit() or ch in NUMBER_CHARS for ch in text)


# ---------------------------------------------------------------------------------------------
# the originals


def originals(repo: Path) -> list[RawDocument]:
    """The 21 originals: ``seed-000`` … ``seed-004`` (title/date as the ingest reads them) and
    ``d01`` … ``d16`` (title and date from ``dNN.meta.json``). An original without a date gets
    ``FALLBACK_PUBLISHED`` plus 9 days per position, like tests/support/dashboard_seed.py."""
    docs: list[RawDocument] = []
    for number, path in enumerate(sorted((repo / "seeds").glob("*.txt"))):
        (loaded,) = list(read_path(path, 10**7))
        if loaded.document is None:
            raise ValueError(f"{path}: {loaded.error}")
        doc = loaded.document
        docs.append(_original(f"seed-{number:03d}", path.relative_to(repo), doc.text, doc.title,
                              doc.published_at, len(docs)))
    for path in sorted((repo / "tests/data/devset").glob("d[0-9][0-9].txt")):
        meta = json.loads(path.with_suffix(".meta.json").read_text(encoding="utf-8"))
        published = datetime.fromisoformat(meta["published"]).replace(tzinfo=UTC) if meta.get("published") else None
        docs.append(_original(path.stem, path.relative_to(repo), path.read_text(encoding="utf-8"), meta["title"],
                              published, len(docs)))
    return docs


def _original(doc_id: str, source: Path, text: str, title: str | None, published: datetime | None,
              position: int) -> RawDocument:
    published = published or FALLBACK_PUBLISHED + timedelta(days=9 * position)
    return RawDocument(doc_id=doc_id, source=str(source), title=title, published_at=published, text=text,
                       ingested_at=published)


# ---------------------------------------------------------------------------------------------
# text structure: blocks (paragraphs between blank lines, or lines when there are none)


def _blocks(text: str) -> tuple[list[str], str]:
    body = text.strip("\n")
    if _BLANK_SPLIT.search(body):
        return _BLANK_SPLIT.split(body), "\n\n"
    return body.split("\n"), "\n"


def _join(blocks: list[str], sep: str) -> str:
    return sep.join(blocks) + "\n"


def _title_block(blocks: list[str], title: str | None) -> int | None:
    """Index of the block (among the first few) holding the headline line, if any."""
    if not title:
        return None
    for index, block in enumerate(blocks[:4]):
        if any(line.strip().strip("\u3000") == title for line in block.split("\n")):
            return index
    return None


def _body_start(blocks: list[str], title: str | None) -> int:
    """First block after the headline (and never block 0)."""
    index = _title_block(blocks, title)
    return max(1, index + 1) if index is not None else 1


# ---------------------------------------------------------------------------------------------
# transformations (each returns a new text)


def _retitle(rng: random.Random, text: str, title: str | None) -> tuple[str, str, tuple[str, ...]]:
    """New title, new text (headline line replaced or added), added lines."""
    if not title:
        new = rng.choice(_PREFIXES) + rng.choice(_GENERIC_TITLES)
        blocks, sep = _blocks(text)
        return new, _join([new, *blocks], sep), (new,)
    modes = ["prefix", "suffix"]
    short = _shortened(title)
    if short:
        modes.append("short")
    mode = rng.choice(modes)
    if mode == "prefix":
        new = rng.choice(_PREFIXES) + title
    elif mode == "suffix":
        new = title + rng.choice(_SUFFIXES)
    else:
        new = short or title
    lines = text.split("\n")
    for index, line in enumerate(lines[:12]):
        if line.strip().strip("\u3000") == title:
            lines[index] = line.replace(title, new, 1)
            return new, "\n".join(lines), ()
    blocks, sep = _blocks(text)
    return new, _join([new, *blocks], sep), ()


def _shortened(title: str) -> str | None:
    """A shorter title: the part after a colon, or the first of space-separated parts, when the
    dropped part holds no figure; None when neither works."""
    for colon in ("：", ":"):
        head, found, tail = title.partition(colon)
        if found and tail.strip() and not has_number(head):
            return tail.strip()
    parts = re.split(r"[ \u3000]+", title.strip())
    if len(parts) > 1 and not has_number(" ".join(parts[1:])) and len(parts[0]) >= 4:
        return parts[0]
    return None


def _trim(rng: random.Random, text: str, title: str | None) -> str | None:
    blocks, sep = _blocks(text)
    start = _body_start(blocks, title)
    candidates = list(range(start, len(blocks)))
    if len(candidates) < 3:
        return None
    budget = TRIM_SHARE * len(text)
    want = rng.randint(1, 3)
    rng.shuffle(candidates)
    dropped: set[int] = set()
    used = 0
    first, last = start, len(blocks) - 1
    for index in candidates:
        size = len(blocks[index]) + len(sep)
        both_ends = {first, last} <= dropped | {index}
        if used + size <= budget and len(dropped) < want and not both_ends:
            dropped.add(index)
            used += size
    if not dropped:
        return None
    return _join([b for i, b in enumerate(blocks) if i not in dropped], sep)


def _reorder(rng: random.Random, text: str, title: str | None) -> str | None:
    blocks, sep = _blocks(text)
    start = _body_start(blocks, title)
    pairs = [i for i in range(start, len(blocks) - 1) if blocks[i].strip() != blocks[i + 1].strip()]
    if not pairs:
        return None
    i = rng.choice(pairs)
    blocks[i], blocks[i + 1] = blocks[i + 1], blocks[i]
    return _join(blocks, sep)


def _people(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(_PEOPLE, 2)
    return first, second


def _fill(rng: random.Random, template: str) -> str:
    p, q = _people(rng)
    return template.format(p=p, q=q, c=rng.choice(_COUNTIES), s=rng.choice(_SITES))


def _lead(rng: random.Random, text: str, title: str | None) -> tuple[str, str]:
    line = _fill(rng, rng.choice(_LEADS))
    blocks, sep = _blocks(text)
    at = _title_block(blocks, title)
    position = at + 1 if at is not None else 0
    blocks.insert(position, line)
    return _join(blocks, sep), line


def _note(rng: random.Random, text: str) -> tuple[str, tuple[str, ...]]:
    count = rng.choice((1, 1, 2))
    lines = tuple(_fill(rng, t) for t in rng.sample(_NOTES, count))
    blocks, sep = _blocks(text)
    if rng.random() < 0.3 and lines[0].startswith("编者按"):  # an editor's note may come first
        return _join([lines[0], *blocks, *lines[1:]], sep), lines
    return _join([*blocks, *lines], sep), lines


def _is_digit_neighbour(text: str, index: int) -> bool:
    left = text[index - 1] if index > 0 else ""
    right = text[index + 1] if index + 1 < len(text) else ""
    return any(ch.isdigit() or ch in NUMBER_CHARS for ch in (left, right))


def _swap_width(text: str, to_half: bool) -> str:
    table = {full: half for full, half in _PUNCT_PAIRS} if to_half else {half: full for full, half in _PUNCT_PAIRS}
    out = list(text)
    for index, ch in enumerate(text):
        if ch in table and not _is_digit_neighbour(text, index):
            out[index] = table[ch]
    return "".join(out)


def _punct(rng: random.Random, text: str) -> str:
    """2–3 of: width swap, spaces after sentences, doubled blank lines, CRLF, indents."""
    _, sep = _blocks(text)
    ops = ["width", "spaces", "crlf"]
    if sep == "\n\n":
        ops += ["blank", "indent"]
    chosen = rng.sample(ops, rng.choice((2, 3)))
    chosen.sort(key=ops.index)
    if "width" in chosen:
        full = sum(text.count(f) for f, _ in _PUNCT_PAIRS)
        half = sum(text.count(h) for _, h in _PUNCT_PAIRS)
        text = _swap_width(text, to_half=full >= half)
    if "spaces" in chosen:
        gap = rng.choice((" ", "  ", "\u3000"))
        text = re.sub(r"(?<=[。！])(?=[^\s”’」』）)】》\"'])", gap, text)
    if "blank" in chosen:
        text = _BLANK_SPLIT.sub(lambda m: m.group(0) + "\n", text)
    if "indent" in chosen:
        blocks, sep = _blocks(text)
        if rng.random() < 0.5:
            blocks = [b if b[:1].isspace() else "\u3000\u3000" + b for b in blocks]
        else:
            blocks = [b.lstrip(" \u3000") for b in blocks]
        text = _join(blocks, sep)
    if "crlf" in chosen:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


@lru_cache(maxsize=1)
def _s2t():  # noqa: ANN202 - opencc has no type stubs
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    return _s2t().convert(text)


# ---------------------------------------------------------------------------------------------
# updates


def figures(analysis: Analysis) -> Counter[tuple[float, str]]:
    """The multiset of (value, unit) of an analysis (values rounded to 6 decimals)."""
    return Counter((round(m.value, 6), m.unit) for m in analysis.metrics)


def _analyze(pipeline: Pipeline, doc: RawDocument, text: str | None = None) -> Analysis:
    return pipeline.analyze(doc.text if text is None else text, title=doc.title, published_at=doc.published_at)


def _numbers_in(text: str) -> set[float]:
    folded = unicodedata.normalize("NFKC", text)
    return {float(n.replace(",", "")) for n in _NUMBER.findall(folded)}


def _new_number(rng: random.Random, integer: str, fraction: str, unit: str, taken: set[float]) -> str | None:
    decimals = len(fraction) - 1 if fraction else 0
    old = float(integer.replace(",", "") + fraction)
    digits = integer.replace(",", "")
    # keep a round number round (``2500元上下`` → ``3200元上下``, ``100多人`` → ``200多人``)
    step = 10 ** (len(digits) - len(digits.rstrip("0"))) if not fraction and digits != "0" else 1
    for _ in range(20):
        factor = rng.uniform(1.1, 1.9)
        if unit.startswith("%") and old * factor >= 100:
            factor = rng.uniform(0.5, 0.9)
        new = round(old * factor, decimals)
        if step > 1:
            new = round(new / step) * step
        if new <= 0 or new == old or new in taken:
            continue
        text = f"{new:,.{decimals}f}" if "," in integer else f"{new:.{decimals}f}"
        return text
    return None


def _update_candidates(doc: RawDocument, analysis: Analysis) -> list[tuple[str, float, str]]:
    """(span, value, unit) of figures we may change: one metric with that span, the span found
    exactly once in the raw text and not inside a longer number, one number then a unit."""
    spans = Counter(m.span for m in analysis.metrics)
    found: list[tuple[str, float, str]] = []
    for metric in analysis.metrics:
        span = metric.span
        if spans[span] != 1 or not _UPDATABLE.fullmatch(span) or doc.text.count(span) != 1:
            continue
        at = doc.text.index(span)
        if at > 0 and (doc.text[at - 1].isdigit() or doc.text[at - 1] in ".,"):
            continue
        if metric.value == 0:
            continue
        found.append((span, metric.value, metric.unit))
    return found


def _try_updates(rng: random.Random, pipeline: Pipeline, doc: RawDocument, analysis: Analysis,
                 candidates: list[tuple[str, float, str]]) -> tuple[str, tuple[Change, ...]] | None:
    """Change 2–3 figures; each change verified by analyzing the changed text. None if < 2 work."""
    want = rng.choice((2, 3))
    base = figures(analysis)
    taken = _numbers_in(doc.text) | {round(m.value, 6) for m in analysis.metrics}
    order = list(candidates)
    rng.shuffle(order)
    text = doc.text
    changes: list[Change] = []
    expected = Counter(base)
    for span, value, unit in order:
        if len(changes) == want:
            break
        match = _UPDATABLE.fullmatch(span)
        assert match is not None
        integer, fraction, rest = match.group(1), match.group(2) or "", match.group(3)
        if text.count(span) != 1:
            continue
        number = _new_number(rng, integer, fraction, unit, taken)
        if number is None:
            continue
        new_span = number + rest
        if re.search(rf"(?<![\d.,]){re.escape(new_span)}", text):
            continue
        new_value = round(value * float(number.replace(",", "")) / float(integer.replace(",", "") + fraction), 6)
        if new_value in taken:
            continue
        candidate_text = text.replace(span, new_span, 1)
        result = _analyze(pipeline, doc, candidate_text)
        hits = [m for m in result.metrics if m.span == new_span]
        if len(hits) != 1 or hits[0].unit != unit or abs(hits[0].value - new_value) > 1e-6 * max(1.0, new_value):
            continue
        got = (round(hits[0].value, 6), hits[0].unit)
        trial = Counter(expected)
        trial[(round(value, 6), unit)] -= 1
        trial[got] += 1
        if +trial != figures(result):
            continue
        text, expected = candidate_text, +trial
        taken |= {float(number.replace(",", "")), got[0]}
        changes.append(Change(old_span=span, new_span=new_span, value=hits[0].value, unit=hits[0].unit))
    if len(changes) < 2:
        return None
    return text, tuple(changes)


# ---------------------------------------------------------------------------------------------
# the corpus


def _default_pipeline() -> Pipeline:
    from streams.settings import Settings
    from streams.stream.analysis import get_pipeline

    return get_pipeline(Settings())


def _choose_kinds(rng: random.Random, update: bool) -> list[str]:
    others = [k for k in KINDS if k != "update" and not (update and k == "trim")]
    count = rng.choices((1, 2, 3), weights=(2, 5, 3))[0]
    if update:
        return ["update", *rng.sample(others, count - 1)]
    return rng.sample(others, count)


def _make_variant(rng: random.Random, pipeline: Pipeline, original: RawDocument, analysis: Analysis,
                  candidates: list[tuple[str, float, str]], kinds: list[str]) -> tuple[str, str | None, list[str],
                                                                                       tuple[Change, ...],
                                                                                       tuple[str, ...]]:
    """Apply ``kinds`` in a fixed order (content first, surface last); kinds that cannot apply drop out."""
    text, title = original.text, original.title
    applied: list[str] = []
    changes: tuple[Change, ...] = ()
    added: list[str] = []
    if "update" in kinds:
        updated = _try_updates(rng, pipeline, original, analysis, candidates)
        if updated is not None:
            text, changes = updated
            applied.append("update")
    if "trim" in kinds and not changes:
        trimmed = _trim(rng, text, title)
        if trimmed is not None:
            text = trimmed
            applied.append("trim")
    if "reorder" in kinds:
        reordered = _reorder(rng, text, title)
        if reordered is not None:
            text = reordered
            applied.append("reorder")
    new_title = title
    if "retitle" in kinds:
        new_title, text, lines = _retitle(rng, text, title)
        added.extend(lines)
        applied.append("retitle")
    if "lead" in kinds:
        text, line = _lead(rng, text, new_title)
        added.append(line)
        applied.append("lead")
    if "note" in kinds:
        text, lines = _note(rng, text)
        added.extend(lines)
        applied.append("note")
    if "punct" in kinds:
        text = _punct(rng, text)
        applied.append("punct")
    if "traditional" in kinds:
        converted = to_traditional(text)
        if converted != text:
            text = converted
            new_title = to_traditional(new_title) if new_title else new_title
            applied.append("traditional")
    order = {k: i for i, k in enumerate(KINDS)}
    return text, new_title, sorted(applied, key=order.__getitem__), changes, tuple(added)


def generate(originals: list[RawDocument], per_original: int = 10, seed: int = 2026, *,
             pipeline: Pipeline | None = None) -> list[Variant]:
    """``per_original`` variants of every original (see module doc), deterministic for ``seed``.

    ``pipeline`` (default: ``get_pipeline(Settings())``) picks and verifies the updated figures.
    No variant's text equals its original's or another variant's.
    """
    rng = random.Random(seed)
    pipeline = pipeline or _default_pipeline()
    seen = {doc.text for doc in originals}
    variants: list[Variant] = []
    for original in originals:
        analysis = _analyze(pipeline, original)
        candidates = _update_candidates(original, analysis)
        for number in range(1, per_original + 1):
            for _attempt in range(20):
                update = len(candidates) >= 2 and rng.random() < UPDATE_SHARE
                kinds = _choose_kinds(rng, update)
                text, title, applied, changes, added = _make_variant(rng, pipeline, original, analysis,
                                                                     candidates, kinds)
                if applied and text not in seen:
                    break
            else:
                raise RuntimeError(f"no new variant of {original.doc_id} after 20 attempts")
            seen.add(text)
            published = (original.published_at or FALLBACK_PUBLISHED) + timedelta(
                minutes=rng.randint(0, int(MAX_DELAY.total_seconds()) // 60))
            doc = RawDocument(doc_id=f"{original.doc_id}-v{number:02d}", source=rng.choice(_SITES), title=title,
                              published_at=published, text=text, ingested_at=published)
            variants.append(Variant(doc=doc, group=original.doc_id, kinds=tuple(applied), changes=changes,
                                    added_lines=added))
    return variants


# ---------------------------------------------------------------------------------------------
# scoring


def true_pairs(groups: dict[str, str]) -> set[frozenset[str]]:
    """Every unordered pair of documents in the same group (``groups``: doc_id → group id)."""
    members: dict[str, list[str]] = {}
    for doc_id, group in groups.items():
        members.setdefault(group, []).append(doc_id)
    return {frozenset(pair) for ids in members.values() for pair in itertools.combinations(sorted(ids), 2)}


def pair_scores(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float]:
    """Pair precision and recall of ``predicted`` clusters against ``truth`` (both doc_id → group).

    Only documents of ``truth`` count; one missing from ``predicted`` is a singleton. With no
    predicted (true) pair, precision (recall) is 1.0.
    """
    clusters = {doc_id: predicted.get(doc_id, f"\0singleton:{doc_id}") for doc_id in truth}
    expected, found = true_pairs(truth), true_pairs(clusters)
    both = len(expected & found)
    precision = both / len(found) if found else 1.0
    recall = both / len(expected) if expected else 1.0
    return precision, recall


def groups_of(originals: Iterable[RawDocument], variants: Iterable[Variant]) -> dict[str, str]:
    """doc_id → group of a corpus (originals map to themselves)."""
    groups = {doc.doc_id: doc.doc_id for doc in originals}
    groups.update({v.doc.doc_id: v.group for v in variants})
    return groups
