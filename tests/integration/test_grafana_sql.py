"""Every Grafana panel's SQL (deploy/grafana/dashboards/newsetl.json), with the ClickHouse plugin's
macros and the template variables expanded, runs on the real ClickHouse engine against the seed
corpus and returns rows — the way Grafana would send it, with the datasource's default database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.store.clickhouse import make_client
from support import grafana
from support.dashboard_seed import Seeded, load_articles

SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))
DB = "grafana_test"


@pytest.fixture(scope="module")
def grafana_db(stack: Settings) -> Iterator[tuple[Settings, Seeded]]:
    settings = stack.model_copy(update={"clickhouse_database": DB})
    client = make_client(settings)
    client.command(f"DROP DATABASE IF EXISTS {DB}")
    try:
        yield settings, load_articles(settings, SEEDS, replay=True, dlq_rows=6)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {DB}")
        client.close()


def test_every_panel_query_runs_and_returns_rows(grafana_db: tuple[Settings, Seeded]) -> None:
    settings, seeded = grafana_db
    dashboard = grafana.load_dashboard()
    window = {"time_from": datetime(2010, 1, 1, tzinfo=UTC), "time_to": datetime.now(UTC) + timedelta(days=1)}
    client = make_client(settings, database=DB)  # Grafana: jsonData.defaultDatabase
    variables: dict[str, str] = {}
    ran = []
    try:
        for query in grafana.queries(dashboard):
            sql = grafana.expand(query.sql, interval_s=7 * 86400, variables=variables, **window)
            rows = client.query(sql).result_rows
            assert rows, f"{query.where} returned no rows:\n{sql}"
            if query.where.startswith("variable "):
                variables[query.where.split()[1]] = str(rows[0][0])  # Grafana picks the first value
            ran.append(query.where)
        # The variables picked a named metric (not 'other'), and the panels saw the seed data.
        assert variables["metric"] != "other" and variables["unit"]
        totals = client.query(
            grafana.expand(next(q.sql for q in grafana.queries(dashboard) if "文档 / Documents" in q.where), **window)
        ).result_rows
        assert totals[0][0] == len(seeded.documents)
        # A 30-day window in the past of the data is valid SQL too, just empty.
        for query in grafana.queries(dashboard):
            if "$__timeFilter(" in query.sql:
                sql = grafana.expand(query.sql, time_from=datetime(2000, 1, 1, tzinfo=UTC),
                                     time_to=datetime(2000, 1, 31, tzinfo=UTC), variables=variables)
                client.query(sql)
    finally:
        client.close()
    assert len(ran) == len(list(grafana.queries(dashboard)))
