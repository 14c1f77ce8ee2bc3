"""Word segmentation with jieba semantics: rjieba (jieba-rs) by default, pure-Python jieba on request.

Both engines use jieba's own main dictionary plus the newsetl domain dictionary
``rules/dict.txt`` (jieba user-dict format: ``word [freq] [tag]`` per line, UTF-8).

rjieba 0.2 has no ``load_userdict``: a ``rjieba.Jieba`` instance only offers
``add_word(word, freq, tag)``. We therefore parse the user dictionary ourselves and call
``add_word`` on *both* engines with the same explicit frequency (on a private
``jieba.Tokenizer`` for jieba, never the global one), so that the two engines see the same
dictionary and compute the same DAG/HMM segmentation. Entries without a frequency get
:data:`DEFAULT_FREQ` (jieba's ``suggest_freq`` differs between the engines, so we never rely on it).

The engine is chosen by the caller (the stream passes ``NEWSETL_SEGMENTER``); see
:func:`get_segmenter`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Literal, Protocol

from streams.pipeline.rulefiles import DEFAULT_RULES_DIR

Engine = Literal["rjieba", "jieba"]
ENGINES: tuple[str, ...] = ("rjieba", "jieba")
DEFAULT_DICT_PATH: Traversable = DEFAULT_RULES_DIR / "dict.txt"
DEFAULT_FREQ = 3000


@dataclass(frozen=True, slots=True)
class DictEntry:
    """One line of a jieba user dictionary."""

    word: str
    freq: int
    tag: str | None = None


def parse_user_dict(text: str) -> list[DictEntry]:
    """Parse jieba user-dict text (``word [freq] [tag]``); blank lines are skipped."""
    entries: list[DictEntry] = []
    for raw in text.splitlines():
        parts = raw.strip().lstrip("\ufeff").split()
        if not parts:
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else DEFAULT_FREQ
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append(DictEntry(parts[0], freq, tag))
    return entries


def load_user_dict(path: Traversable) -> list[DictEntry]:
    """Read and parse a user dictionary file."""
    return parse_user_dict(path.read_text(encoding="utf-8"))


class _Backend(Protocol):
    def cut(self, text: str) -> list[str]: ...


class _RjiebaBackend:
    """rjieba.Jieba with the user words added one by one (rjieba has no load_userdict)."""

    def __init__(self, entries: tuple[DictEntry, ...]) -> None:
        import rjieba

        self._jieba = rjieba.Jieba()
        for entry in entries:
            self._jieba.add_word(entry.word, entry.freq, entry.tag)
        self.cut = self._jieba.cut  # bound method: no Python frame per call


class _JiebaBackend:
    """A private jieba.Tokenizer (the module-global one is left untouched)."""

    def __init__(self, entries: tuple[DictEntry, ...]) -> None:
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for entry in entries:
            self._tokenizer.add_word(entry.word, entry.freq, entry.tag)
        self.cut = self._tokenizer.lcut


class Segmenter:
    """A segmentation engine with the domain dictionary loaded.

    ``cut(text)`` returns jieba default-mode tokens (HMM on); their concatenation is ``text``.
    """

    def __init__(self, engine: str = "rjieba", entries: tuple[DictEntry, ...] = ()) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown segmenter {engine!r}; expected one of {', '.join(ENGINES)}")
        self.engine = engine
        self.words: frozenset[str] = frozenset(entry.word for entry in entries)
        backend: _Backend = _RjiebaBackend(entries) if engine == "rjieba" else _JiebaBackend(entries)
        self.cut: Callable[[str], list[str]] = backend.cut

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        """Tokens with their code-point offsets ``(word, start, end)`` in ``text``."""
        out: list[tuple[str, int, int]] = []
        pos = 0
        for word in self.cut(text):
            end = pos + len(word)
            out.append((word, pos, end))
            pos = end
        return out


@lru_cache(maxsize=8)
def get_segmenter(engine: str = "rjieba", dict_path: Traversable | None = None) -> Segmenter:
    """Cached :class:`Segmenter` for ``engine`` with ``dict_path`` (default: the shipped dict.txt)."""
    path = dict_path or DEFAULT_DICT_PATH
    return Segmenter(engine, tuple(load_user_dict(path)))


def boundaries(tokens: list[str]) -> set[int]:
    """Set of internal token boundary offsets (code points) of a token list."""
    out: set[int] = set()
    pos = 0
    for word in tokens[:-1]:
        pos += len(word)
        out.add(pos)
    return out


def token_agreement(a: list[str], b: list[str]) -> float:
    """Share of tokens of ``a`` that ``b`` also produces with the same start and end offsets.

    Both lists must segment the same text. Symmetric measure: tokens matched over the mean
    token count of the two segmentations.
    """
    spans_a = _spans(a)
    spans_b = _spans(b)
    if not spans_a and not spans_b:
        return 1.0
    matched = len(spans_a & spans_b)
    return 2 * matched / (len(spans_a) + len(spans_b))


def _spans(tokens: list[str]) -> set[tuple[int, int]]:
    spans: set[tuple[int, int]] = set()
    pos = 0
    for word in tokens:
        spans.add((pos, pos + len(word)))
        pos += len(word)
    return spans
