"""The Grafana side of the dashboard: read deploy/grafana and expand the ClickHouse plugin's macros.

Grafana and its ClickHouse plugin expand ``$__timeFilter(col)``, ``$__timeInterval(col)`` and
template variables before a panel's SQL reaches ClickHouse. :func:`expand` does the same, the way
the plugin does it (``col >= toDateTime(<from>) AND col <= toDateTime(<to>)``,
``toStartOfInterval(toDateTime(col), INTERVAL <n> second)``), so tests can run every panel's SQL
against a real ClickHouse and catch a broken query before Grafana shows an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "newsetl.json"

#: Macros of grafana-clickhouse-datasource that :func:`expand` understands.
MACROS = ("$__timeFilter", "$__timeFilter_ms", "$__dateFilter", "$__timeInterval", "$__timeInterval_ms",
          "$__interval_s", "$__fromTime", "$__toTime")

_FUNC_MACRO = re.compile(r"\$__(timeFilter_ms|timeFilter|dateFilter|timeInterval_ms|timeInterval)\(([^()]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One SQL query of the dashboard: a panel target or a template variable."""

    where: str  # "panel 3 (title)" or "variable metric"
    sql: str
    format: int | None = None


def load_dashboard(path: Path = DASHBOARD_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every SQL statement of the dashboard: template variables first (they feed the panels)."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield PanelQuery(f"variable {variable['name']}", query if isinstance(query, str) else query["rawSql"])
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield PanelQuery(f"panel {panel['id']} ({panel['title']})", target["rawSql"], target.get("format"))


def sql_string(value: str) -> str:
    """Grafana's ``sqlstring`` format: single quotes, ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def expand(sql: str, *, time_from: datetime, time_to: datetime, interval_s: int = 86400,
           variables: Mapping[str, str] | None = None) -> str:
    """``sql`` with the plugin's macros and ``$var`` / ``${var}`` / ``${var:sqlstring}`` expanded."""
    start, end = int(time_from.timestamp()), int(time_to.timestamp())

    def macro(match: re.Match[str]) -> str:
        name, column = match.group(1), match.group(2).strip()
        if name == "timeFilter":
            return f"{column} >= toDateTime({start}) AND {column} <= toDateTime({end})"
        if name == "timeFilter_ms":
            return f"{column} >= fromUnixTimestamp64Milli({start * 1000}) AND {column} <= fromUnixTimestamp64Milli({end * 1000})"
        if name == "dateFilter":
            return (f"{column} >= toDate('{time_from.astimezone(UTC).date()}') "
                    f"AND {column} <= toDate('{time_to.astimezone(UTC).date()}')")
        if name == "timeInterval":
            return f"toStartOfInterval(toDateTime({column}), INTERVAL {interval_s} second)"
        return f"toStartOfInterval(toDateTime64({column}, 3), INTERVAL {interval_s * 1000} millisecond)"

    sql = _FUNC_MACRO.sub(macro, sql)
    sql = sql.replace("$__interval_s", str(interval_s))
    sql = sql.replace("$__fromTime", f"toDateTime({start})").replace("$__toTime", f"toDateTime({end})")
    values = dict(variables or {})

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for dashboard variable ${name}")
        return sql_string(values[name]) if match.group(2) == "sqlstring" else values[name]

    sql = _VARIABLE.sub(variable, sql)
    if "$" in sql:
        raise ValueError(f"unexpanded macro or variable left in: {sql}")
    return sql
