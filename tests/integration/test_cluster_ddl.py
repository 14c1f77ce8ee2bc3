"""Cluster mode's statements in the ClickHouse engine (chdb): parsed, and run on local clusters.

chdb is ClickHouse without a server around it: the endpoint's engine has no ``remote_servers`` (a
Distributed table or ``ON CLUSTER`` fails with CLUSTER_DOESNT_EXIST), no ``{shard}``/``{replica}``
macros and no Keeper (a Replicated table cannot be created), and no TCP port for shards to reach.
So every statement is parsed (``EXPLAIN AST``) and formatted back (``formatQuerySingleLine``) through
the endpoint. Then a separate chdb process, given ``remote_servers`` whose shards are all this
process (``is_local``: queries run in-process, no network), runs the Distributed tables and every
view as generated — only ``ON CLUSTER`` (no DDL queue) and ``Replicated`` (no Keeper) are taken out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from streams.store.clickhouse import (
    ClusterSchemaError,
    apply_migrations,
    check_cluster_schema,
    flag_rule_rows,
    make_client,
    migration_files,
    migration_sql,
)
from streams.store.cluster import migration_statements
from streams.store.retention import CHILD_TABLES, _superseded, database_cluster
from tests.integration.etl_helpers import isolated

DB, CLUSTER = "newsetl", "newsetl"


def cluster_ddl() -> list[str]:
    """Every statement cluster mode sends: migrations, the schema_migrations table, prune."""
    statements = migration_statements(
        f"CREATE TABLE IF NOT EXISTS {DB}.schema_migrations (version UInt32, name String, applied_at DateTime "
        "DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version", CLUSTER)
    for _, _, sql in migration_files():
        statements += migration_sql(sql, DB, CLUSTER)
    for table in CHILD_TABLES:
        statements.append(f"SELECT count() FROM {DB}.{table} WHERE (doc_id, processed_at) IN "
                          f"({_superseded(DB, table, CLUSTER)})")
        statements.append(f"DELETE FROM {DB}.{table}_local ON CLUSTER {CLUSTER} WHERE (doc_id, processed_at) IN "
                          f"({_superseded(DB, table, CLUSTER)})")
    statements.append(f"OPTIMIZE TABLE {DB}.documents_local ON CLUSTER {CLUSTER} FINAL")
    return statements


def test_every_cluster_statement_parses(ch_client) -> None:
    statements = cluster_ddl()
    assert len(statements) == 2 + 56 + 5
    for statement in statements:
        ast = ch_client.command(f"EXPLAIN AST {statement}")
        ast = "\n".join(ast) if isinstance(ast, list) else str(ast)
        assert ast.split()[0] in {"CreateQuery", "AlterQuery", "SelectWithUnionQuery", "DeleteQuery",
                                  "OptimizeQuery"}, (statement[:100], ast[:100])
        formatted = ch_client.query("SELECT formatQuerySingleLine({sql:String})", parameters={"sql": statement})
        assert formatted.result_rows[0][0], statement[:100]


def _formatted(ch_client, statement: str) -> str:
    return ch_client.query("SELECT formatQuerySingleLine({sql:String})", parameters={"sql": statement}).result_rows[0][0]


def test_the_engine_reads_on_cluster_engines_and_keys_where_meant(ch_client) -> None:
    statements = {s.split("\n")[0]: s for s in cluster_ddl()}
    documents = _formatted(ch_client, statements[f"CREATE TABLE IF NOT EXISTS {DB}.documents ON CLUSTER {CLUSTER} "
                                                 f"AS {DB}.documents_local"])
    assert documents == (f"CREATE TABLE IF NOT EXISTS {DB}.documents ON CLUSTER {CLUSTER} AS {DB}.documents_local "
                         f"ENGINE = Distributed('{CLUSTER}', '{DB}', 'documents_local', cityHash64(doc_id))")
    local = _formatted(ch_client, statements[f"CREATE TABLE IF NOT EXISTS {DB}.dlq_local ON CLUSTER {CLUSTER}"])
    assert local.startswith(f"CREATE TABLE IF NOT EXISTS {DB}.dlq_local ON CLUSTER {CLUSTER} (`error` LowCardinality(String), ")
    assert local.endswith(f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{DB}/dlq_local', "
                          "'{replica}') ORDER BY (dlq_partition, dlq_offset) SETTINGS replicated_deduplication_window = 10000")
    alter = _formatted(ch_client, f"ALTER TABLE {DB}.metrics_local ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS "
                                  "flags Array(LowCardinality(String))")
    assert alter == (f"ALTER TABLE {DB}.metrics_local ON CLUSTER {CLUSTER} (ADD COLUMN IF NOT EXISTS "
                     "`flags` Array(LowCardinality(String)))")
    view = _formatted(ch_client, statements[f"CREATE VIEW IF NOT EXISTS {DB}.metrics_latest ON CLUSTER {CLUSTER} AS"])
    assert view == (f"CREATE VIEW IF NOT EXISTS {DB}.metrics_latest ON CLUSTER {CLUSTER} AS SELECT * FROM {DB}.metrics "
                    f"FINAL WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {DB}.documents_local "
                    "GROUP BY doc_id)")


def test_a_misplaced_on_cluster_is_refused(ch_client) -> None:
    # the check above would catch a rewrite that put ON CLUSTER where the grammar has no place for it
    with pytest.raises(DatabaseError, match="Code: 62"):
        ch_client.query(f"EXPLAIN AST CREATE TABLE {DB}.documents AS {DB}.documents_local ON CLUSTER {CLUSTER} "
                        f"ENGINE = Distributed('{CLUSTER}', '{DB}', 'documents_local', cityHash64(doc_id))")


def test_cluster_mode_refuses_a_single_server_database(stack) -> None:
    settings = isolated(stack, "cluster_guard")  # migrated for one server
    client = make_client(settings)
    try:
        check_cluster_schema(client, f"{settings.clickhouse_database}_absent")  # a new database is fine
        with pytest.raises(ClusterSchemaError, match="dlq, documents, flag_rules, metrics, paragraphs, "
                                                     "schema_migrations not Distributed"):
            apply_migrations(settings.model_copy(update={"clickhouse_cluster": "newsetl"}), client)
        assert database_cluster(client, settings.clickhouse_database) == ""
    finally:
        client.close()


# Two "shards" that are both this process read the same local tables, so on ``two`` every row of a
# Distributed read comes back twice; ``one`` is an exact single-shard cluster.
LOCAL_CLUSTERS = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers>
    <one><shard><replica><host>localhost</host><port>9000</port></replica></shard></one>
    <two>
      <shard><replica><host>localhost</host><port>9000</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>9000</port></replica></shard>
    </two>
  </remote_servers>
</clickhouse>
"""

MINHASH = "arrayMap(i -> toUInt32(i * 7919), range(128))"
# a: two runs (the figure changed); b: a near-duplicate of a (same MinHash); c: alone
DOCS = f"""(doc_id, source, title, published_at, ingested_at, processed_at, pipeline_version, text, topics, regions,
 region_codes, minhash) VALUES
 ('a', 's', 'A', '2024-01-02 00:00:00', '2024-01-02 00:00:00', '2024-02-01 00:00:00', 'v1', '2019年脱贫', ['产业'], ['河南省'], ['410000'], {MINHASH}),
 ('a', 's', 'A', '2024-01-02 00:00:00', '2024-01-02 00:00:00', '2024-03-01 00:00:00', 'v2', '2019年脱贫', ['产业'], ['河南省'], ['410000'], {MINHASH}),
 ('b', 's', 'B', '2024-01-05 00:00:00', '2024-01-05 00:00:00', '2024-03-01 00:00:00', 'v2', '2019年脱贫', ['产业'], ['河南省'], ['410000'], {MINHASH}),
 ('c', 's', 'C', '2024-01-07 00:00:00', '2024-01-07 00:00:00', '2024-03-01 00:00:00', 'v2', '教育', [], ['河北省'], ['130000'], [])"""
METRICS = """(doc_id, paragraph_index, sentence, span, char_start, char_end, value, unit, subject, metric, topic, region,
 region_code, ref_year, year_basis, published_at, processed_at, flags) VALUES
 ('a', 0, 's1', '3601户', 4, 9, 3600, '户', '脱贫户', 'poverty_households', '产业', '河南省', '410000', 2019, 'written', '2024-01-02 00:00:00', '2024-02-01 00:00:00', []),
 ('a', 0, 's1', '3601户', 4, 9, 3601, '户', '脱贫户', 'poverty_households', '产业', '河南省', '410000', 2019, 'written', '2024-01-02 00:00:00', '2024-03-01 00:00:00', []),
 ('b', 0, 's1', '3601户', 4, 9, 3601, '户', '脱贫户', 'poverty_households', '产业', '河南省', '410000', 2019, 'written', '2024-01-05 00:00:00', '2024-03-01 00:00:00', []),
 ('c', 0, 's2', '12所', 0, 3, 12, '所', '学校', 'schools', '教育', '河北省', '130000', NULL, 'none', '2024-01-07 00:00:00', '2024-03-01 00:00:00', ['x'])"""
PARAGRAPHS = """(doc_id, paragraph_index, text, topics, processed_at) VALUES
 ('a', 0, '2019年脱贫', ['产业'], '2024-02-01 00:00:00'), ('a', 0, '2019年脱贫', ['产业'], '2024-03-01 00:00:00'),
 ('b', 0, '2019年脱贫', ['产业'], '2024-03-01 00:00:00'), ('c', 0, '教育', [], '2024-03-01 00:00:00')"""

VIEWS = ["documents_latest", "paragraphs_latest", "metrics_latest", "dash_topic_daily", "dash_topic_weekly",
         "dash_documents_daily", "dash_metric_totals", "dash_top_subjects", "dash_dlq_daily", "dash_document_metrics",
         "document_links", "document_groups", "documents_grouped", "fact_rows", "fact_table", "facts_latest",
         "fact_mentions", "flagged_metrics", "dash_fact_totals", "dash_topic_shares_daily", "dash_topic_shares_weekly"]


def runnable(statement: str, cluster: str) -> str:
    """What one process can run: no ON CLUSTER (no DDL queue), no Replicated engine (no Keeper)."""
    statement = statement.replace(f" ON CLUSTER {cluster}", "")
    statement = re.sub(r"ReplicatedReplacingMergeTree\('[^']*', '\{replica\}'(?:, )?", "ReplacingMergeTree(", statement)
    return re.sub(r"\breplicated_deduplication_window", "non_replicated_deduplication_window", statement)


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_local_clusters(config: str) -> dict:
    """The child process of :func:`local_cluster_run` (``python -m tests.integration.test_cluster_ddl <config>``)."""
    import chdb

    conn = chdb.connect(f":memory:?config-file={config}")

    def q(sql: str) -> str:
        return conn.query(sql, "JSONEachRow").bytes().decode()

    out: dict = {"errors": {}, "views": {}, "superseded": {}}
    views: list[str] = []
    for label, (db, cluster) in {"single": ("s0", ""), "one_shard": ("c1", "one"), "two_shards": ("c2", "two")}.items():
        for _, _, sql in migration_files():
            for statement in migration_sql(sql, db, cluster):
                q(runnable(statement, cluster) if cluster else statement)
                found = re.match(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\w+\.(\w+)", statement)
                if found and found.group(1) not in views:
                    views.append(found.group(1))
        # the two shards of ``two`` are the same local tables: rows go in once, directly
        target = "_local" if label == "two_shards" else ""
        for table, rows in (("documents", DOCS), ("metrics", METRICS), ("paragraphs", PARAGRAPHS)):
            q(f"INSERT INTO {db}.{table}{target} {rows}")
        for rule in flag_rule_rows(None):
            q(f"INSERT INTO {db}.flag_rules{target} VALUES ({', '.join(map(_literal, rule))})")
        for view in views:
            source = f"{db}.{view}(doc_id = 'a')" if view == "dash_document_metrics" else f"{db}.{view}"
            try:
                out["views"].setdefault(view, {})[label] = sorted(q(f"SELECT * FROM {source}").splitlines())
            except Exception as exc:  # noqa: BLE001 - reported to the test
                out["errors"][f"{label}:{view}"] = str(exc)[:300]
        out["superseded"][label] = [
            json.loads(q(f"SELECT count() AS n FROM {db}.{table} WHERE (doc_id, processed_at) IN "
                         f"({_superseded(db, table, cluster)})"))["n"]
            for table in CHILD_TABLES]
    try:
        q("SELECT count() FROM c2.metrics FINAL WHERE (doc_id, processed_at) IN "
          "(SELECT doc_id, max(processed_at) FROM c2.documents GROUP BY doc_id)")
        out["unrewritten"] = "ran"
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out["unrewritten"] = str(exc)[:200]
    insert = ("INSERT INTO c1.paragraphs (doc_id, paragraph_index, text, processed_at) SETTINGS "
              "insert_deduplication_token = '{token}', insert_deduplicate = 1, distributed_foreground_insert = 1 "
              "VALUES ('d', 0, 'x', '2024-04-01 00:00:00'), ('e', 0, 'y', '2024-04-01 00:00:00')")
    out["dedup_rows"] = []
    for token in ("t1", "t1", "t2"):
        q(insert.format(token=token))
        out["dedup_rows"].append(json.loads(q("SELECT count() AS n FROM c1.paragraphs_local WHERE doc_id IN ('d', 'e')"))["n"])
    return out


@pytest.fixture(scope="module")
def local_cluster_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Migrate three databases (one server; cluster ``one``; cluster ``two``), write the same rows
    into each, read every view, and send a batch twice (in a child process: chdb's engine takes its
    configuration once per process)."""
    config = tmp_path_factory.mktemp("local_cluster") / "clusters.xml"
    config.write_text(LOCAL_CLUSTERS)
    done = subprocess.run([sys.executable, "-m", "tests.integration.test_cluster_ddl", str(config)],
                          capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_every_view_runs_over_distributed_tables(local_cluster_run: dict) -> None:
    assert local_cluster_run["errors"] == {}
    assert list(local_cluster_run["views"]) == VIEWS


def test_one_shard_answers_exactly_as_one_server(local_cluster_run: dict) -> None:
    for view, answers in local_cluster_run["views"].items():
        assert answers["one_shard"] == answers["single"], view
    assert len(local_cluster_run["views"]["document_links"]["single"]) == 1  # the near-duplicate pair
    assert local_cluster_run["superseded"]["one_shard"] == local_cluster_run["superseded"]["single"] == [1, 1]


def test_two_shards_are_both_read(local_cluster_run: dict) -> None:
    views = local_cluster_run["views"]
    for view in ("documents_latest", "paragraphs_latest", "metrics_latest"):
        assert len(views[view]["two_shards"]) == 2 * len(views[view]["single"]) == 6, view
    assert local_cluster_run["superseded"]["two_shards"] == [2, 2]


def test_the_latest_filter_needs_its_shard_local_rewrite(local_cluster_run: dict) -> None:
    # metrics_latest as written for one server, on two shards
    assert local_cluster_run["unrewritten"].startswith(
        "Code: 288. DB::Exception: Double-distributed IN/JOIN subqueries is denied")


def test_a_redelivered_batch_through_the_distributed_table_is_dropped(local_cluster_run: dict) -> None:
    # the sink's settings; tokens t1, t1 (the redelivery), t2 (the next batch): rows after each insert
    assert local_cluster_run["dedup_rows"] == [2, 2, 4]


if __name__ == "__main__":
    print(json.dumps(run_local_clusters(sys.argv[1]), ensure_ascii=False))
