"""Chinese administrative regions found in text, from the gazetteer that ships with ``cpca``.

The gazetteer (``cpca/resources/adcodes.csv``: provinces, prefecture-level cities and counties
with their 6-digit adcodes) is read once, offline, and indexed (a dictionary of aliases probed
only where an alias can start, see ``_Gazetteer``) over the official names and their usual short
forms: ``陕西`` for 陕西省, ``宁夏`` for 宁夏回族自治区, ``黔东南州``/``黔东南`` for
黔东南苗族侗族自治州, ``安康`` for 安康市.
Counties are matched by their full name only (``淇县``, ``鹤山区``) and names of two characters
or fewer that are ordinary words (``城区``, ``郊区``) are skipped. A county name shared by several
prefectures is resolved by a prefecture or province mentioned in the same context, else skipped.

Full names join the levels: ``陕西省安康市``, ``河南省鹤壁市淇县``, ``重庆市忠县``.
The input is expected in simplified script (run ``normalize`` first).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_PROVINCE_SUFFIXES = ("特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("自治州", "地区", "市", "盟")
# Two-character city short forms that are everyday words more often than places.
_AMBIGUOUS_SHORT = frozenset({"长治", "大同", "太平", "和平", "安顺", "永安", "吉安", "通化", "三明", "新余", "长春"})


# Characters that may stand right before a county name or a short form without being part of it.
_BOUNDARY_CHARS = frozenset("省市州区县盟在和与及到至的对于从将把向是为赴以")


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # 6-digit adcode
    full_name: str

    @property
    def level(self) -> int:
        """1 province, 2 prefecture, 3 county."""
        if self.code[2:] == "0000":
            return 1
        return 2 if self.code[4:] == "00" else 3

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def city_code(self) -> str:
        return self.code[:4] + "00"


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    """Regions by adcode and the alias index the scanner uses.

    ``aliases``: alias → (candidate codes, guarded); ``lengths``: the first two characters of an
    alias → the lengths of the aliases starting with them; ``starts``: a character class of the
    first characters of all aliases. (A dictionary probe at the few positions where an alias can
    start is several times faster than pyahocorasick here: its trie nodes look children up one by
    one, and the root has about a thousand.)
    """

    regions: dict[str, Region]
    aliases: dict[str, tuple[tuple[str, ...], bool]]
    lengths: dict[str, tuple[int, ...]]
    starts: re.Pattern[str]


def _strip_ethnic(name: str, nations: list[str]) -> str:
    changed = True
    while changed:
        changed = False
        for nation in nations:
            if name.endswith(nation) and len(name) > len(nation) + 1:
                name = name[: -len(nation)]
                changed = True
    return name


def _aliases(name: str, level: int, nations: list[str]) -> set[str]:
    aliases = {name}
    if level == 1:
        for suffix in _PROVINCE_SUFFIXES:
            if name.endswith(suffix):
                aliases.add(_strip_ethnic(name[: -len(suffix)], nations))
                break
    elif level == 2:
        for suffix in _CITY_SUFFIXES:
            if name.endswith(suffix):
                base = _strip_ethnic(name[: -len(suffix)], nations)
                aliases.add(base)
                if suffix == "自治州":
                    aliases.add(base + "州")
                break
    elif len(name) <= 2 and not (len(name) == 2 and name.endswith("县")):
        return set()
    return {a for a in aliases if len(a) >= 2 and a not in _AMBIGUOUS_SHORT}


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    package = resources.files("cpca.resources")
    with package.joinpath("adcodes.csv").open(encoding="utf-8") as handle:
        names = {row["adcode"][:6]: row["name"] for row in csv.DictReader(handle)}
    with package.joinpath("56_nations.csv").open(encoding="utf-8") as handle:
        nations = sorted((line.strip() for line in handle if line.strip()), key=len, reverse=True)
    nations += [n[:-1] for n in nations if n.endswith("族")]
    regions: dict[str, Region] = {}
    for code, name in names.items():
        if name in {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}:
            continue
        parts = [names.get(code[:2] + "0000", "")]
        if code[2:] != "0000":
            city = names.get(code[:4] + "00", "")
            if code[4:] != "00" and city not in {"", "市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}:
                parts.append(city)
            parts.append(name)
        regions[code] = Region(code=code, full_name="".join(parts))
    alias_codes: dict[str, list[str]] = {}
    for code, region in regions.items():
        for alias in _aliases(names[code], region.level, nations):
            alias_codes.setdefault(alias, []).append(code)
    aliases: dict[str, tuple[tuple[str, ...], bool]] = {}
    lengths: dict[str, set[int]] = {}
    for alias, codes in alias_codes.items():
        # Prefer the highest level when an alias names several levels (吉林 province vs city).
        ordered = tuple(sorted(codes, key=lambda c: regions[c].level))
        short_form = len(alias) <= 2 and all(names[c] != alias for c in codes)
        guarded = regions[ordered[0]].level == 3 or short_form
        aliases[alias] = (ordered, guarded)
        lengths.setdefault(alias[:2], set()).add(len(alias))
    starts = re.compile("[" + "".join(re.escape(c) for c in sorted({a[0] for a in aliases})) + "]")
    return _Gazetteer(
        regions=regions,
        aliases=aliases,
        lengths={prefix: tuple(sorted(ls)) for prefix, ls in lengths.items()},
        starts=starts,
    )


def _is_name_char(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" and char not in _BOUNDARY_CHARS


def _raw_mentions(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """Leftmost-longest alias matches: (start, candidate codes)."""
    gazetteer = _gazetteer()
    aliases, lengths = gazetteer.aliases, gazetteer.lengths
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for match in gazetteer.starts.finditer(text):
        start = match.start()
        sizes = lengths.get(text[start : start + 2])
        if sizes is None:
            continue
        for size in sizes:
            entry = aliases.get(text[start : start + size])
            if entry is None:
                continue
            codes, guarded = entry
            if guarded and start > 0 and _is_name_char(text[start - 1]):
                continue  # 清岚县 is not 岚县, 徐朝阳 is not 朝阳
            found.append((start, start + size, codes))
    found.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    result: list[tuple[int, tuple[str, ...]]] = []
    covered = -1
    for start, end, codes in found:
        if start >= covered:
            result.append((start, codes))
            covered = end
    return result


def _resolve(mentions: list[tuple[int, tuple[str, ...]]]) -> list[tuple[int, Region]]:
    regions = _gazetteer().regions
    anchors = {c[:2] for _, codes in mentions if len(codes) == 1 for c in codes}
    anchors |= {c[:4] for _, codes in mentions if len(codes) == 1 for c in codes}
    resolved: list[tuple[int, Region]] = []
    for start, codes in mentions:
        if len(codes) == 1:
            resolved.append((start, regions[codes[0]]))
            continue
        levels = {regions[c].level for c in codes}
        if len(levels) > 1 and min(levels) < 3:
            resolved.append((start, regions[codes[0]]))  # a province/city name also used lower down
            continue
        fitting = [c for c in codes if c[:4] in anchors or c[:2] in anchors]
        if len(fitting) == 1:
            resolved.append((start, regions[fitting[0]]))
    return resolved


def region_mentions(text: str) -> list[tuple[int, Region]]:
    """Every resolved region mention with its start offset, in order of mention (repeats kept)."""
    if not text:
        return []
    return _resolve(_raw_mentions(text))


def scan_mentions(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """Unresolved alias matches ``(start, candidate codes)`` of ``text``.

    No alias crosses punctuation or a line break, so the matches of a paragraph or a sentence
    are the document's matches inside it: scan once, then :func:`resolve_mentions` any slice.
    """
    return _raw_mentions(text) if text else []


def resolve_mentions(mentions: list[tuple[int, tuple[str, ...]]]) -> list[tuple[int, Region]]:
    """Resolve a slice of :func:`scan_mentions` in its own context (as :func:`region_mentions`)."""
    return _resolve(mentions) if mentions else []


def mentioned_regions(text: str) -> list[Region]:
    """Every resolved region mention, in order of mention (repeats kept)."""
    return [region for _, region in region_mentions(text)]


def most_specific(found: list[Region]) -> list[str]:
    """Full names of ``found`` (deduplicated, in order) without those whose descendant is also there."""
    unique = list(dict.fromkeys(found))
    return [r.full_name for r in unique if not any(_is_ancestor(r, other) for other in unique)]


def _is_ancestor(parent: Region, child: Region) -> bool:
    if parent.level >= child.level:
        return False
    prefix = 2 if parent.level == 1 else 4
    return child.code[:prefix] == parent.code[:prefix]


def find_regions(text: str) -> list[str]:
    """Full names of the regions mentioned in ``text``, in order of first mention.

    A region whose descendant is also mentioned is left out (``陕西省…安康市`` gives only
    ``陕西省安康市``), so every name is as specific as the text allows.
    """
    return most_specific(mentioned_regions(text))


def main_region(text: str) -> str:
    """The region ``text`` is mostly about; ``""`` when no region is mentioned.

    Each mentioned region scores the mentions of itself, its ancestors and its descendants; the
    best score wins, a tie goes to the more specific region, then to the first mentioned. So an
    article about one county under a named city gives the county, one about several counties
    of a city gives the city.
    """
    return main_region_of(mentioned_regions(text))


def main_region_of(found: list[Region]) -> str:
    """:func:`main_region` of already resolved mentions (in order of mention)."""
    if not found:
        return ""
    counts = Counter(found)
    scores = {
        region: sum(n for other, n in counts.items() if other == region or _is_ancestor(other, region) or _is_ancestor(region, other))
        for region in counts
    }
    order = {region: i for i, region in reversed(list(enumerate(found)))}
    best = max(counts, key=lambda r: (scores[r], r.level, -order[r]))
    return best.full_name


@dataclass(frozen=True, slots=True)
class DocumentRegions:
    """The region mentions of a document, found once and shared by the stages after.

    ``mentions`` are the unresolved matches of the whole text (:func:`scan_mentions`): any
    paragraph's or sentence's mentions are a slice of them. ``names`` are :func:`find_regions`
    of the text, else of the title; ``main`` is the region the text is mostly about
    (:func:`main_region_of`), else the first of ``names``, else ``""``.
    """

    mentions: list[tuple[int, tuple[str, ...]]]
    names: list[str]
    main: str


def document_regions(text: str, title: str | None = None) -> DocumentRegions:
    """Scan ``text`` (normalized) for regions once; the title counts only when the text names none."""
    mentions = scan_mentions(text)
    found = [region for _, region in resolve_mentions(mentions)]
    names = most_specific(found) or (find_regions(title) if title else [])
    return DocumentRegions(mentions=mentions, names=names, main=main_region_of(found) or (names[0] if names else ""))


def region_by_name(full_name: str) -> Region | None:
    """The gazetteer entry for a full name such as ``陕西省安康市``."""
    return _by_full_name().get(full_name)


@lru_cache(maxsize=1)
def _by_full_name() -> dict[str, Region]:
    return {r.full_name: r for r in _gazetteer().regions.values()}


def city_of(full_name: str) -> str:
    """``河南省鹤壁市淇县`` → ``河南省鹤壁市`` (the prefecture as a prefix of the name); ``""`` when unknown."""
    region = region_by_name(full_name)
    if region is None:
        return ""
    for name in (full_name[:i] for i in range(len(full_name), 0, -1)):
        candidate = region_by_name(name)
        if candidate is not None and candidate.level == 2 and candidate.code == region.city_code:
            return name
    return ""


def province_of(full_name: str) -> str:
    """``陕西省安康市`` → ``陕西省``; ``""`` for an unknown name."""
    region = region_by_name(full_name)
    if region is None:
        return ""
    province = _gazetteer().regions.get(region.province_code)
    return province.full_name if province else ""


def is_within(inner: str, outer: str) -> bool:
    """True when ``inner`` is ``outer`` or lies inside it (both full names)."""
    a, b = region_by_name(inner), region_by_name(outer)
    if a is None or b is None:
        return False
    return a == b or _is_ancestor(b, a)
