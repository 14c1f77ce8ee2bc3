"""Multi-keyword scans in one pass over a text, with ``ahocorasick-rs`` (Aho–Corasick automata in Rust).

:class:`LongestTerms` finds terms leftmost-longest, left to right, never overlapping: at the
leftmost position where a term starts, the longest term starting there — what the prefix-tree regex
of :func:`~streams.pipeline.lexicon.trie_pattern` finds with ``findall``/``finditer``, about twice
as fast on the topic lexicon's ~330 terms (the classifier's scan of every paragraph). Offsets are
Python code-point offsets (ahocorasick-rs converts them for ``str``).

Short texts scanned against a few words at a time (a figure's words against each metric rule's
keywords) stay on regexes: there the call into the automaton costs more than the scan (measured:
finding figures was 3–6 % slower with one automaton for all the rules' keywords).

An empty term would match everywhere: the rules files refuse one (``rulemodels.Term``) and so
does :class:`LongestTerms`.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick_rs


class LongestTerms:
    """Leftmost-longest, non-overlapping matches of a fixed set of terms."""

    __slots__ = ("_automaton", "terms")

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: tuple[str, ...] = tuple(sorted(set(terms)))
        if "" in self.terms:
            raise ValueError("an empty term matches everywhere")
        self._automaton = ahocorasick_rs.AhoCorasick(self.terms, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST)

    def findall(self, text: str) -> list[str]:
        """The matched terms in text order."""
        return self._automaton.find_matches_as_strings(text)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(term, start, end) of every match, in text order."""
        terms = self.terms
        return [(terms[index], start, end) for index, start, end in self._automaton.find_matches_as_indexes(text)]

    def __eq__(self, other: object) -> bool:  # a value, like the compiled regex it replaces
        return isinstance(other, LongestTerms) and other.terms == self.terms

    def __hash__(self) -> int:
        return hash(self.terms)

    def __reduce__(self) -> tuple[type[LongestTerms], tuple[tuple[str, ...]]]:
        return LongestTerms, (self.terms,)
