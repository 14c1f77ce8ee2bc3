"""Replays against the real services: new rules from raw, reload from enriched, interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from streams.bench.etl import generated_documents
from streams.cli.query import run_query
from streams.ingest.articles import read_path
from streams.ingest.producer import produce
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.store.clickhouse import make_client
from streams.stream.analysis import build_pipeline
from streams.stream.replay import replay
from tests.integration.etl_helpers import REPO, WorkerProcess, isolated, poll, scalar, send_raw
from tests.integration.test_etl import SEEDS

AGGREGATES = {
    "documents": "SELECT count(), sum(metric_count), sum(paragraph_count), groupArraySorted(1000)(doc_id) FROM documents_latest",
    "metrics": "SELECT count(), round(sum(value), 3), groupArraySorted(100)(metric), uniqExact(doc_id, char_start, char_end) FROM metrics_latest",
    "paragraphs": "SELECT count(), groupArraySorted(1000)(arrayStringConcat(topics, ',')) FROM paragraphs_latest",
    "versions": "SELECT groupUniqArray(pipeline_version) FROM metrics_latest",
}


def aggregates(settings) -> dict[str, tuple]:
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        return {name: tuple(client.query(sql).result_rows[0]) for name, sql in AGGREGATES.items()}
    finally:
        client.close()


@pytest.fixture(scope="module")
def seeded(stack, tmp_path_factory):
    """Seeds produced and written by a live worker (which keeps running during the replays)."""
    settings = isolated(stack, "replay")
    worker = WorkerProcess(settings, tmp_path_factory.mktemp("replay") / "worker.log")
    try:
        produce([str(SEEDS)], settings)
        poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 5, 180, "5 seed documents",
             on_timeout=worker.log_tail)
        yield settings
    finally:
        worker.stop()


def strict_rules(tmp_path):
    """A test-only topics.json under which no paragraph reaches a topic."""
    rules = json.loads((DEFAULT_RULES_DIR / "topics.json").read_text(encoding="utf-8"))
    rules["thresholds"]["min_score"] = 1e9
    rules["thresholds"]["short_min_score"] = 1e9
    (tmp_path / "topics.json").write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    return tmp_path


@pytest.mark.timeout(300)
def test_replay_raw_applies_new_rules_everywhere(seeded, tmp_path):
    old_version = scalar(seeded, "SELECT any(pipeline_version) FROM documents_latest")
    assert scalar(seeded, "SELECT countIf(length(topics) > 0) FROM paragraphs_latest") > 0

    new = seeded.model_copy(update={"rules_dir": strict_rules(tmp_path)})
    new_version = build_pipeline(rules_dir=new.rules_dir).version
    assert new_version != old_version
    summary = replay(new, "raw", "earliest")
    assert summary.read == 5 and summary.written == 5 and summary.pipeline_version == new_version

    for view in ("documents_latest", "paragraphs_latest", "metrics_latest"):
        assert scalar(seeded, f"SELECT groupUniqArray(pipeline_version) FROM {view}") == [new_version], view
    assert scalar(seeded, "SELECT count() FROM documents_latest") == 5
    assert scalar(seeded, "SELECT countIf(length(topics) > 0) FROM paragraphs_latest") == 0
    pipeline = build_pipeline(rules_dir=new.rules_dir)
    for path in sorted(SEEDS.glob("*.txt")):
        doc = next(read_path(path, new.max_doc_chars)).document
        result = pipeline.analyze(doc.text, title=doc.title, published_at=doc.published_at)
        rows = {
            "metrics": scalar(seeded, "SELECT count() FROM metrics_latest WHERE doc_id = {d:String}", d=doc.doc_id),
            "paragraphs": scalar(seeded, "SELECT count() FROM paragraphs_latest WHERE doc_id = {d:String}", d=doc.doc_id),
        }
        assert rows == {"metrics": len(result.metrics), "paragraphs": len(result.paragraphs)}, path.name
    # Old-version rows still exist in the base tables but never show through the views.
    assert scalar(seeded, "SELECT countIf(pipeline_version = {v:String}) FROM metrics", v=old_version) > 0


@pytest.mark.timeout(300)
def test_replay_enriched_after_drop_restores_every_aggregate(seeded):
    before = aggregates(seeded)
    client = make_client(seeded, database=seeded.clickhouse_database)
    for table in ("metrics", "paragraphs", "documents"):
        client.command(f"DROP TABLE {seeded.clickhouse_database}.{table}")
    client.close()
    summary = replay(seeded, "enriched", "earliest")
    assert summary.written == summary.read >= 5
    assert aggregates(seeded) == before


@pytest.mark.timeout(400)
def test_interrupted_replay_then_rerun_gives_the_same_state(stack, tmp_path):
    settings = isolated(stack, "interrupt", sink_batch_rows=400)
    docs = generated_documents(600)
    send_raw(settings, [(d["doc_id"].encode(), json.dumps(d, ensure_ascii=False).encode()) for d in docs])
    pipeline = build_pipeline()
    expected_metrics = sum(len(pipeline.analyze(d["text"], title=d["title"]).metrics) for d in docs)

    env = {**os.environ, **settings.to_env()}
    log = open(tmp_path / "replay.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "replay", "--source", "raw"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") >= 100, 240, "a partial replay")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    log.close()
    partial = scalar(settings, "SELECT count() FROM documents_latest")
    assert 100 <= partial < 600, "the interruption came too late to test anything"

    summary = replay(settings, "raw", "earliest")
    assert summary.read == 600
    assert scalar(settings, "SELECT count() FROM documents_latest") == 600
    assert scalar(settings, "SELECT count() FROM metrics_latest") == expected_metrics
    assert scalar(settings, "SELECT count() - uniqExact(doc_id, char_start, char_end) FROM metrics_latest") == 0


def test_query_is_read_only_without_write(seeded):
    with pytest.raises(DatabaseError) as caught:
        run_query(seeded, "INSERT INTO dlq (error, detail) VALUES ('x', 'y')")
    assert "readonly" in str(caught.value).lower() or "164" in str(caught.value)
    columns, rows = run_query(seeded, "SELECT count() AS n FROM documents_latest")
    assert columns == ["n"] and rows == [(5,)]
    run_query(seeded, "CREATE TABLE scratch (x UInt8) ENGINE = Memory", write=True)
    assert run_query(seeded, "EXISTS TABLE scratch") == (["result"], [(1,)])
