"""Cluster mode DDL (streams.store.cluster): exact statements, and nothing changes without a cluster."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streams.settings import Settings
from streams.store.clickhouse import (
    ClusterSchemaError,
    apply_migrations,
    migration_files,
    migration_sql,
    split_statements,
)
from streams.store.cluster import cluster_statements, migration_statements, sharding_key

DOCUMENTS = next(s for s in split_statements(migration_files()[0][2]) if "{db}.documents\n" in s).replace("{db}", "news")


def _statement(name: str, start: str) -> str:
    sql = next(sql for _, file, sql in migration_files() if file == name)
    return next(s for s in split_statements(sql.replace("{db}", "news")) if s.startswith(start))


def test_without_cluster_every_statement_is_todays() -> None:
    for _, _, sql in migration_files():
        assert migration_sql(sql, "newsetl", "") == split_statements(sql.replace("{db}", "newsetl"))
        for statement in split_statements(sql.replace("{db}", "newsetl")):
            assert migration_statements(statement, "") == [statement]


def test_create_database() -> None:
    assert cluster_statements("CREATE DATABASE IF NOT EXISTS news", "c1") == [
        "CREATE DATABASE IF NOT EXISTS news ON CLUSTER c1"
    ]


def test_documents_become_a_replicated_local_table_behind_a_distributed_one() -> None:
    local, distributed = cluster_statements(DOCUMENTS, "c1")
    columns = DOCUMENTS[DOCUMENTS.index("("):DOCUMENTS.index("\nENGINE")]
    assert local == (
        "CREATE TABLE IF NOT EXISTS news.documents_local ON CLUSTER c1\n" + columns + "\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/news/documents_local', '{replica}', processed_at)\n"
        "ORDER BY doc_id\n"
        "SETTINGS replicated_deduplication_window = 10000"
    )
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS news.documents ON CLUSTER c1 AS news.documents_local\n"
        "ENGINE = Distributed('c1', 'news', 'documents_local', cityHash64(doc_id))"
    )


def test_table_without_engine_arguments_or_settings() -> None:
    statement = ("CREATE TABLE IF NOT EXISTS news.schema_migrations (version UInt32, name String, "
                 "applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version")
    assert cluster_statements(statement, "c1") == [
        "CREATE TABLE IF NOT EXISTS news.schema_migrations_local ON CLUSTER c1 (version UInt32, name String, "
        "applied_at DateTime DEFAULT now())\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/news/schema_migrations_local', '{replica}') "
        "ORDER BY version",
        "CREATE TABLE IF NOT EXISTS news.schema_migrations ON CLUSTER c1 AS news.schema_migrations_local\n"
        "ENGINE = Distributed('c1', 'news', 'schema_migrations_local', cityHash64(version))",
    ]


def test_sharding_keys_of_every_table() -> None:
    keys = {}
    for _, _, sql in migration_files():
        for statement in migration_sql(sql, "news", "c1"):
            found = re.search(r"Distributed\('c1', 'news', '(\w+)_local', (.*)\)$", statement)
            if found:
                keys[found.group(1)] = found.group(2)
    assert keys == {
        "documents": "cityHash64(doc_id)",
        "paragraphs": "cityHash64(doc_id)",
        "metrics": "cityHash64(doc_id)",
        "dlq": "cityHash64(dlq_partition, dlq_offset)",  # doc_id is Nullable there and not the key
        "flag_rules": "cityHash64(rule)",
    }


def test_sharding_key_needs_an_order_by() -> None:
    with pytest.raises(ValueError, match="no sharding key"):
        sharding_key("(a UInt8)", " PRIMARY KEY a")


def test_alter_goes_to_the_local_and_the_distributed_table() -> None:
    statement = _statement("004_ref_year.sql", "ALTER TABLE news.metrics ADD COLUMN IF NOT EXISTS year_basis")
    assert cluster_statements(statement, "c1") == [
        "ALTER TABLE news.metrics_local ON CLUSTER c1 ADD COLUMN IF NOT EXISTS year_basis LowCardinality(String) DEFAULT 'none'",
        "ALTER TABLE news.metrics ON CLUSTER c1 ADD COLUMN IF NOT EXISTS year_basis LowCardinality(String) DEFAULT 'none'",
    ]


def test_latest_view_reads_the_distributed_table_and_the_shards_newest_run() -> None:
    statement = _statement("008_facts.sql", "CREATE OR REPLACE VIEW news.metrics_latest")
    assert cluster_statements(statement, "c1") == [
        "CREATE OR REPLACE VIEW news.metrics_latest ON CLUSTER c1 AS\n"
        "SELECT * FROM news.metrics FINAL\n"
        "WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM news.documents_local GROUP BY doc_id)"
    ]
    statement = _statement("002_latest_views.sql", "CREATE VIEW IF NOT EXISTS news.paragraphs_latest")
    assert cluster_statements(statement, "c1") == [
        "CREATE VIEW IF NOT EXISTS news.paragraphs_latest ON CLUSTER c1 AS\n"
        "SELECT * FROM news.paragraphs FINAL\n"
        "WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM news.documents_local GROUP BY doc_id)"
    ]


def test_views_across_documents_and_scalar_subqueries_only_gain_on_cluster() -> None:
    # the initiator evaluates a scalar subquery: it must see every shard, so it keeps the
    # Distributed table; joins between views run on the initiator over all shards' rows
    for file, start in [("008_facts.sql", "CREATE OR REPLACE VIEW news.dash_document_metrics"),
                        ("008_facts.sql", "CREATE OR REPLACE VIEW news.document_links"),
                        ("008_facts.sql", "CREATE OR REPLACE VIEW news.facts_latest"),
                        ("003_dashboard_views.sql", "CREATE VIEW IF NOT EXISTS news.dash_dlq_daily"),
                        ("009_topic_shares.sql", "CREATE OR REPLACE VIEW news.dash_topic_shares_daily")]:
        statement = _statement(file, start)
        head = start + " AS"
        assert cluster_statements(statement, "c1") == [
            statement.replace(head, start + " ON CLUSTER c1 AS", 1)
        ], start


def test_every_migration_has_a_cluster_form_and_every_name_is_on_cluster() -> None:
    counts: dict[str, int] = {}
    shard_local_reads = 0
    for _, _, sql in migration_files():
        for statement in migration_sql(sql, "news", "c1"):
            if "VIEW" in statement[:40] and "_local" in statement:
                assert "IN (SELECT doc_id, max(processed_at) FROM news.documents_local GROUP BY doc_id)" in statement
                shard_local_reads += 1
            kind = " ".join(statement.split()[:3])
            counts[kind] = counts.get(kind, 0) + 1
            assert re.match(r"^\S+( \S+)*? news\.\w+ ON CLUSTER c1\b|^CREATE DATABASE IF NOT EXISTS news ON CLUSTER c1$",
                            statement), statement[:100]
    assert counts == {
        "CREATE DATABASE IF": 1,
        "CREATE TABLE IF": 10,
        "ALTER TABLE news.metrics_local": 4,
        "ALTER TABLE news.metrics": 4,
        "ALTER TABLE news.documents_local": 3,
        "ALTER TABLE news.documents": 3,
        "CREATE VIEW IF": 10,
        "CREATE OR REPLACE": 21,
    }
    # paragraphs_latest once, metrics_latest in 002, 004, 005 and 008: nothing else reads a local table
    assert shard_local_reads == 5


@pytest.mark.parametrize("statement", [
    "INSERT INTO news.flag_rules VALUES ('a')",
    "CREATE TABLE IF NOT EXISTS news.t (a UInt8) ENGINE = Memory",
    "CREATE TABLE IF NOT EXISTS news.t (a UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
    "ALTER TABLE news.metrics DELETE WHERE 1",
])
def test_unknown_statements_are_refused(statement: str) -> None:
    with pytest.raises(ValueError):
        cluster_statements(statement, "c1")


@pytest.mark.parametrize("name", ["", "a b", "c1; DROP DATABASE x", "{cluster}"])
def test_cluster_name_must_be_an_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="cluster name"):
        cluster_statements("CREATE DATABASE IF NOT EXISTS news", name)


class RecordingClient:
    """Records what apply_migrations sends; the schema_migrations query returns no version, the
    system.tables one ``tables`` ((name, engine) rows)."""

    def __init__(self, tables: list[tuple[str, str]] | None = None) -> None:
        self.tables = tables or []
        self.commands: list[str] = []
        self.queries: list[tuple[str, dict[str, Any] | None]] = []
        self.inserts: list[tuple[str, dict[str, Any]]] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        self.queries.append((sql, parameters))
        rows = self.tables if "system.tables" in sql else []
        return type("Result", (), {"result_rows": rows})()

    def insert(self, table: str, rows: list, **kwargs: Any) -> None:
        self.inserts.append((table, {k: v for k, v in kwargs.items() if k != "column_names"}))


def test_apply_migrations_without_cluster_sends_todays_statements() -> None:
    client = RecordingClient()
    apply_migrations(Settings(_env_file=None, clickhouse_database="news"), client)  # type: ignore[arg-type]
    today = ["CREATE DATABASE IF NOT EXISTS news",
             "CREATE TABLE IF NOT EXISTS news.schema_migrations (version UInt32, name String, applied_at DateTime "
             "DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version"]
    for _, _, sql in migration_files():
        today += split_statements(sql.replace("{db}", "news"))
    assert client.commands == today
    assert client.queries == [("SELECT version FROM news.schema_migrations", None)]
    assert all(kwargs == {} for _, kwargs in client.inserts)
    assert client.inserts[-1][0] == "news.flag_rules"


def test_apply_migrations_on_a_cluster() -> None:
    client = RecordingClient([("documents", "Distributed"), ("metrics", "Distributed")])
    apply_migrations(Settings(_env_file=None, clickhouse_database="news", clickhouse_cluster="c1"), client)  # type: ignore[arg-type]
    assert client.commands[:3] == [
        "CREATE DATABASE IF NOT EXISTS news ON CLUSTER c1",
        "CREATE TABLE IF NOT EXISTS news.schema_migrations_local ON CLUSTER c1 (version UInt32, name String, "
        "applied_at DateTime DEFAULT now())\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/news/schema_migrations_local', '{replica}') "
        "ORDER BY version",
        "CREATE TABLE IF NOT EXISTS news.schema_migrations ON CLUSTER c1 AS news.schema_migrations_local\n"
        "ENGINE = Distributed('c1', 'news', 'schema_migrations_local', cityHash64(version))",
    ]
    assert all(" ON CLUSTER c1" in command for command in client.commands)
    migrations = [kwargs for table, kwargs in client.inserts if table == "news.schema_migrations"]
    assert migrations and all(kwargs == {"settings": {"distributed_foreground_insert": 1}} for kwargs in migrations)
    assert client.inserts[-1] == (
        "news.flag_rules", {"settings": {"distributed_foreground_insert": 1, "insert_deduplicate": 0}})


def test_cluster_mode_refuses_a_single_server_database() -> None:
    client = RecordingClient([("documents", "ReplacingMergeTree"), ("metrics", "ReplacingMergeTree"),
                              ("dlq", "Distributed")])
    with pytest.raises(ClusterSchemaError, match=r"database news was created for one ClickHouse server "
                                                 r"\(documents, metrics not Distributed\)"):
        apply_migrations(Settings(_env_file=None, clickhouse_database="news", clickhouse_cluster="c1"), client)  # type: ignore[arg-type]
    assert client.commands == [] and client.inserts == []
    assert client.queries[0][1] == {"db": "news", "names": ["documents", "paragraphs", "metrics", "dlq", "flag_rules",
                                                            "schema_migrations"]}
