"""ClickHouse cluster mode: the single-node migrations rewritten for a sharded, replicated cluster.

With ``NEWSETL_CLICKHOUSE_CLUSTER=<name>`` (a cluster of the servers' ``remote_servers``) every
migration statement goes through :func:`cluster_statements` (pure text in, text out):

- ``CREATE DATABASE db`` → ``CREATE DATABASE db ON CLUSTER c``;
- ``CREATE TABLE db.t (…) ENGINE = XMergeTree(args) …`` → the data table ``db.t_local ON CLUSTER c``
  with ``ReplicatedXMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}', args)`` (each
  server's ``{shard}``/``{replica}`` macros), and under the original name ``db.t ON CLUSTER c AS
  db.t_local`` with ``ENGINE = Distributed('c', 'db', 't_local', <sharding key>)``. Queries, views
  and the sink keep using ``db.t``; ``non_replicated_deduplication_window`` becomes
  ``replicated_deduplication_window`` with the same size;
- ``ALTER TABLE db.t <column change>`` → the same on ``db.t_local`` and then on ``db.t``, both
  ``ON CLUSTER c`` (a Distributed table keeps the columns it was created with);
- ``CREATE [OR REPLACE] VIEW db.v … AS …`` → ``… ON CLUSTER c``, unchanged otherwise (every server can
  answer a query), except the newest-run filter of the ``*_latest`` views (:data:`_NEWEST_RUN`).

Sharding key (:func:`sharding_key`): ``cityHash64(doc_id)`` for a table with a ``doc_id String``
column, so a document's rows in every table, and every version of each row, live on one shard;
otherwise ``cityHash64`` of the table's ``ORDER BY`` columns (``dlq``: its (partition, offset);
``flag_rules``: the rule; ``schema_migrations``: the version), so the copies a ReplacingMergeTree
folds share a shard too. That co-location is what makes ``FINAL`` through a Distributed table exact:
each shard folds its own rows and no row has a version on another shard.

Which reads are shard-local: a query on a Distributed table is sent to every shard with the table
replaced by ``t_local``, and a plain ``IN (subquery)`` travels with it and runs on the shard. The
``*_latest`` views' filter "the document's newest run" (``IN (SELECT doc_id, max(processed_at) FROM
documents …)``) is per document, so it reads ``documents_local`` on each shard: exact, because the
document's ``documents`` rows sit on the shard of its paragraphs and metrics (the same as
``distributed_product_mode = 'local'``, but written out, so it does not depend on a setting reaching
the view). Everything that relates documents to each other (``document_links``/``document_groups``:
near-duplicates may sit on different shards; facts counted across documents; the dashboards'
aggregates) joins or aggregates the *views*, i.e. subqueries whose rows the initiator has already
gathered from all shards, so it needs neither ``GLOBAL`` nor a rewrite. Scalar subqueries
(``dash_document_metrics``, the ``flag_rules`` parameters) are evaluated on the initiator over the
Distributed tables, also exact.
"""

from __future__ import annotations

import re

LOCAL_SUFFIX = "_local"

#: Settings of every insert through a Distributed table in cluster mode: the INSERT returns once
#: each shard has the rows (one replica with ``internal_replication``), so the sink acks only what
#: is stored, and the batch reaches each shard as one block carrying the insert's
#: ``insert_deduplication_token`` (background sends may re-batch blocks, see README).
CLUSTER_INSERT_SETTINGS: dict[str, int] = {"distributed_foreground_insert": 1}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_CREATE_DATABASE = re.compile(r"^CREATE DATABASE IF NOT EXISTS (\w+)$")
_CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<table>\w+)(?P<sep>\s*)(?P<columns>\(.*\))\s*"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^()]*)\))?(?P<rest>\s+ORDER BY .*)$",
    re.S,
)
_ALTER_TABLE = re.compile(
    r"^ALTER TABLE (?P<db>\w+)\.(?P<table>\w+) (?P<change>(?:ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN .*)$", re.S
)
_CREATE_VIEW = re.compile(r"^(?P<head>CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\w+\.\w+) AS\b", re.S)
# The newest-run filter of paragraphs_latest / metrics_latest: the base table and documents are
# both sharded by doc_id, so each shard answers it from its own documents_local.
_NEWEST_RUN = re.compile(
    r"(FROM (?P<db>\w+)\.(?:paragraphs|metrics) FINAL\s+WHERE \(doc_id, processed_at\) IN "
    r"\(SELECT doc_id, max\(processed_at\) FROM (?P=db)\.documents)( GROUP BY doc_id\))"
)
_DOC_ID_COLUMN = re.compile(r"^\s*doc_id\s+String\b", re.M)
_ORDER_BY = re.compile(r"ORDER BY (\([^()]*\)|\w+)")


def check_cluster_name(cluster: str) -> str:
    """The cluster name, if it is a plain identifier (it is written into DDL unquoted)."""
    if not _NAME.match(cluster):
        raise ValueError(f"not a ClickHouse cluster name: {cluster!r} (letters, digits and _ only)")
    return cluster


def local_table(table: str) -> str:
    """The name of the replicated table behind the Distributed table ``table``."""
    return f"{table}{LOCAL_SUFFIX}"


def sharding_key(columns: str, rest: str) -> str:
    """Sharding key of a table from its column list and the clauses after ENGINE (see module doc)."""
    if _DOC_ID_COLUMN.search(columns):
        return "cityHash64(doc_id)"
    order_by = _ORDER_BY.search(rest)
    if order_by is None:
        raise ValueError("a table without ORDER BY has no sharding key")
    return f"cityHash64({order_by.group(1).strip('()')})"


def replica_path(db: str, table: str) -> str:
    """Keeper path of a replicated table: one replication group per shard (``{shard}`` macro)."""
    return f"/clickhouse/tables/{{shard}}/{db}/{table}"


def _create_table(match: re.Match[str], cluster: str) -> list[str]:
    db, table, columns, engine = match["db"], match["table"], match["columns"], match["engine"]
    local = local_table(table)
    args = [f"'{replica_path(db, local)}'", "'{replica}'"]
    if match["args"] and match["args"].strip():
        args.append(match["args"].strip())
    rest = match["rest"].replace("non_replicated_deduplication_window", "replicated_deduplication_window")
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.{local} ON CLUSTER {cluster}{match['sep']}{columns}\n"
        f"ENGINE = Replicated{engine}({', '.join(args)}){rest}",
        f"CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {cluster} AS {db}.{local}\n"
        f"ENGINE = Distributed('{cluster}', '{db}', '{local}', {sharding_key(columns, match['rest'])})",
    ]


def cluster_statements(statement: str, cluster: str) -> list[str]:
    """The statements that replace one single-node migration statement on ``cluster``.

    Raises ValueError for a statement this module does not know how to distribute, so that a new
    kind of migration cannot silently run on one server only."""
    check_cluster_name(cluster)
    statement = statement.strip()
    if _CREATE_DATABASE.match(statement):
        return [f"{statement} ON CLUSTER {cluster}"]
    if match := _CREATE_TABLE.match(statement):
        if match["engine"].startswith("Replicated"):
            raise ValueError(f"already replicated: {statement[:80]!r}")
        return _create_table(match, cluster)
    if match := _ALTER_TABLE.match(statement):
        db, table, change = match["db"], match["table"], match["change"]
        return [
            f"ALTER TABLE {db}.{local_table(table)} ON CLUSTER {cluster} {change}",
            f"ALTER TABLE {db}.{table} ON CLUSTER {cluster} {change}",
        ]
    if match := _CREATE_VIEW.match(statement):
        body = statement[match.end("head"):]
        body = _NEWEST_RUN.sub(lambda m: f"{m.group(1)}{LOCAL_SUFFIX}{m.group(3)}", body)
        return [f"{match['head']} ON CLUSTER {cluster}{body}"]
    raise ValueError(f"no cluster form for this migration statement: {statement[:80]!r}")


def migration_statements(statement: str, cluster: str) -> list[str]:
    """What to run for one migration statement: itself on one server (``cluster`` empty), else
    :func:`cluster_statements`."""
    return cluster_statements(statement, cluster) if cluster else [statement]
