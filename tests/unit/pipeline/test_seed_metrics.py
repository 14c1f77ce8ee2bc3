"""Metric extraction on the five seeds against the hand-made gold (tests/gold/seeds/*.metrics.jsonl).

Runs the whole pipeline as ``newsetl analyze`` does (same title/date reading as ``produce``).
Bars: value+unit precision ≥ 0.97 and recall ≥ 0.95 per seed (seed 004 included, through
normalization), metric key right for ≥ 0.9 of found metrics, and no metric from a date, an
ordinal or a name with digits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from metric_scoring import DocScore, combine, format_table, score_document

from streams.ingest.articles import document_from_text
from streams.pipeline.analyzer import Pipeline

REPO = Path(__file__).resolve().parents[3]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
GOLD = REPO / "tests" / "gold" / "seeds"


def _gold(stem: str) -> list[dict]:
    lines = (GOLD / f"{stem}.metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[DocScore, list]]:
    pipeline = Pipeline(code_version="test")
    out = {}
    for path in SEEDS:
        raw = path.read_text(encoding="utf-8")
        doc = document_from_text(raw, path)
        metrics = pipeline.analyze(raw, title=doc.title, published_at=doc.published_at).metrics
        out[path.stem] = (score_document(raw, metrics, _gold(path.stem), name=path.stem[:3]), metrics)
    print("\n" + format_table([score for score, _ in out.values()]))
    return out


def test_every_seed_has_gold():
    assert len(SEEDS) == 5
    assert all((GOLD / f"{p.stem}.metrics.jsonl").exists() for p in SEEDS)


@pytest.mark.parametrize("stem", [p.stem for p in SEEDS])
def test_value_unit_precision_recall_per_seed(results, stem):
    score, _ = results[stem]
    assert score.precision >= 0.97, format_table([score])
    assert score.recall >= 0.95, format_table([score])


def test_metric_key_accuracy_on_found_metrics(results):
    total = combine([score for score, _ in results.values()])
    assert total.accuracy("metric") >= 0.9, format_table([total])


DATE_OR_NAME = re.compile(r"^\d{4}年$|^\d{1,2}月|^\d{1,2}日$|^第|十九大|十三五|十四五|二十大|\d+A级")


def test_no_metrics_from_dates_ordinals_or_names(results):
    bad = [(stem, m.span) for stem, (_, metrics) in results.items() for m in metrics if DATE_OR_NAME.search(m.span)]
    assert bad == []
    units = {m.unit for _, metrics in results.values() for m in metrics}
    assert "年" not in units and "月" not in units and "日" not in units


# Issue 8: the seeds stay at their scores or better. Floors: each seed's metric-topic accuracy as
# measured at 5f99979 (when the issue was filed: 0.840, 0.902, —, 0.832, 0.973).
TOPIC_FLOORS = {"000": 0.88, "001": 0.91, "002": 1.0, "003": 0.92, "004": 0.98}


@pytest.mark.parametrize("stem", [p.stem for p in SEEDS])
def test_metric_topic_per_seed_stays_at_its_floor(results, stem):
    score, _ = results[stem]
    assert score.accuracy("topic") >= TOPIC_FLOORS[stem[:3]], format_table([score])
