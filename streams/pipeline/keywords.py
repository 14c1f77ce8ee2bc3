"""Document keywords: the top domain terms of a token list by tf-idf.

Only *domain terms* are candidates (the words of the segmenter's user dictionary and of the
topic lexicon, two characters or more). The idf of a term comes from jieba's own
``jieba/analyse/idf.txt`` (the table ``jieba.analyse.extract_tags`` uses); a term missing from
it gets the table's median idf, as in jieba. Ranking is by ``tf × idf``, ties by the term, so
the result is deterministic.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable


def jieba_idf_path() -> Traversable:
    """jieba's idf table, package data of the installed jieba."""
    return resources.files("jieba") / "analyse" / "idf.txt"


@lru_cache(maxsize=1)
def _jieba_idf() -> tuple[dict[str, float], float]:
    idf: dict[str, float] = {}
    with jieba_idf_path().open(encoding="utf-8") as handle:
        for line in handle:
            word, _, value = line.strip().partition(" ")
            if value:
                idf[word] = float(value)
    return idf, statistics.median(idf.values())


@dataclass(frozen=True, slots=True)
class KeywordScorer:
    """idf weights for a fixed set of domain terms."""

    idf: dict[str, float]

    @classmethod
    def for_terms(cls, terms: Iterable[str]) -> KeywordScorer:
        table, median = _jieba_idf()
        return cls({term: table.get(term, median) for term in terms if len(term) >= 2})

    def top(self, counts: Counter[str], k: int = 10) -> list[str]:
        """The ``k`` best domain terms of a token ``Counter``."""
        candidates = counts.keys() & self.idf.keys()
        ranked = sorted(candidates, key=lambda term: (-counts[term] * self.idf[term], term))
        return ranked[:k]
