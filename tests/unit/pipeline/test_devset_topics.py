"""Paragraph-topic micro-F1 of ``Pipeline.analyze`` on the shared devset (gold_topics.jsonl)."""

from __future__ import annotations

import pytest
from topic_scoring import DEVSET, evaluate_devset, format_table

pytestmark = pytest.mark.skipif(not (DEVSET / "gold_topics.jsonl").exists(), reason="devset not available")


def test_devset_paragraph_topics_micro_f1():
    per_article, total = evaluate_devset()
    print()
    print(format_table(per_article, total))
    for score in per_article.values():
        for line in score.errors:
            print("  ", line)
    assert total.rows == 168
    assert not [e for s in per_article.values() for e in s.errors if "UNMAPPED" in e]
    assert total.f1 >= 0.85
