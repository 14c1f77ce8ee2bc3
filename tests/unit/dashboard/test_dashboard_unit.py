"""Dashboard pieces that need no services: query rendering (whitelists), highlighting, JSON values,
request validation (answered before any query), and the static page's wiring."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.dashboard import queries as q
from streams.dashboard.server import STATIC_DIR, highlight_segments, jsonable, make_app
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
                assert type_ or key in {"db", "sort", "direction", "view", "col"}, (name, key)


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
    for element in ("chart-topics", "chart-region", "chart-year", "chart-dlq", "metrics-table", "doc-text", "filters"):
        assert f'id="{element}"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # CSP: scripts only from files
    assert (STATIC_DIR / "vendor" / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (STATIC_DIR / "vendor" / "echarts.LICENSE").read_text(encoding="utf-8")
    js = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js  # data is inserted as text only
