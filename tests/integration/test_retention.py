"""``newsetl prune``: superseded runs leave the base tables, the current ones stay untouched."""

from __future__ import annotations

from streams.ingest.producer import produce
from streams.store.clickhouse import make_client
from streams.store.retention import prune
from streams.stream.replay import replay
from tests.integration.etl_helpers import isolated, scalar
from tests.integration.test_etl import SEEDS
from tests.integration.test_replay import aggregates, strict_rules

TABLES = ("documents", "paragraphs", "metrics")


def base_counts(settings) -> dict[str, int]:
    return {t: scalar(settings, f"SELECT count() FROM {t} FINAL") for t in TABLES}


def latest_counts(settings) -> dict[str, int]:
    return {t: scalar(settings, f"SELECT count() FROM {t}_latest") for t in TABLES}


def test_prune_removes_superseded_runs_and_keeps_the_current_state(stack, tmp_path):
    settings = isolated(stack, "prune")
    produce([str(SEEDS)], settings)
    replay(settings, "raw", "earliest")  # no worker: replay writes the first run itself
    replay(settings.model_copy(update={"rules_dir": strict_rules(tmp_path)}), "raw", "earliest")
    before, latest = aggregates(settings), latest_counts(settings)
    assert base_counts(settings)["metrics"] == 2 * latest["metrics"]  # two runs in the base table

    client = make_client(settings)
    try:
        dry = prune(client, settings.clickhouse_database, dry_run=True)
        # documents rows of old runs may already have been merged away in the background
        unmerged = scalar(settings, "SELECT count() - uniqExact(doc_id) FROM documents")
        assert dry.rows == {"metrics": latest["metrics"], "paragraphs": latest["paragraphs"], "documents": unmerged}
        assert base_counts(settings)["metrics"] == 2 * latest["metrics"]
        done = prune(client, settings.clickhouse_database)
        assert done.rows == dry.rows and done.pruned
        assert prune(client, settings.clickhouse_database, dry_run=True).rows == {
            "metrics": 0, "paragraphs": 0, "documents": 0}
    finally:
        client.close()
    assert base_counts(settings) == latest == latest_counts(settings)
    assert scalar(settings, "SELECT count() FROM documents") == 5  # without FINAL too
    assert aggregates(settings) == before
