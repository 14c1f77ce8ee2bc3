"""Cluster mode writes: the sink's insert settings and the prune's statements (recording clients)."""

from __future__ import annotations

from typing import Any

from streams.settings import Settings
from streams.store.retention import database_cluster, prune
from streams.stream.sink import RetryingInserter


class RecordingClient:
    """Answers the prune's queries with fixed numbers and records every call."""

    def __init__(self, engine_full: str = "", superseded: int = 3) -> None:
        self.engine_full = engine_full
        self.superseded = superseded
        self.queries: list[str] = []
        self.commands: list[tuple[str, dict[str, Any] | None]] = []
        self.inserts: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        self.queries.append(sql)
        if "system.tables" in sql:
            rows = [[self.engine_full]] if self.engine_full else []
        else:
            rows = [[self.superseded]]
        return type("Result", (), {"result_rows": rows})()

    def command(self, sql: str, settings: dict[str, Any] | None = None) -> None:
        self.commands.append((sql, settings))

    def insert(self, table: str, rows: list, column_names: list[str], settings: dict[str, Any]) -> None:
        self.inserts.append((table, settings))

    def close(self) -> None:
        pass


def _insert_settings(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    client = RecordingClient()
    inserter = RetryingInserter(settings, client_factory=lambda _: client)  # type: ignore[arg-type,return-value]
    inserter._insert_tables([("metrics", ("doc_id",), [["a"]], "tok1"), ("documents", ("doc_id",), [["a"]], "tok2")])
    return client.inserts


def test_sink_insert_settings_single_server_unchanged() -> None:
    assert _insert_settings(Settings(_env_file=None, clickhouse_database="news")) == [
        ("news.metrics", {"insert_deduplication_token": "tok1", "insert_deduplicate": 1}),
        ("news.documents", {"insert_deduplication_token": "tok2", "insert_deduplicate": 1}),
    ]


def test_sink_inserts_into_the_distributed_tables_in_the_foreground_on_a_cluster() -> None:
    assert _insert_settings(Settings(_env_file=None, clickhouse_database="news", clickhouse_cluster="c1")) == [
        ("news.metrics", {"insert_deduplication_token": "tok1", "insert_deduplicate": 1,
                          "distributed_foreground_insert": 1}),
        ("news.documents", {"insert_deduplication_token": "tok2", "insert_deduplicate": 1,
                            "distributed_foreground_insert": 1}),
    ]


SUPERSEDED_LOCAL = """
SELECT m.doc_id, m.processed_at
FROM (SELECT DISTINCT doc_id, processed_at FROM news.{table}_local) AS m
INNER JOIN (SELECT doc_id, max(processed_at) AS latest FROM news.documents_local GROUP BY doc_id) AS d
    ON m.doc_id = d.doc_id
WHERE m.processed_at < d.latest
"""

SUPERSEDED = SUPERSEDED_LOCAL.replace("_local", "")


def test_database_cluster_from_the_metrics_engine() -> None:
    distributed = "Distributed('c1', 'news', 'metrics_local', cityHash64(doc_id))"
    assert database_cluster(RecordingClient(distributed), "news") == "c1"  # type: ignore[arg-type]
    assert database_cluster(RecordingClient("ReplacingMergeTree(processed_at) ORDER BY x"), "news") == ""  # type: ignore[arg-type]
    assert database_cluster(RecordingClient(""), "news") == ""  # type: ignore[arg-type]


def test_prune_single_server_statements_unchanged() -> None:
    client = RecordingClient("ReplacingMergeTree(processed_at) ORDER BY x")
    report = prune(client, "news")  # type: ignore[arg-type]
    assert report.rows == {"metrics": 3, "paragraphs": 3, "documents": 3} and report.pruned
    assert client.queries[1:] == [
        f"SELECT count() FROM news.metrics WHERE (doc_id, processed_at) IN ({SUPERSEDED.format(table='metrics')})",
        f"SELECT count() FROM news.paragraphs WHERE (doc_id, processed_at) IN ({SUPERSEDED.format(table='paragraphs')})",
        "SELECT count() - uniqExact(doc_id) FROM news.documents",
    ]
    assert client.commands == [
        (f"DELETE FROM news.metrics WHERE (doc_id, processed_at) IN ({SUPERSEDED.format(table='metrics')})", None),
        (f"DELETE FROM news.paragraphs WHERE (doc_id, processed_at) IN ({SUPERSEDED.format(table='paragraphs')})", None),
        ("OPTIMIZE TABLE news.documents FINAL", None),
    ]


def test_prune_on_a_cluster_deletes_shard_by_shard_from_the_local_tables() -> None:
    client = RecordingClient("Distributed('c1', 'news', 'metrics_local', cityHash64(doc_id))")
    prune(client, "news")  # type: ignore[arg-type]
    assert client.queries[1:] == [
        f"SELECT count() FROM news.metrics WHERE (doc_id, processed_at) IN ({SUPERSEDED_LOCAL.format(table='metrics')})",
        f"SELECT count() FROM news.paragraphs WHERE (doc_id, processed_at) IN ({SUPERSEDED_LOCAL.format(table='paragraphs')})",
        "SELECT count() - uniqExact(doc_id) FROM news.documents",
    ]
    settings = {"allow_nondeterministic_mutations": 1}
    assert client.commands == [
        ("DELETE FROM news.metrics_local ON CLUSTER c1 WHERE (doc_id, processed_at) IN "
         f"({SUPERSEDED_LOCAL.format(table='metrics')})", settings),
        ("DELETE FROM news.paragraphs_local ON CLUSTER c1 WHERE (doc_id, processed_at) IN "
         f"({SUPERSEDED_LOCAL.format(table='paragraphs')})", settings),
        ("OPTIMIZE TABLE news.documents_local ON CLUSTER c1 FINAL", None),
    ]


def test_prune_dry_run_on_a_cluster_changes_nothing() -> None:
    client = RecordingClient()
    report = prune(client, "news", dry_run=True, cluster="c1")  # type: ignore[arg-type]
    assert not report.pruned and client.commands == []
    assert not any("system.tables" in sql for sql in client.queries)
