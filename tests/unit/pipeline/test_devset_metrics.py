"""Extraction quality on the shared devset (../shared/devset): fails below the agreed bars."""

from __future__ import annotations

import datetime
import json

import pytest
from devset_path import DEVSET, require_devset
from metric_scoring import DocScore, combine, format_table, score_document

from streams.pipeline.analyzer import Pipeline

pytestmark = require_devset("gold_metrics.jsonl")


def _score_devset(with_source_region: bool = True) -> list[DocScore]:
    """Each article analysed as its source would send it: with its title, publication date and,
    unless told otherwise, the region its source covers (the devset's ``region_main``)."""
    pipeline = Pipeline(code_version="test")
    gold: dict[str, list[dict]] = {}
    for line in (DEVSET / "gold_metrics.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            gold.setdefault(row["id"], []).append(row)
    scores = []
    for text_path in sorted(DEVSET.glob("d*.txt")):
        doc_id = text_path.stem
        meta = json.loads((DEVSET / f"{doc_id}.meta.json").read_text(encoding="utf-8"))
        published = datetime.datetime.fromisoformat(meta["published"]) if meta.get("published") else None
        raw = text_path.read_text(encoding="utf-8")
        predicted = pipeline.analyze(raw, title=meta.get("title"), published_at=published,
                                     source_region=meta.get("region_main") if with_source_region else None).metrics
        scores.append(score_document(raw, predicted, gold.get(doc_id, []), name=doc_id))
    return scores


@pytest.fixture(scope="module")
def devset_scores() -> list[DocScore]:
    scores = _score_devset()
    print("\n" + format_table(scores))
    return scores


def test_value_unit_precision_and_recall(devset_scores: list[DocScore]) -> None:
    total = combine(devset_scores)
    assert total.precision >= 0.995, format_table(devset_scores)
    assert total.recall >= 0.98, format_table(devset_scores)


def test_metric_key_and_topic_accuracy(devset_scores: list[DocScore]) -> None:
    total = combine(devset_scores)
    assert total.accuracy("topic") >= 0.95, format_table(devset_scores)
    assert total.accuracy("metric") >= 0.95, format_table(devset_scores)


def test_year_and_reference_year_accuracy(devset_scores: list[DocScore]) -> None:
    """Issue 8's bar for ref_year is 0.97; the rule reaches 1.0 on the matched rows of all 16."""
    total = combine(devset_scores)
    assert total.accuracy("year") >= 0.99, format_table(devset_scores)
    assert total.accuracy("ref_year") >= 0.99, format_table(devset_scores)
    assert total.accuracy("year_basis") >= 0.99, format_table(devset_scores)


def test_region_accuracy(devset_scores: list[DocScore]) -> None:
    """Issue 8's bar is 0.97 per metric. d09, d10, d12 and d13 name only invented counties (and
    d12 its province once), so from the text alone their figures can have no real region: the
    region their source covers decides there. Without it the text-only figure is printed."""
    total = combine(devset_scores)
    assert total.accuracy("region") >= 0.97, format_table(devset_scores)
    text_only = combine(_score_devset(with_source_region=False))
    print(f"\nregion accuracy with the source's region {total.accuracy('region'):.3f}, "
          f"from the text alone {text_only.accuracy('region'):.3f}")
    assert text_only.accuracy("region") >= 0.75  # the other 12 articles: every figure right


if __name__ == "__main__":
    all_scores = _score_devset()
    print(format_table(all_scores))
    for score in all_scores:
        for fp in score.false_positives:
            print("FP", score.name, fp.span, fp.value, fp.unit, "|", fp.sentence[:50])
        for miss in score.missed:
            print("MISS", score.name, repr(miss["span"]), miss["value"], miss["unit"], "|", miss["sentence"][:50])
        for m in score.matches:
            for key in ("metric", "topic", "year", "ref_year", "year_basis"):
                if getattr(m.predicted, key) != m.gold[key]:
                    print(f"BAD-{key}", score.name, m.gold["span"], getattr(m.predicted, key), "!=", m.gold[key], "|", m.predicted.subject, "|", m.gold["subject"])
