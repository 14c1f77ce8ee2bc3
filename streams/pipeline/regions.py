"""Chinese administrative regions found in text, from the gazetteer that ships with ``cpca``.

The gazetteer (``cpca/resources/adcodes.csv``: provinces, prefecture-level cities and counties
with their 6-digit adcodes) is read once, offline, and indexed (a dictionary of aliases probed
only where an alias can start, see ``_Gazetteer``) over the official names and their usual short
forms: ``陕西`` for 陕西省, ``宁夏`` for 宁夏回族自治区, ``黔东南州``/``黔东南`` for
黔东南苗族侗族自治州, ``安康`` for 安康市.
Counties are matched by their full name (``淇县``, ``鹤山区``) and an autonomous county also by
its short form (``石柱县`` for 石柱土家族自治县); names of two characters or fewer that are ordinary
words (``城区``, ``郊区``) are skipped, and a generic district name (``老城区``, ``东城区``, ``矿区``)
counts only right after its city. A county name shared by several prefectures is resolved by a
prefecture or province mentioned in the same context, else skipped. A small dated table,
``rules/admin_changes.json``, applies the changes made after cpca's snapshot (``滦县`` →
``滦州市``, ``莱芜市`` → 济南市莱芜区); the old name stays an alias of the new region.

A short form or a county name right after a Chinese character may be the tail of a longer name
(清岚县 is not 岚县, 徐朝阳 is not 朝阳): it counts only after a boundary character, a verb of
movement or place (``走进``, ``远销``, ``位于``) or a mention of its own ancestor (``陕西安康``,
``宁夏西吉县``). A short form inside an ordinary word of jieba's dictionary (``朝阳产业``,
``四季长春``, ``安康杯``; place and organisation words excepted) is no mention.

Mentions that are not where the article is (:func:`demoted_mentions`): partners (东西部协作,
对口帮扶), destinations (转移到, 销往), venues (在东莞打工, 在长沙读书) and members of a list of
places (广东、福建、上海等地) neither decide the main region nor give a figure its region.

Full names join the levels: ``陕西省安康市``, ``河南省鹤壁市淇县``, ``重庆市忠县``.
The input is expected in simplified script (run ``normalize`` first).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

_PROVINCE_SUFFIXES = ("特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("自治州", "地区", "市", "盟")
# Two-character city short forms that are everyday words more often than places.
_AMBIGUOUS_SHORT = frozenset({"长治", "大同", "太平", "和平", "安顺", "永安", "吉安", "通化", "三明", "新余", "长春"})


# Characters that may stand right before a county name or a short form without being part of it.
_BOUNDARY_CHARS = frozenset("省市州区县盟在和与及到至的对于从将把向是为赴以")
# Verbs of movement or place after which a short form starts a name (来到 ends in a boundary char).
_PLACE_VERBS = frozenset({
    "走进", "走入", "进入", "深入", "远销", "销往", "运往", "发往", "到了", "去了", "抵达", "到达",
    "前往", "奔赴", "赶赴", "来自", "地处", "位于", "返回", "落户", "扎根", "进驻", "走访", "调研",
})
# District names made of a generic word: a place only right after their city (洛阳市老城区).
_GENERIC_DISTRICT = re.compile(r"[东西南北中新老]?城区|[东西南北]?郊区|矿区|(?:市|城)中区")
# jieba dictionary words that are places or organisations (广东省委) do not block a short form.
_PLACE_TAGS = frozenset({"ns", "nt"})
_UNCOUNTED_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


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
    # short form → (offset of the short form in the word, word) of the ordinary words holding it
    blockers: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    weak: frozenset[str] = frozenset()  # aliases that count only right after an ancestor
    # ``starts`` followed by a character that is the second one of some alias: where an alias of
    # two characters or more can start (about a third of the ``starts`` positions); ``None`` when
    # an alias is shorter.
    pairs: re.Pattern[str] | None = None


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
    elif name.endswith(("自治县", "自治旗")):
        base = _strip_ethnic(name[:-3], nations)
        if base != name[:-3]:
            aliases.add(base + name[-1])  # 石柱土家族自治县 → 石柱县
    return {a for a in aliases if len(a) >= 2 and a not in _AMBIGUOUS_SHORT}


@dataclass(frozen=True, slots=True)
class AdminChange:
    """A change after the gazetteer's snapshot: ``old_code``/``old_name`` became ``code``/``name``."""

    old_code: str
    old_name: str
    code: str
    name: str
    since: str


def admin_changes() -> list[AdminChange]:
    """The dated table ``rules/admin_changes.json`` (shipped with the pipeline)."""
    path = resources.files("streams.pipeline") / "rules" / "admin_changes.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return [AdminChange(**row) for row in data["changes"]]


def _apply_changes(names: dict[str, str], changes: list[AdminChange]) -> dict[str, list[str]]:
    """Rename/recode ``names`` in place; the old names to keep as aliases, by new code."""
    old_names: dict[str, list[str]] = {}
    for change in changes:
        names.pop(change.old_code, None)
        names[change.code] = change.name
        if change.old_name != change.name:
            old_names.setdefault(change.code, []).append(change.old_name)
    return old_names


def _blockers(short_forms: set[str], aliases: set[str]) -> dict[str, tuple[tuple[int, str], ...]]:
    """Ordinary words of jieba's main dictionary that hold a short form (朝阳产业, 四季长春)."""
    found: dict[str, list[tuple[int, str]]] = {}
    sizes = sorted({len(a) for a in short_forms})
    longest = max(map(len, aliases))
    with resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as handle:
        for line in handle:
            word, _, rest = line.partition(" ")
            if len(word) < 3 or rest.rstrip().rpartition(" ")[2] in _PLACE_TAGS:
                continue
            for size in sizes:
                if size >= len(word):
                    break
                for at in range(len(word) - size + 1):
                    piece = word[at : at + size]
                    if piece in short_forms and not any(
                        word[at : at + k] in aliases for k in range(size + 1, min(len(word) - at, longest) + 1)
                    ):
                        found.setdefault(piece, []).append((at, word))
    return {alias: tuple(words) for alias, words in found.items()}


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    package = resources.files("cpca.resources")
    with package.joinpath("adcodes.csv").open(encoding="utf-8") as handle:
        names = {row["adcode"][:6]: row["name"] for row in csv.DictReader(handle)}
    with package.joinpath("56_nations.csv").open(encoding="utf-8") as handle:
        nations = sorted((line.strip() for line in handle if line.strip()), key=len, reverse=True)
    nations += [n[:-1] for n in nations if n.endswith("族")]
    old_names = _apply_changes(names, admin_changes())
    regions: dict[str, Region] = {}
    for code, name in names.items():
        if name in _UNCOUNTED_NAMES:
            continue
        parts = [names.get(code[:2] + "0000", "")]
        if code[2:] != "0000":
            city = names.get(code[:4] + "00", "")
            if code[4:] != "00" and city not in {"", *_UNCOUNTED_NAMES}:
                parts.append(city)
            parts.append(name)
        regions[code] = Region(code=code, full_name="".join(parts))
    alias_codes: dict[str, list[str]] = {}
    for code, region in regions.items():
        for alias in _aliases(names[code], region.level, nations) | set(old_names.get(code, ())):
            if code not in alias_codes.setdefault(alias, []):
                alias_codes[alias].append(code)
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
    short_forms = {a for a, codes in alias_codes.items() if all(names[c] != a for c in codes)}
    return _Gazetteer(
        regions=regions,
        aliases=aliases,
        lengths={prefix: tuple(sorted(ls)) for prefix, ls in lengths.items()},
        starts=starts,
        blockers=_blockers(short_forms, set(aliases)),
        weak=frozenset(a for a in aliases if _GENERIC_DISTRICT.fullmatch(a)),
        pairs=_pairs_pattern(set(aliases)),
    )


def _pairs_pattern(aliases: set[str]) -> re.Pattern[str] | None:
    """See ``_Gazetteer.pairs``."""
    if not aliases or min(map(len, aliases)) < 2:
        return None
    firsts = "".join(re.escape(c) for c in sorted({a[0] for a in aliases}))
    seconds = "".join(re.escape(c) for c in sorted({a[1] for a in aliases}))
    return re.compile(f"[{firsts}](?=[{seconds}])")


def _is_name_char(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" and char not in _BOUNDARY_CHARS


def _after_ancestor(ends: dict[int, tuple[str, ...]], start: int, codes: tuple[str, ...]) -> bool:
    """A match ends at ``start`` and names an ancestor of one of ``codes`` (陕西|安康, 宁夏|西吉县)."""
    before = ends.get(start)
    if before is None:
        return False
    regions = _gazetteer().regions
    return any(_is_ancestor(regions[a], regions[c]) for a in before for c in codes)


def _in_longer_word(gazetteer: _Gazetteer, text: str, start: int, alias: str) -> bool:
    return any(text.startswith(word, start - at) for at, word in gazetteer.blockers.get(alias, ()) if start >= at)


def _scan(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Leftmost-longest alias matches: (start, end, candidate codes)."""
    gazetteer = _gazetteer()
    aliases, lengths = gazetteer.aliases, gazetteer.lengths
    found: list[tuple[int, int, tuple[str, ...]]] = []
    ends: dict[int, tuple[str, ...]] = {}
    for match in (gazetteer.pairs or gazetteer.starts).finditer(text):
        start = match.start()
        sizes = lengths.get(text[start : start + 2])
        if sizes is None:
            continue
        for size in sizes:
            alias = text[start : start + size]
            entry = aliases.get(alias)
            if entry is None:
                continue
            codes, guarded = entry
            if alias in gazetteer.weak:
                if not _after_ancestor(ends, start, codes):
                    continue  # 老城区改造 is no district of 洛阳
            elif (guarded and start > 0 and _is_name_char(text[start - 1])
                    and text[start - 2 : start] not in _PLACE_VERBS and not _after_ancestor(ends, start, codes)):
                continue  # 清岚县 is not 岚县, 徐朝阳 is not 朝阳
            if guarded and _in_longer_word(gazetteer, text, start, alias):
                continue  # 朝阳产业, 安康杯
            found.append((start, start + size, codes))
            ends[start + size] = codes
    found.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    result: list[tuple[int, int, tuple[str, ...]]] = []
    covered = -1
    for start, end, codes in found:
        if start >= covered:
            result.append((start, end, codes))
            covered = end
    return result


def _raw_mentions(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """Leftmost-longest alias matches: (start, candidate codes)."""
    return [(start, codes) for start, _, codes in _scan(text)]


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


def main_region_of(found: list[Region], written: list[Region] | None = None) -> str:
    """:func:`main_region` of already resolved mentions (in order of mention).

    ``written``: ancestors written as part of a longer name (the 江苏省 of 江苏省常州市); they count
    nothing themselves but may win through their descendants (淇县, 浚县 → 鹤壁市).
    """
    if not found:
        return ""
    counts = Counter(found)
    candidates = list(counts) + [r for r in dict.fromkeys(written or ()) if r not in counts]
    scores = {
        region: sum(n for other, n in counts.items() if other == region or _is_ancestor(other, region) or _is_ancestor(region, other))
        for region in candidates
    }
    order = {region: i for i, region in reversed(list(enumerate([*found, *(written or ())])))}
    best = max(candidates, key=lambda r: (scores[r], r.level, -order[r]))
    return best.full_name


_CLAUSE_END = re.compile(r"[，,。；;！？!?：:\n]")
# 协作 covers 东西部协作, 劳务协作 and the pairings named after two provinces (苏陕协作, 闽宁协作).
_PARTNER_CUES = re.compile(r"协作|对口(?:帮扶|支援)|结对帮扶|帮扶城市|援建")
# The words right before a destination: 转移到, 输出到, 销往, 远销, 卖到了, 考入
_DESTINATION = re.compile(r"(?:(?:转移|输出|输送|外出|销|运|发|出口|卖|嫁|输|迁)(?:到了?|往|至)|远销|考[入上])$")
_VENUE_BEFORE = re.compile(r"[在到赴去于]$")
_VENUE_AFTER = re.compile(r"打工|务工|读书|读大|读研|上学|就读|求学|上大学|参展|举办|举行|博览会|交易会|展销会")
_PARTNER_SUBJECT = re.compile(r"[^，,。；;：:\s]{0,6}?[与同跟]")  # 平溪县与常州市开展协作: 平溪县 is the article's side
_ENUMERATION = frozenset({"、"})
_LIST_JOINS = frozenset({"、", "和", "及", "或", "以及"})


def demoted_mentions(text: str, found: list[tuple[int, int, tuple[str, ...]]]) -> frozenset[int]:
    """Starts of the mentions in ``found`` (:func:`_scan` of ``text``) that are not where the
    article is: in a clause about a partnership (东西部协作, 对口帮扶), a destination (转移到,
    销往), a venue (在东莞打工, 在长沙一所学院读书), or a list of unrelated places (广东、福建)."""
    if not found:
        return frozenset()
    regions = _gazetteer().regions
    # chains: mentions written one after the other (广东东莞) share their context
    chains: list[list[tuple[int, int, tuple[str, ...]]]] = []
    for mention in found:
        if chains and chains[-1][-1][1] == mention[0]:
            chains[-1].append(mention)
        else:
            chains.append([mention])
    listed_chains = _listed(text, chains, regions)
    demoted: set[int] = set()
    for i, chain in enumerate(chains):
        start, end = chain[0][0], chain[-1][1]
        clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, max(0, start - 40), start)), default=max(0, start - 40))
        after = _CLAUSE_END.search(text, end)
        clause_end = after.start() if after else len(text)
        before, rest = text[clause_start:start], text[end:clause_end]
        listed = i in listed_chains
        partner = _PARTNER_CUES.search(text, clause_start, clause_end) is not None and not _PARTNER_SUBJECT.match(text, end)
        if (listed or partner or _DESTINATION.search(before)
                or (_VENUE_BEFORE.search(before) and _VENUE_AFTER.search(rest))):
            demoted.update(m[0] for m in chain)
    return frozenset(demoted)


def _listed(text: str, chains: list[list[tuple[int, int, tuple[str, ...]]]], regions: dict[str, Region]) -> set[int]:
    """Indexes of the chains in a list of unrelated places: joined by 、 (广东、福建), and the last
    one joined by 和/及 to such a list (成都、重庆和广州); 与 alone pairs partners, it lists nothing."""
    def joined(i: int, joins: frozenset[str]) -> bool:
        a, b = chains[i], chains[i + 1]
        return text[a[-1][1] : b[0][0]] in joins and not _related(a, b, regions)

    listed: set[int] = set()
    for i in range(len(chains) - 1):
        if joined(i, _ENUMERATION) or (i in listed and joined(i, _LIST_JOINS)):
            listed.update((i, i + 1))
    return listed


def _related(a: list[tuple[int, int, tuple[str, ...]]], b: list[tuple[int, int, tuple[str, ...]]],
             regions: dict[str, Region]) -> bool:
    """Some mention of one chain is (an ancestor of) some mention of the other: 安康市、平溪县."""
    for _, _, ca in a:
        for _, _, cb in b:
            for x in ca:
                for y in cb:
                    rx, ry = regions[x], regions[y]
                    if rx == ry or _is_ancestor(rx, ry) or _is_ancestor(ry, rx):
                        return True
    return False


# Mentions this close to the start of the text are the lead's (the dateline, the first sentence):
# they count twice for the main region; the title's count three times, as it names the article's place.
LEAD_CHARS = 120
TITLE_WEIGHT = 3


@dataclass(frozen=True, slots=True)
class DocumentRegions:
    """The region mentions of a document, found once and shared by the stages after.

    ``mentions`` are the unresolved matches of the whole text (:func:`scan_mentions`): any
    paragraph's or sentence's mentions are a slice of them; ``demoted`` the starts of those that
    are partners, destinations, venues or list members (:func:`demoted_mentions`). ``main`` is
    the region the article is about (:func:`main_region_of` over the other mentions, the title's
    three times and the lead's twice), else ``""``. ``names`` are the regions the text names
    (:func:`most_specific`, in order of first mention; else the title's), the demoted after
    the others; ``codes`` their GB/T 2260 codes, in the same order.
    """

    mentions: list[tuple[int, tuple[str, ...]]]
    names: list[str]
    main: str
    demoted: frozenset[int] = frozenset()

    @property
    def codes(self) -> list[str]:
        return region_codes(self.names)


def source_region_of(name: str | None) -> Region | None:
    """The most specific region a source's region names (``甘肃省定西市``, ``定西市``, ``甘肃定西``);
    None when it names none the gazetteer knows."""
    if not name:
        return None
    exact = region_by_name(name.strip())
    if exact is not None:
        return exact
    found = mentioned_regions(name)
    specific = most_specific(found)
    return region_by_name(specific[0]) if len(specific) == 1 else None


def document_regions(text: str, title: str | None = None, source_region: str | None = None) -> DocumentRegions:
    """Scan ``text`` (normalized) for regions once; the title counts toward the main region.

    ``source_region`` (the place the source covers) becomes the main region when the text and
    title name none, or name only places that contain it (an article of a 定西市 site that names
    甘肃 once is about 定西市); a text about somewhere else keeps its own main region."""
    found = _scan(text) if text else []
    mentions = [(start, codes) for start, _, codes in found]
    demoted = demoted_mentions(text, found)
    resolved = resolve_mentions(mentions)
    ends = {start: end for start, end, _ in found}
    # 江苏省常州市 is one mention of 常州, not one of 江苏 and one of 常州
    written_with = {a for (a, ra), (b, rb) in zip(resolved, resolved[1:], strict=False) if ends[a] == b and _is_ancestor(ra, rb)}
    counted = [(start, region) for start, region in resolved if start not in written_with]
    kept = [region for start, region in counted if start not in demoted]
    passing = [region for start, region in counted if start in demoted]
    titled: list[Region] = []
    if title:
        title_found = _scan(title)
        title_demoted = demoted_mentions(title, title_found)
        titled = [r for s, r in resolve_mentions([(a, c) for a, _, c in title_found]) if s not in title_demoted]
    lead = [region for start, region in counted if start < LEAD_CHARS and start not in demoted]
    ancestors = [region for start, region in resolved if start in written_with and start not in demoted]
    main = main_region_of(titled * TITLE_WEIGHT + lead + kept, ancestors) if (kept or titled) else ""
    specific = most_specific(kept)
    names = specific or (most_specific(titled) if not passing else [])
    names += [n for n in most_specific(passing) if n not in names]
    source = source_region_of(source_region)
    if source is not None and all(_contains(name, source) for name in specific):
        # the text names no place of its own (partners, destinations and venues aside), or only
        # places containing the source's: a province round-up that names its cities keeps them
        current = region_by_name(main) if main else None
        if current is None or _is_ancestor(current, source):
            main = source.full_name
            # the source's place stands for the places containing it that the text names
            names = [main] + [n for n in names if n != main and not _contains(n, source)]
    return DocumentRegions(mentions=mentions, names=names, main=main, demoted=demoted)


def _contains(name: str, region: Region) -> bool:
    container = region_by_name(name)
    return container is not None and _is_ancestor(container, region)


def region_code(full_name: str) -> str:
    """The GB/T 2260 code of a full name (``陕西省安康市`` → ``610900``); ``""`` when unknown."""
    region = region_by_name(full_name) if full_name else None
    return region.code if region is not None else ""


def region_codes(full_names: list[str]) -> list[str]:
    """:func:`region_code` of each name, in order."""
    return [region_code(name) for name in full_names]


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
