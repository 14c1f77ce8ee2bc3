"""Removing superseded runs from the base tables (``newsetl prune``).

Every replay writes a new run of a document's rows; the ``*_latest`` views show only the newest,
but the base tables keep the old ones, so ``SELECT … FINAL`` on ``metrics`` counts them all. A
prune deletes, with ClickHouse's lightweight ``DELETE``, the paragraph and metric rows of runs
older than the document's newest run in ``documents``, then folds ``documents`` to one row per
document (``OPTIMIZE … FINAL``). Rows newer than that run — a batch being written right now, whose
document row comes last — are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

CHILD_TABLES = ("metrics", "paragraphs")

_SUPERSEDED = """
SELECT m.doc_id, m.processed_at
FROM (SELECT DISTINCT doc_id, processed_at FROM {db}.{table}) AS m
INNER JOIN (SELECT doc_id, max(processed_at) AS latest FROM {db}.documents GROUP BY doc_id) AS d
    ON m.doc_id = d.doc_id
WHERE m.processed_at < d.latest
"""


@dataclass(slots=True)
class PruneReport:
    rows: dict[str, int]  # superseded rows per table (before the prune, or what a dry run would remove)
    pruned: bool


def superseded_rows(client: Client, db: str) -> dict[str, int]:
    """Rows of superseded runs per table."""
    counts = {}
    for table in CHILD_TABLES:
        sql = f"SELECT count() FROM {db}.{table} WHERE (doc_id, processed_at) IN ({_SUPERSEDED.format(db=db, table=table)})"
        counts[table] = int(client.query(sql).result_rows[0][0])
    counts["documents"] = int(client.query(
        f"SELECT count() - uniqExact(doc_id) FROM {db}.documents").result_rows[0][0])
    return counts


def prune(client: Client, db: str, *, dry_run: bool = False) -> PruneReport:
    """Delete the superseded runs (or only count them with ``dry_run``)."""
    counts = superseded_rows(client, db)
    if not dry_run:
        for table in CHILD_TABLES:
            if counts[table]:
                client.command(f"DELETE FROM {db}.{table} WHERE (doc_id, processed_at) IN "
                               f"({_SUPERSEDED.format(db=db, table=table)})")
        if counts["documents"]:
            client.command(f"OPTIMIZE TABLE {db}.documents FINAL")
    return PruneReport(rows=counts, pruned=not dry_run)
