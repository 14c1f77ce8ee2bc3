"""The one-shot benchmark's pure parts: the corpus, the text measurement and the table."""

from __future__ import annotations

import re

import pytest

from schemas.models import RawDocument
from streams.bench.corpus import bench_corpus, seed_paragraphs
from streams.bench.suite import _median_round, bench_text, markdown, offline_docs_s
from streams.settings import Settings


def test_the_corpus_is_deterministic_varied_and_valid() -> None:
    docs = bench_corpus(300)
    assert docs == bench_corpus(300)
    assert docs != bench_corpus(300, seed=12)
    assert len({doc["doc_id"] for doc in docs}) == 300
    for doc in docs:
        RawDocument.model_validate(doc)  # what news.raw accepts
    paragraphs = [len(doc["text"].split("\n\n")) - 1 for doc in docs]
    short = sum(1 for n in paragraphs if n <= 2)
    long_ = sum(1 for n in paragraphs if n >= 12)
    assert 100 <= short <= 200 and 20 <= long_ <= 70
    # figures are varied: the seeds' paragraphs do not come back with their own numbers
    pool = set(seed_paragraphs())
    body = [p for doc in docs for p in doc["text"].split("\n\n")[1:] if re.search(r"\d", p)]
    assert sum(p in pool for p in body) < len(body) // 10


def test_text_measurement_reports_every_rate() -> None:
    result = bench_text([doc["text"] for doc in bench_corpus(30)], Settings())
    assert set(result) == {"megabytes", "analyze_mb_s", "analyze_docs_s", "offline_docs_s", "rjieba_mb_s", "jieba_mb_s"}
    assert all(value > 0 for value in result.values())


def test_markdown_table() -> None:
    result = {
        "machine": "2 CPUs", "when": "2026-12-01 12:00 UTC", "corpus_documents": 10,
        "text": {"megabytes": 1.0, "analyze_mb_s": 2.0, "analyze_docs_s": 100.0, "offline_docs_s": 80.0,
                 "rjieba_mb_s": 20.0, "jieba_mb_s": 0.5},
        "end_to_end_1": {"docs_per_second": 60.0}, "end_to_end_2": {"docs_per_second": 90.0},
        "latency": {"offered_docs_s": 50.0, "seconds": 60.0, "p50_s": 1.0, "p95_s": 1.2, "p99_s": 1.4},
        "dashboard_api_s": {"api:facts": 0.2, "api:summary": 0.01}, "dashboard_rows": 1_000_000,
        "ratios": {"analyze_vs_rjieba": 0.1, "analyze_vs_jieba": 4.0, "e2e_1_vs_offline": 0.75, "e2e_2_vs_1": 1.5,
                   "latency_p95_s": 1.2, "worker_rss_mb": 300.0, "dashboard_max_s": 0.2},
        "met": {"analyze_vs_rjieba": False, "analyze_vs_jieba": True, "e2e_1_vs_offline": False, "e2e_2_vs_1": True,
                "latency_p95_s": True, "worker_rss_mb": True, "dashboard_max_s": False},
    }
    lines = markdown(result).splitlines()
    assert lines[0] == "Machine: 2 CPUs; 2026-12-01 12:00 UTC; corpus 10 documents (1.0 MB)."
    assert "| analyze (Pipeline.analyze, one core) | 2.0 MB/s, 100.0 docs/s | 0.1× raw rjieba (20.0 MB/s) | ≥ 0.12× | **no** |" in lines
    assert "| end to end, 2 workers | 90.0 docs/s | 1.5× 1 worker | ≥ 1.3× | yes |" in lines
    assert "| dashboard API queries at 1,000,000 metric rows (median of 3) | max 0.2 s |  | ≤ 0.1 s each | **no** |" in lines
    assert lines[-2:] == ["| facts | 0.2 |", "| summary | 0.01 |"]
    result["end_to_end_runs_docs_s"] = {"1": [55.5, 60.0], "2": [90.0, 70.25]}
    result["end_to_end_rounds"] = [{"offline_docs_s": 80.0, "one_vs_offline": 0.694, "two_vs_one": 1.622},
                                   {"offline_docs_s": 80.0, "one_vs_offline": 0.75, "two_vs_one": 1.171}]
    result["end_to_end_offline_docs_s"] = 80.0
    result["ratios"] |= {"e2e_2_vs_1": 1.622}
    lines = markdown(result).splitlines()
    assert ("| end to end, 1 worker | 60.0 docs/s (runs 55.5, 60.0) | 0.75× offline analyze of the same round "
            "(80.0 docs/s); median of 0.694×, 0.75× | ≥ 0.8× | **no** |") in lines
    assert ("| end to end, 2 workers | 90.0 docs/s (runs 90.0, 70.25) | 1.622× 1 worker of the same round; "
            "median of 1.622×, 1.171× | ≥ 1.3× | yes |") in lines


@pytest.mark.parametrize(("ratios", "expected"), [
    ([0.7], 0),
    ([0.9, 0.6, 0.8], 2),
    ([1.32, 1.07], 1),  # an even count: the lower middle one
    ([1.0, 1.2, 1.1, 1.3], 2),
])
def test_the_median_round(ratios, expected) -> None:
    assert _median_round([{"r": r} for r in ratios], "r") == expected


def test_an_offline_pass_reports_docs_per_second() -> None:
    assert offline_docs_s([doc["text"] for doc in bench_corpus(5)], Settings()) > 0
