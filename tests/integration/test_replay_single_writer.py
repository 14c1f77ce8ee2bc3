"""Replay writes ClickHouse once, through one sink — counted at the ClickHouse endpoint, since
identical duplicate rows collapse in ReplacingMergeTree and cannot be counted in the tables."""

from __future__ import annotations

import json
import urllib.request

from streams.ingest.producer import produce
from streams.local.clickhouse_http import INSERTS_PATH
from streams.stream.replay import replay
from tests.integration.etl_helpers import WorkerProcess, isolated, poll, read_topic, scalar
from tests.integration.test_etl import SEEDS
from tests.integration.test_replay import strict_rules

TABLES = ("metrics", "paragraphs", "documents")


def inserts(settings) -> dict[str, dict[str, int]]:
    """The endpoint's INSERT statements and rows so far, for this test's database."""
    with urllib.request.urlopen(f"{settings.clickhouse_url}{INSERTS_PATH}", timeout=10) as response:
        counts = json.loads(response.read())
    return {table: counts.get(f"{settings.clickhouse_database}.{table}", {"inserts": 0, "rows": 0})
            for table in TABLES}


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, tuple[int, int]]:
    return {t: (after[t]["inserts"] - before[t]["inserts"], after[t]["rows"] - before[t]["rows"]) for t in TABLES}


def current_rows(settings) -> dict[str, int]:
    return {t: scalar(settings, f"SELECT count() FROM {t}_latest") for t in TABLES}


def test_replay_from_raw_with_a_live_worker_writes_each_row_once(stack, tmp_path):
    settings = isolated(stack, "onewriter")
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        produce([str(SEEDS)], settings)
        poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 5, 180, "5 seed documents",
             on_timeout=worker.log_tail)
        before = inserts(settings)
        new = settings.model_copy(update={"rules_dir": strict_rules(tmp_path)})
        summary = replay(new, "raw", "earliest")
        after = inserts(settings)
    finally:
        worker.stop()

    assert summary.writer == "workers"
    assert (summary.read, summary.published, summary.written, summary.dlq) == (5, 5, 5, 0)
    # Right when replay returns, the views show the new run, and nothing else.
    rows = current_rows(settings)
    assert scalar(settings, "SELECT groupUniqArray(pipeline_version) FROM metrics_latest") == [summary.pipeline_version]
    assert scalar(settings, "SELECT countIf(length(topics) > 0) FROM paragraphs_latest") == 0
    # The worker's sink wrote the replayed documents: one INSERT per table per batch, each row once.
    written = delta(before, after)
    batches = written["documents"][0]
    assert batches >= 1 and all(written[t][0] == batches for t in TABLES), written
    assert {t: written[t][1] for t in TABLES} == rows, written
    # news.enriched got exactly one new record per replayed document.
    assert len(read_topic(settings, settings.enriched_topic)) == 10


def test_replay_from_raw_without_a_worker_runs_the_sink_itself(stack):
    settings = isolated(stack, "selfsink")
    produce([str(SEEDS)], settings)
    before = inserts(settings)
    summary = replay(settings, "raw", "earliest")
    after = inserts(settings)

    assert summary.writer == "replay"
    assert (summary.read, summary.published, summary.written) == (5, 5, 5)
    rows = current_rows(settings)
    assert rows["documents"] == 5
    written = delta(before, after)
    batches = written["documents"][0]
    assert batches >= 1 and all(written[t][0] == batches for t in TABLES), written
    assert {t: written[t][1] for t in TABLES} == rows, written
    assert len(read_topic(settings, settings.enriched_topic)) == 5
