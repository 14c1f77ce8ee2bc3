"""Paragraph-topic micro-F1 of ``Pipeline.analyze`` on the shared devset (gold_topics.jsonl)."""

from __future__ import annotations

from devset_path import DEVSET, require_devset
from topic_scoring import evaluate_devset, format_table

pytestmark = require_devset("gold_topics.jsonl")


def test_devset_paragraph_topics_micro_f1():
    per_article, total = evaluate_devset()
    print()
    print(format_table(per_article, total))
    for score in per_article.values():
        for line in score.errors:
            print("  ", line)
    gold_rows = sum(1 for line in (DEVSET / "gold_topics.jsonl").read_text(encoding="utf-8").splitlines()
                    if line.strip())
    assert total.rows == gold_rows
    assert not [e for s in per_article.values() for e in s.errors if "UNMAPPED" in e]
    assert total.f1 >= 0.93  # issue 8's bar
