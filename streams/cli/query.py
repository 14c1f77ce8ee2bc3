"""``newsetl query``: run SQL on the configured ClickHouse, read-only unless asked otherwise."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.settings import Settings
from streams.store.clickhouse import make_client


def run_query(settings: Settings, sql: str, *, write: bool = False) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows; ``readonly=1`` unless ``write`` (the server refuses changes)."""
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        result = client.query(sql, settings=None if write else {"readonly": 1})
        return list(result.column_names), [tuple(row) for row in result.result_rows]
    finally:
        client.close()


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def print_query(settings: Settings, sql: str, fmt: str, *, write: bool, console: Console) -> None:
    columns, rows = run_query(settings, sql, write=write)
    if fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, map(_plain, row), strict=True)), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")  # like clickhouse-client
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(_plain(v)) for v in row))
        console.print(table)
        console.print(f"{len(rows)} row(s)", style="dim")
