"""Removing superseded runs from the base tables (``newsetl prune``).

Every replay writes a new run of a document's rows; the ``*_latest`` views show only the newest,
but the base tables keep the old ones, so ``SELECT … FINAL`` on ``metrics`` counts them all. A
prune deletes, with ClickHouse's lightweight ``DELETE``, the paragraph and metric rows of runs
older than the document's newest run in ``documents``, then folds ``documents`` to one row per
document (``OPTIMIZE … FINAL``). Rows newer than that run — a batch being written right now, whose
document row comes last — are kept.

On a cluster (the database's tables are Distributed, see :mod:`streams.store.cluster`) the same
happens shard by shard: a document's runs all live on the shard of its ``doc_id``, so each shard
finds its superseded rows in its own ``*_local`` tables, and the ``DELETE`` and ``OPTIMIZE`` run
``ON CLUSTER`` on the replicated ``*_local`` tables (a Distributed table has no rows to delete).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.store.cluster import check_cluster_name, local_table

CHILD_TABLES = ("metrics", "paragraphs")

_SUPERSEDED = """
SELECT m.doc_id, m.processed_at
FROM (SELECT DISTINCT doc_id, processed_at FROM {db}.{table}) AS m
INNER JOIN (SELECT doc_id, max(processed_at) AS latest FROM {db}.{documents} GROUP BY doc_id) AS d
    ON m.doc_id = d.doc_id
WHERE m.processed_at < d.latest
"""

# The subquery of a replicated table's mutation is evaluated by each replica when it applies the
# mutation, so ClickHouse calls it nondeterministic. Here a lagging replica can only find fewer
# superseded runs (a run, once superseded, stays so), never a current row.
CLUSTER_DELETE_SETTINGS: dict[str, Any] = {"allow_nondeterministic_mutations": 1}

_DISTRIBUTED = re.compile(r"^Distributed\('?(\w+)'?")


@dataclass(slots=True)
class PruneReport:
    rows: dict[str, int]  # superseded rows per table (before the prune, or what a dry run would remove)
    pruned: bool


def database_cluster(client: Client, db: str) -> str:
    """The cluster of the database's Distributed ``metrics`` table, '' for a single-server schema."""
    rows = client.query("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'metrics'",
                        parameters={"db": db}).result_rows
    match = _DISTRIBUTED.match(rows[0][0]) if rows else None
    return match.group(1) if match else ""


def _superseded(db: str, table: str, cluster: str) -> str:
    """Superseded (doc_id, processed_at) of ``table``; on a cluster from the shard's own tables."""
    if cluster:
        return _SUPERSEDED.format(db=db, table=local_table(table), documents=local_table("documents"))
    return _SUPERSEDED.format(db=db, table=table, documents="documents")


def superseded_rows(client: Client, db: str, cluster: str = "") -> dict[str, int]:
    """Rows of superseded runs per table."""
    counts = {}
    for table in CHILD_TABLES:
        sql = f"SELECT count() FROM {db}.{table} WHERE (doc_id, processed_at) IN ({_superseded(db, table, cluster)})"
        counts[table] = int(client.query(sql).result_rows[0][0])
    counts["documents"] = int(client.query(
        f"SELECT count() - uniqExact(doc_id) FROM {db}.documents").result_rows[0][0])
    return counts


def prune(client: Client, db: str, *, dry_run: bool = False, cluster: str | None = None) -> PruneReport:
    """Delete the superseded runs (or only count them with ``dry_run``). ``cluster`` None: the
    database's own (:func:`database_cluster`)."""
    cluster = database_cluster(client, db) if cluster is None else cluster
    on_cluster = f" ON CLUSTER {check_cluster_name(cluster)}" if cluster else ""
    counts = superseded_rows(client, db, cluster)
    if not dry_run:
        for table in CHILD_TABLES:
            if counts[table]:
                target = local_table(table) if cluster else table
                client.command(f"DELETE FROM {db}.{target}{on_cluster} WHERE (doc_id, processed_at) IN "
                               f"({_superseded(db, table, cluster)})",
                               settings=CLUSTER_DELETE_SETTINGS if cluster else None)
        if counts["documents"]:
            target = local_table("documents") if cluster else "documents"
            client.command(f"OPTIMIZE TABLE {db}.{target}{on_cluster} FINAL")
    return PruneReport(rows=counts, pruned=not dry_run)
