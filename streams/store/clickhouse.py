"""ClickHouse access: client factory, ordered schema migrations, and error classification.

Transient server errors are retried with backoff by the sink; errors an operator must fix (a
changed password, a dropped table, a full disk, a read-only user) pause the sink, which retries
until they are fixed; anything else is caused by the data and is permanent (the offending
documents go to the DLQ). Clients are never shared between tasks or threads
without ``autogenerate_session_id=False`` (see DESIGN.md pitfalls), so that is the default here.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from streams.errors import UserError
from streams.pipeline.flags import load_flag_rules
from streams.pipeline.rulefiles import rules_files
from streams.settings import Settings
from streams.store.cluster import CLUSTER_INSERT_SETTINGS, migration_statements

# ClickHouse error codes worth retrying (server overloaded, network, unknown insert status).
TRANSIENT_CODES: dict[int, str] = {
    159: "TIMEOUT_EXCEEDED",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    252: "TOO_MANY_PARTS",
    319: "UNKNOWN_STATUS_OF_INSERT",
    425: "SYSTEM_ERROR",
    999: "KEEPER_EXCEPTION",
}

# ClickHouse error codes that say the server or its configuration is wrong, not the data: the
# same rows will go in once an operator fixes it, so they must never become DLQ records.
OPERATOR_CODES: dict[int, str] = {
    60: "UNKNOWN_TABLE",
    81: "UNKNOWN_DATABASE",
    164: "READONLY",
    192: "UNKNOWN_USER",
    193: "WRONG_PASSWORD",
    194: "REQUIRED_PASSWORD",
    243: "NOT_ENOUGH_SPACE",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}

_CODE_RE = re.compile(r"Code: (\d+)\.")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code carried by a clickhouse-connect exception, if any."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same request later may succeed."""
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, ClickHouseError):
        code = error_code(exc)
        if code is None:
            # No server code: the request never got a server answer (connection-level).
            return not isinstance(exc, DatabaseError) or "Code:" not in str(exc)
        return code in TRANSIENT_CODES
    return False


def is_operator_error(exc: BaseException) -> bool:
    """True when the server refuses for a reason an operator must fix (see OPERATOR_CODES)."""
    return isinstance(exc, ClickHouseError) and error_code(exc) in OPERATOR_CODES


def make_client(settings: Settings, *, database: str | None = None, **kwargs: Any) -> Client:
    """A new clickhouse-connect client for the configured endpoint."""
    url = settings.clickhouse_url
    return clickhouse_connect.get_client(
        dsn=None,
        interface="https" if url.startswith("https") else "http",
        host=settings.clickhouse_host_port[0],
        port=settings.clickhouse_host_port[1],
        username=settings.clickhouse_user,
        password=settings.clickhouse_password.get_secret_value(),
        database=database or "default",
        autogenerate_session_id=False,
        **kwargs,
    )


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every DDL file in schemas/clickhouse (package data), in order."""
    folder = resources.files("schemas") / "clickhouse"
    found = []
    for entry in folder.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    """Statements of a DDL file: ``;`` at a line end separates them; ``--`` comments dropped."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [part.strip() for part in parts if part.strip()]


def apply_migrations(settings: Settings, client: Client | None = None) -> list[str]:
    """Create the database, tables and views if missing; returns the files not recorded before.

    Every statement is idempotent (``IF NOT EXISTS``), and all files run at every start, so a
    dropped table or view is recreated (e.g. before ``replay --source enriched``); the
    ``schema_migrations`` table records which versions a database has seen. The consistency
    rules of ``flags.json`` are (re)loaded into ``flag_rules`` each time. With
    ``clickhouse_cluster`` set, every statement runs in its cluster form
    (:mod:`streams.store.cluster`: ON CLUSTER, replicated tables behind Distributed ones).
    """
    client = client or make_client(settings)
    db, cluster = settings.clickhouse_database, settings.clickhouse_cluster
    if cluster:
        check_cluster_schema(client, db)
    for statement in migration_statements(f"CREATE DATABASE IF NOT EXISTS {db}", cluster):
        client.command(statement)
    for statement in migration_statements(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version",
        cluster,
    ):
        client.command(statement)
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    new = []
    for version, name, sql in migration_files():
        for statement in migration_sql(sql, db, cluster):
            client.command(statement)
        if version not in done:
            client.insert(f"{db}.schema_migrations", [[version, name]], column_names=["version", "name"],
                          **_cluster_insert(cluster))
            new.append(name)
    # A replicated table drops a block equal to a recent one even without a token, so reloading
    # rules A after B (after A) would keep B: the rule rows are always written in cluster mode.
    client.insert(f"{db}.flag_rules", flag_rule_rows(settings.rules_dir), column_names=list(FLAG_RULE_COLUMNS),
                  **_cluster_insert(cluster, insert_deduplicate=0))
    return new


BASE_TABLES = ("documents", "paragraphs", "metrics", "dlq", "flag_rules", "schema_migrations")


class ClusterSchemaError(UserError):
    """Cluster mode pointed at a database whose tables were created for one server."""


def check_cluster_schema(client: Client, db: str) -> None:
    """Refuse a single-server database in cluster mode: ``CREATE TABLE IF NOT EXISTS`` would keep
    its plain tables under the names the Distributed tables need, and the cluster would write to
    one server only."""
    rows = client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}",
        parameters={"db": db, "names": list(BASE_TABLES)},
    ).result_rows
    plain = sorted(name for name, engine in rows if engine != "Distributed")
    if plain:
        raise ClusterSchemaError(
            f"database {db} was created for one ClickHouse server ({', '.join(plain)} not Distributed): "
            "cluster mode needs a new database (NEWSETL_CLICKHOUSE_DATABASE), filled by `newsetl replay --source enriched`"
        )


def migration_sql(sql: str, db: str, cluster: str = "") -> list[str]:
    """The statements one migration file runs on database ``db`` (on ``cluster``, if not empty)."""
    return [out for statement in split_statements(sql.replace("{db}", db))
            for out in migration_statements(statement, cluster)]


def _cluster_insert(cluster: str, **settings: int) -> dict[str, Any]:
    """Keyword arguments of a migration's insert: none on one server (as before cluster mode)."""
    return {"settings": {**CLUSTER_INSERT_SETTINGS, **settings}} if cluster else {}


FLAG_RULE_COLUMNS = ("rule", "scope", "explanation", "explanation_en", "params")


def flag_rule_rows(rules_dir: Path | None) -> list[list[str]]:
    """Rows of the ``flag_rules`` table from the effective ``flags.json``, validated as the pipeline
    reads it (the corpus rules' views read their parameters there, the dashboard the explanations;
    a newer load replaces a rule)."""
    rules = load_flag_rules(rules_files(rules_dir)["flags.json"])
    return [
        [rule.id, rule.scope, rule.explanation, rule.explanation_en,
         json.dumps(rule.params, ensure_ascii=False, sort_keys=True)]
        for rule in rules.rules
    ]
