"""Scoring of paragraph topics against line-level gold (devset gold_topics.jsonl, seed gold).

Gold rows name a raw non-empty line by ``paragraph_index`` and its first 20 characters
(``text_start``). The pipeline may join several raw lines into one normalized paragraph (e-paper
layout), so each gold row is mapped to the normalized paragraph that contains its
``text_start`` (compared after NFKC, t2s and whitespace removal), searching forward in order.
Score: micro-F1 over (row, topic) pairs. Run as a script to print the per-article table.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from devset_path import DEVSET  # noqa: E402 - one place says where the devset is

from streams.pipeline.types import Analysis

_SPACE = re.compile(r"\s+")
_PINYIN = re.compile(r"[(（][a-zA-Z\u00c0-\u024f\u1e00-\u1eff]{0,7}(?:[)）]|$)")


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202
    import opencc

    return opencc.OpenCC("t2s")


def match_key(text: str) -> str:
    """Comparison key: NFKC, traditional→simplified, no pinyin annotations, no whitespace."""
    text = _SPACE.sub("", _t2s().convert(unicodedata.normalize("NFKC", text)))
    return _PINYIN.sub("", text)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.rows += other.rows
        self.errors.extend(other.errors)

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 1.0 if denominator == 0 else 2 * self.tp / denominator


def load_gold(path: Path) -> dict[str, list[dict]]:
    """Gold rows grouped by article id, in file order."""
    grouped: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            grouped.setdefault(row["id"], []).append(row)
    return grouped


def map_rows(result: Analysis, rows: Iterable[dict]) -> list[tuple[dict, int | None]]:
    """Pair each gold row with the index of the normalized paragraph holding its text_start."""
    keys = [match_key(p.text) for p in result.paragraphs]
    pairs: list[tuple[dict, int | None]] = []
    cursor = 0
    for row in rows:
        needle = match_key(row["text_start"])
        found = next((i for i in range(cursor, len(keys)) if needle in keys[i]), None)
        if found is None:
            found = next((i for i in range(len(keys)) if needle in keys[i]), None)
        pairs.append((row, found))
        cursor = found if found is not None else cursor
    return pairs


def score_article(result: Analysis, rows: list[dict]) -> Score:
    """Micro counts of one article's paragraph topics against its gold rows."""
    score = Score()
    for row, index in map_rows(result, rows):
        gold = set(row["topics"])
        predicted = set(result.paragraphs[index].topics) if index is not None else set()
        score.rows += 1
        score.tp += len(gold & predicted)
        score.fp += len(predicted - gold)
        score.fn += len(gold - predicted)
        if gold != predicted or index is None:
            where = "UNMAPPED" if index is None else f"p{index}"
            score.errors.append(
                f"{row['id']}#{row['paragraph_index']} {where} gold={sorted(gold)} got={sorted(predicted)} "
                f"{row['text_start']}"
            )
    return score


def devset_articles() -> list[tuple[str, str, dict]]:
    """(id, text, meta) of the devset articles."""
    out = []
    for path in sorted(DEVSET.glob("d*.txt")):
        meta = json.loads(path.with_suffix(".meta.json").read_text(encoding="utf-8"))
        out.append((path.stem, path.read_text(encoding="utf-8"), meta))
    return out


def format_table(per_article: dict[str, Score], total: Score) -> str:
    lines = [f"{'id':<8}{'rows':>5}{'tp':>5}{'fp':>5}{'fn':>5}{'F1':>8}"]
    for name, s in [*per_article.items(), ("all", total)]:
        lines.append(f"{name:<8}{s.rows:>5}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.f1:>8.3f}")
    return "\n".join(lines)


SEEDS = Path(__file__).resolve().parents[3] / "seeds"
SEED_GOLD = Path(__file__).resolve().parents[2] / "gold" / "seeds"


def evaluate(articles: list[tuple[str, str, dict]], gold: dict[str, list[dict]]) -> tuple[dict[str, Score], Score]:
    """Per-article and overall scores of ``Pipeline.analyze`` for articles that have gold rows."""
    from streams.pipeline.analyzer import Pipeline

    pipeline = Pipeline(code_version="test")
    per_article: dict[str, Score] = {}
    total = Score()
    for name, text, meta in articles:
        if name not in gold:
            continue
        result = pipeline.analyze(text, title=meta.get("title"))
        score = score_article(result, gold[name])
        per_article[name] = score
        total.add(score)
    return per_article, total


def evaluate_devset() -> tuple[dict[str, Score], Score]:
    """Scores on the devset (gold_topics.jsonl)."""
    return evaluate(devset_articles(), load_gold(DEVSET / "gold_topics.jsonl"))


def seed_gold() -> dict[str, list[dict]]:
    """Seed topic gold rows by seed id (tests/gold/seeds/*.topics.jsonl)."""
    gold: dict[str, list[dict]] = {}
    for path in sorted(SEED_GOLD.glob("*.topics.jsonl")):
        gold.update(load_gold(path))
    return gold


def evaluate_seeds() -> tuple[dict[str, Score], Score]:
    """Scores on the seeds that have topic gold."""
    articles = [(p.stem, p.read_text(encoding="utf-8"), {}) for p in sorted(SEEDS.glob("*.txt"))]
    return evaluate(articles, seed_gold())


if __name__ == "__main__":
    import sys

    which = evaluate_seeds if "seeds" in sys.argv[1:] else evaluate_devset
    per, all_ = which()
    for s in per.values():
        print("\n".join(s.errors))
    print(format_table(per, all_))
