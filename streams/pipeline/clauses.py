"""Where the words around a figure begin and end, inside one sentence.

Shared by :mod:`streams.pipeline.figures` (the words that say what a figure measures) and
:mod:`streams.pipeline.context` (its subject and year). A segment ends at any delimiter
(``DELIMS``, including the enumeration comma ``、``), a clause only at ``CLAUSE_DELIMS``; a comma
between two digits is a thousands separator, never a delimiter.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from streams.pipeline.lexicon import MetricLexicon

DELIMS = "，,；;。：:、！？!?\n"
CLAUSE_DELIMS = "，,；;。：:！？!?\n"
YEAR_WORDS = re.compile(r"(?:19|20)\d{2}年(?:底|末|初|上半年|下半年|前三季度|全年)?的?")
_NOUN_PHRASE = re.compile(r"[^\d之和与及、，,；;。：:！？!?\n“”（）()]+")
_SUBJECT_NOISE = re.compile(r"[“”\"《》（）()\s]")
_FIGURE_CHARS = re.compile(r"[\d.,%]+(?:万|亿)?")


def blocked_spans(text: str) -> list[tuple[int, int]]:
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


def is_delim(text: str, i: int, delims: str) -> bool:
    """``text[i]`` ends a segment; a comma between digits is a thousands separator."""
    char = text[i]
    if char not in delims:
        return False
    return not (char == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit())


@lru_cache(maxsize=8)
def _delim_regex(delims: str) -> re.Pattern[str]:
    """Finds what :func:`is_delim` accepts: a delimiter, a comma only when not between digits."""
    others = "".join(re.escape(c) for c in delims if c != ",")
    comma = r"|(?<![0-9]),|,(?![0-9])" if "," in delims else ""
    every = "".join(re.escape(c) for c in delims)  # what every match starts with: fails fast elsewhere
    return re.compile(f"(?=[{every}])(?:[{others}]{comma})")


@lru_cache(maxsize=256)
def _delim_positions(text: str, delims: str) -> tuple[int, ...]:
    return tuple(m.start() for m in _delim_regex(delims).finditer(text))


def last_delim_before(text: str, index: int, delims: str) -> int:
    positions = _delim_positions(text, delims)
    at = bisect_left(positions, index) - 1
    return positions[at] if at >= 0 else -1


def first_delim_after(text: str, index: int) -> int:
    """Position of the first clause delimiter at or after ``index`` (``len(text)`` if none)."""
    positions = _delim_positions(text, CLAUSE_DELIMS)
    at = bisect_left(positions, index)
    return positions[at] if at < len(positions) else len(text)


def segment_start(text: str, index: int, floor: int) -> int:
    return max(floor, last_delim_before(text, index, DELIMS) + 1)


def clause_start(text: str, index: int) -> int:
    return last_delim_before(text, index, CLAUSE_DELIMS) + 1


def right_words(text: str, end: int) -> str:
    """Words after a figure up to the clause end, figures removed (``3.18万户8.95万名脱贫人口``).

    An enumeration comma is crossed only when a noun follows the unit directly
    (``1,206名高血压、糖尿病患者``), not in ``龙头企业46家、合作社…``.
    """
    crosses_enumeration = end < len(text) and not is_delim(text, end, DELIMS)
    stop = min(len(text), end + 30, first_delim_after(text, end))
    if not crosses_enumeration:
        enumeration = text.find("、", end, stop)
        if enumeration != -1:
            stop = enumeration
    return _FIGURE_CHARS.sub("", text[end:stop])


def noun_phrase(text: str, end: int) -> str:
    """The words right after a count unit up to a particle, a conjunction or the clause end."""
    match = _NOUN_PHRASE.match(text, end)
    return match.group() if match else ""


def strip_subject(words: str, lexicon: MetricLexicon) -> str:
    """The figure's words without years, quotes, leading scope words and trailing verbs."""
    if "年" in words:
        words = YEAR_WORDS.sub("", words)
    words = _SUBJECT_NOISE.sub("", words)
    # the lexicon's subject_strip_prefixes (repeated, at the start) and suffixes (at the end)
    stripped = lexicon.subject_tail.sub("", lexicon.subject_head.sub("", words))
    return (stripped or words)[:24] if stripped else ""
