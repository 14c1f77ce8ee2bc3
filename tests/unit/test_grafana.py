"""Grafana provisioning for production: files parse, use only documented keys, and every panel's SQL
reads the dashboard views through the provisioned datasource with the plugin's macros."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import yaml

from streams.store.clickhouse import migration_files
from support import grafana

DATASOURCE = grafana.GRAFANA_DIR / "provisioning" / "datasources" / "clickhouse.yaml"
PROVIDER = grafana.GRAFANA_DIR / "provisioning" / "dashboards" / "newsetl.yaml"
READER = grafana.REPO / "deploy" / "clickhouse" / "users.d" / "newsetl_reader.xml"
# Documented provisioning keys of grafana-clickhouse-datasource used here.
JSON_DATA_KEYS = {"host", "port", "protocol", "username", "defaultDatabase", "secure"}


def defined_objects() -> set[str]:
    names: set[str] = set()
    for _version, _name, sql in migration_files():
        names |= set(re.findall(r"CREATE (?:OR REPLACE )?(?:TABLE|VIEW) (?:IF NOT EXISTS )?\{db\}\.(\w+)", sql))
    return names


def test_datasource_provisioning() -> None:
    config = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert set(source["jsonData"]) <= JSON_DATA_KEYS
    assert source["jsonData"]["protocol"] in ("http", "native")
    assert source["jsonData"]["defaultDatabase"] == "newsetl"
    assert source["jsonData"]["username"] == "newsetl_reader"
    assert set(source["secureJsonData"]) == {"password"}
    assert source["secureJsonData"]["password"].startswith("$")  # from the environment, not committed


def test_reader_user_is_read_only() -> None:
    root = ET.parse(READER).getroot()
    user = root.find("users/newsetl_reader")
    assert user is not None
    profile = root.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "1"
    assert profile.find("constraints/max_execution_time/changeable_in_readonly") is not None
    assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON newsetl.*"]
    assert user.find("password").get("from_env") == "NEWSETL_READER_PASSWORD"


def test_dashboard_provider_points_at_the_dashboards_folder() -> None:
    config = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/newsetl"


def test_dashboard_panels_query_the_views_through_the_datasource() -> None:
    dashboard = grafana.load_dashboard()
    source = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))["datasources"][0]
    assert dashboard["uid"] and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    known = defined_objects()
    queries = list(grafana.queries(dashboard))
    assert len(queries) >= len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["datasource"]["type"] == source["type"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"]
    for query in queries:
        sql = query.sql
        assert "{db}" not in sql and "newsetl." not in sql, query.where  # the datasource's defaultDatabase
        tables = set(re.findall(r"\bFROM\s+(\w+)", sql))
        assert tables and tables <= known, (query.where, tables - known)
        for macro in re.findall(r"\$__\w+", sql):
            assert macro in grafana.MACROS, (query.where, macro)
        assert not re.search(r"'\$\{?\w+", sql), f"{query.where}: quote variables with ${{var:sqlstring}}"
    time_series = [q for q in queries if q.format == 0]
    assert time_series and all("$__timeInterval(" in q.sql and "$__timeFilter(" in q.sql for q in time_series)


def test_expand_matches_the_plugin_macros() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 31, tzinfo=UTC)
    sql = grafana.expand(
        "SELECT $__timeInterval(day) AS t FROM v WHERE $__timeFilter(day) AND m = ${metric:sqlstring} AND u = '$unit'",
        time_from=start, time_to=end, interval_s=3600, variables={"metric": "it's", "unit": "户"},
    )
    assert sql == (
        "SELECT toStartOfInterval(toDateTime(day), INTERVAL 3600 second) AS t FROM v "
        "WHERE day >= toDateTime(1704067200) AND day <= toDateTime(1706659200) AND m = 'it''s' AND u = '户'"
    )
    with pytest.raises(KeyError):
        grafana.expand("SELECT ${nope}", time_from=start, time_to=end)
