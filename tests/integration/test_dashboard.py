"""The dashboard against a real ClickHouse endpoint holding the seed corpus, run through the real
pipeline and sink (and replayed once, so duplicates would show): views, JSON and CSV API, the
date filter, benchmark, and the page in headless Chromium driven over the DevTools protocol.

Next to the five seeds the corpus holds two articles of :mod:`support.dashboard_seed`: a fresh
county news item with inconsistent figures (a coverage rate of 112 %: flag ``rate_above_100``)
and a repost of a seed (so its facts have two mentions).

Chromium comes from Debian's ``chromium`` package (``.ci/tools/install-chromium.sh``); the test
fails, rather than skips, when it is missing. The screenshot is kept as
``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams.bench.dashboard import bench_dashboard
from streams.dashboard import start_dashboard
from streams.dashboard.cache import cache_database
from streams.dashboard.server import DashboardServer, csv_cell, division_code, series_rows
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
from support.dashboard_seed import REPOST_OF, REPOST_TITLE, Seeded, load_articles, write_extra_articles
from tests.integration.etl_helpers import poll

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
ARTIFACTS = REPO / "test-artifacts"
DB = "dash_test"


@pytest.fixture(scope="module")
def dash_settings(stack: Settings) -> Settings:
    return stack.model_copy(update={"clickhouse_database": DB})


@pytest.fixture(scope="module")
def seeded(dash_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    client = make_client(dash_settings)
    client.command(f"DROP DATABASE IF EXISTS {DB}")
    extra = write_extra_articles(REPO / "seeds", tmp_path_factory.mktemp("extra_articles"))
    try:
        yield load_articles(dash_settings, SEEDS, replay=True, dlq_rows=12, extra=extra)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {DB}")
        client.command(f"DROP DATABASE IF EXISTS {cache_database(DB)}")
        client.close()


@pytest.fixture(scope="module")
def server(dash_settings: Settings, seeded: Seeded) -> Iterator[DashboardServer]:
    running = start_dashboard(dash_settings)
    try:
        yield running
    finally:
        running.stop()


def get_json(server: DashboardServer, path: str, **params: Any) -> tuple[int, Any]:
    url = server.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def get_csv(server: DashboardServer, path: str, **params: Any) -> list[list[str]]:
    """The CSV answer of ``path`` (format=csv), checked for its BOM and type, parsed by csv.reader."""
    url = server.url + path + "?" + urllib.parse.urlencode({**params, "format": "csv"})
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        body = response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:], newline="")))


def as_cells(columns: list[str], rows: list[dict[str, Any]]) -> list[list[str]]:
    """JSON rows as the CSV cells they must come out as."""
    return [[csv_cell(row.get(column)) for column in columns] for row in rows]


def python_paragraph_topics(seeded: Seeded, docs: Any = None) -> dict[str, tuple[int, int]]:
    """topic → (paragraphs, characters) of the current runs, multi-label, 'other' when none."""
    counts: dict[str, list[int]] = {}
    for doc in docs if docs is not None else seeded.documents.values():
        for paragraph in doc.analysis.paragraphs:
            for topic in paragraph.topics or ["other"]:
                entry = counts.setdefault(topic, [0, 0])
                entry[0] += 1
                entry[1] += len(paragraph.text)
    return {topic: (n, chars) for topic, (n, chars) in counts.items()}


def seed_documents(seeded: Seeded) -> list[Any]:
    names = {path.name for path in SEEDS}
    return [d for d in seeded.documents.values() if Path(d.raw.source).name in names]


# --- SQL views ---------------------------------------------------------------------------------
def test_seed_corpus_has_metrics(seeded: Seeded) -> None:
    assert len(seeded.documents) == len(SEEDS) + 2 == 7
    assert len(seed_documents(seeded)) == 5
    assert seeded.runs == 2
    assert seeded.metric_count > 50


def test_views_count_each_document_once_after_a_replay(dash_settings: Settings, seeded: Seeded) -> None:
    client = make_client(dash_settings)
    try:
        one = lambda sql: client.query(sql).result_rows[0][0]  # noqa: E731
        # The base tables hold both runs; the views only the current one.
        assert one(f"SELECT count() FROM {DB}.metrics") == 2 * seeded.metric_count
        assert one(f"SELECT sum(documents) FROM {DB}.dash_documents_daily") == len(seeded.documents)
        assert one(f"SELECT sum(metrics) FROM {DB}.dash_documents_daily") == seeded.metric_count
        assert one(f"SELECT sum(mentions) FROM {DB}.dash_metric_totals") == seeded.metric_count
        assigned = sum(len(d.analysis.doc.topics) or 1 for d in seeded.documents.values())
        assert one(f"SELECT sum(documents) FROM {DB}.dash_topic_daily") == assigned
        assert one(f"SELECT sum(documents) FROM {DB}.dash_topic_weekly") == assigned
        for view in ("dash_topic_shares_daily", "dash_topic_shares_weekly"):
            assert one(f"SELECT sum(documents) FROM {DB}.{view}") == assigned
            assert one(f"SELECT sum(figures) FROM {DB}.{view}") == seeded.metric_count
            by_topic = dict(client.query(
                f"SELECT topic, (sum(paragraphs), sum(chars)) FROM {DB}.{view} WHERE paragraphs > 0 GROUP BY topic"
            ).result_rows)
            assert by_topic == python_paragraph_topics(seeded)
        assert one(f"SELECT sum(messages) FROM {DB}.dash_dlq_daily") == 12
        subjects = {m.subject for d in seeded.documents.values() for m in d.analysis.metrics if m.subject}
        assert one(f"SELECT count() FROM {DB}.dash_top_subjects") == len(subjects)
        expected = sum(m.value for d in seeded.documents.values() for m in d.analysis.metrics)
        assert one(f"SELECT sum(total) FROM {DB}.dash_metric_totals") == pytest.approx(expected)
        doc = max(seeded.documents.values(), key=lambda d: len(d.analysis.metrics))
        spans = client.query(
            f"SELECT char_start, char_end, span FROM {DB}.dash_document_metrics(doc_id = {{d:String}}) ORDER BY char_start",
            parameters={"d": doc.raw.doc_id},
        ).result_rows
        assert spans == sorted((m.char_start, m.char_end, m.span) for m in doc.analysis.metrics)
    finally:
        client.close()


def test_latest_value_comes_from_the_most_recently_published_document(dash_settings: Settings, seeded: Seeded) -> None:
    client = make_client(dash_settings)
    try:
        rows = client.query(
            f"SELECT metric, unit, argMax(latest_value, latest_key), max(latest_published_at) "
            f"FROM {DB}.dash_metric_totals GROUP BY metric, unit"
        ).result_rows
    finally:
        client.close()
    assert rows
    for metric, unit, latest, _published in rows:
        candidates = [
            (d.raw.published_at, d.raw.doc_id, m.char_start, m.value)
            for d in seeded.documents.values() for m in d.analysis.metrics if m.metric == metric and m.unit == unit
        ]
        assert latest == max(candidates)[3], (metric, unit)


# --- JSON API ----------------------------------------------------------------------------------
def test_api_answers_every_panel(server: DashboardServer, seeded: Seeded) -> None:
    status, summary = get_json(server, "/api/summary")
    assert status == 200 and summary["documents"] == 7 and summary["metrics"] == seeded.metric_count
    for granularity in ("day", "week"):
        for measure in ("chars", "paragraphs", "figures", "documents"):
            status, topics = get_json(server, "/api/topics", granularity=granularity, measure=measure)
            assert status == 200 and topics["periods"] and topics["series"] and topics["measure"] == measure
            for i in range(len(topics["periods"])):
                assert sum(s["share"][i] for s in topics["series"]) == pytest.approx(1.0, abs=1e-3)
    status, default = get_json(server, "/api/topics")
    assert status == 200 and default["measure"] == "chars"  # paragraphs by length unless asked otherwise
    status, facets = get_json(server, "/api/facets")
    assert status == 200 and facets["metrics"] and facets["regions"] and facets["years"]
    for path in ("/api/metrics/by_region", "/api/metrics/by_year"):
        status, series = get_json(server, path)
        assert status == 200 and series["labels"] and len(series["total"]) == len(series["labels"])
        assert series["metric"] != "other"  # the default is a named metric
    status, subjects = get_json(server, "/api/subjects", limit=5)
    assert status == 200 and len(subjects["subjects"]) == 5
    status, dlq = get_json(server, "/api/dlq")
    assert status == 200 and sum(sum(s["messages"]) for s in dlq["series"]) == 12


def test_api_metric_rows_filter_sort_and_page(server: DashboardServer, seeded: Seeded) -> None:
    metrics = [m for d in seeded.documents.values() for m in d.analysis.metrics]
    status, page = get_json(server, "/api/metrics/rows", limit=10, sort="value", order="desc")
    assert status == 200 and page["total"] == len(metrics) and len(page["rows"]) == 10
    values = [row["value"] for row in page["rows"]]
    assert values == sorted(values, reverse=True) and values[0] == max(m.value for m in metrics)
    assert all(row["title"] is not None and row["sentence"] for row in page["rows"])

    target = metrics[0]
    status, page = get_json(server, "/api/metrics/rows", topic=target.topic, metric=target.metric,
                            unit=target.unit, region=target.region, limit=500)
    expected = [m for m in metrics if (m.topic, m.metric, m.unit, m.region)
                == (target.topic, target.metric, target.unit, target.region)]
    assert status == 200 and page["total"] == len(expected) == len(page["rows"])

    year = next(m.year for m in metrics if m.year)
    status, page = get_json(server, "/api/metrics/rows", year=year, limit=500)
    assert status == 200 and page["total"] == sum(1 for m in metrics if m.year == year)

    status, second = get_json(server, "/api/metrics/rows", limit=10, offset=10, sort="value", order="desc")
    assert status == 200 and second["rows"][0]["value"] <= values[-1]


def test_api_rejects_bad_input_and_never_interpolates_it(server: DashboardServer) -> None:
    for params in ({"sort": "value; DROP TABLE metrics"}, {"order": "sideways"}, {"limit": "0"},
                   {"limit": "100000"}, {"year": "twenty"}):
        status, body = get_json(server, "/api/metrics/rows", **params)
        assert status == 400 and body["error"], params
    status, _ = get_json(server, "/api/topics", granularity="hour")
    assert status == 400
    status, _ = get_json(server, "/api/topics", **{"from": "2018-13-40"})
    assert status == 400
    # SQL in a filter value is just a value that matches nothing.
    status, page = get_json(server, "/api/metrics/rows", topic="产业' OR 1=1 --", region="x') OR ('1'='1")
    assert status == 200 and page["total"] == 0 and page["rows"] == []
    status, body = get_json(server, "/api/documents/" + urllib.parse.quote("nope' OR '1'='1", safe=""))
    assert status == 404


def test_api_document_segments_highlight_the_spans(server: DashboardServer, seeded: Seeded) -> None:
    doc = max(seeded.documents.values(), key=lambda d: len(d.analysis.metrics))
    status, body = get_json(server, "/api/documents/" + doc.raw.doc_id)
    assert status == 200
    text = "".join(segment["text"] for segment in body["segments"])
    assert text == doc.analysis.text
    marked = [seg for seg in body["segments"] if seg["mark"] is not None]
    assert len(marked) >= len(doc.analysis.metrics) * 0.9  # overlapping spans are marked once
    for seg in marked:
        span = body["spans"][seg["mark"]]
        assert seg["text"] == text[span["char_start"]:span["char_end"]] == span["span"]


def test_paragraph_and_figure_topic_shares_show_every_topic(server: DashboardServer, seeded: Seeded) -> None:
    # The seeds alone hold paragraphs and figures about 健康 and 教育 (their document-level topics
    # barely do): the paragraph and figure series show them.
    seed_paragraphs = python_paragraph_topics(seeded, seed_documents(seeded))
    assert {"健康", "教育"} <= set(seed_paragraphs)
    assert {"健康", "教育"} <= {m.topic for d in seed_documents(seeded) for m in d.analysis.metrics}
    seeds_only = {"date_to": "2022-12-31"}  # the fresh article (2023) is outside
    for measure in ("chars", "paragraphs", "figures"):
        status, body = get_json(server, "/api/topics", granularity="week", measure=measure, **seeds_only)
        assert status == 200 and {"健康", "教育"} <= {s["topic"] for s in body["series"]}, measure
    status, body = get_json(server, "/api/topics", granularity="day", measure="paragraphs")
    totals = {s["topic"]: sum(s["values"]) for s in body["series"]}
    assert totals == {topic: n for topic, (n, _chars) in python_paragraph_topics(seeded).items()}
    status, body = get_json(server, "/api/topics", granularity="day", measure="chars")
    totals = {s["topic"]: sum(s["values"]) for s in body["series"]}
    assert totals == {topic: chars for topic, (_n, chars) in python_paragraph_topics(seeded).items()}


def test_api_facts_count_a_reposted_figure_once_with_two_mentions(server: DashboardServer, seeded: Seeded) -> None:
    status, page = get_json(server, "/api/facts", limit=500)
    assert status == 200 and page["rows"] and page["total"] >= len(page["rows"])
    assert page["sort"] == "mentions" and page["order"] == "desc"
    mentions = [row["mentions"] for row in page["rows"]]
    assert mentions == sorted(mentions, reverse=True)
    original = next(d for d in seeded.documents.values() if Path(d.raw.source).name == REPOST_OF)
    repost = next(d for d in seeded.documents.values() if d.raw.title == REPOST_TITLE)
    repeated = [row for row in page["rows"] if row["mentions"] >= 2]
    assert repeated, "the repost's facts have two mentions"
    for key in ("region", "region_code", "ref_year", "metric", "unit", "value", "subject", "documents",
                "first_published", "last_published", "flags", "fact_id", "sentence", "doc_id"):
        assert key in repeated[0]
    # Every figure of the original seed is one fact, also mentioned by the repost.
    fact = next(row for row in repeated if row["doc_id"] in (original.raw.doc_id, repost.raw.doc_id))
    status, body = get_json(server, "/api/facts/mentions", fact_id=fact["fact_id"])
    assert status == 200 and len(body["mentions"]) == fact["mentions"] >= 2
    docs = {m["doc_id"] for m in body["mentions"]}
    assert {original.raw.doc_id, repost.raw.doc_id} <= docs
    assert all(m["sentence"] and "published_at" in m and "title" in m for m in body["mentions"])
    assert {m["title"] for m in body["mentions"]} >= {REPOST_TITLE}
    status, path_form = get_json(server, f"/api/facts/{fact['fact_id']}/mentions")
    assert status == 200 and path_form == body
    status, none = get_json(server, "/api/facts/mentions", fact_id="0" * 32)
    assert status == 200 and none["mentions"] == []
    # Totals count facts: the repost adds mentions, not facts.
    status, by_region = get_json(server, "/api/metrics/by_region", metric=fact["metric"], unit=fact["unit"])
    assert status == 200 and by_region["facts"] and sum(by_region["mentions"]) >= sum(by_region["facts"])
    status, facts_of_metric = get_json(server, "/api/facts", metric=fact["metric"], unit=fact["unit"], limit=500)
    if len(by_region["labels"]) < 30:  # not cut at the chart's 30 bars
        assert sum(by_region["facts"]) == facts_of_metric["total"] == len(facts_of_metric["rows"])
        assert sum(by_region["total"]) == pytest.approx(sum(r["value"] for r in facts_of_metric["rows"]))
    status, by_year = get_json(server, "/api/metrics/by_year", metric=fact["metric"], unit=fact["unit"])
    dated = [r for r in facts_of_metric["rows"] if r["ref_year"] is not None]
    assert sum(by_year["facts"]) == len(dated) and sum(by_year["total"]) == pytest.approx(sum(r["value"] for r in dated))


def test_api_flags_panel(server: DashboardServer, seeded: Seeded) -> None:
    status, body = get_json(server, "/api/flags", limit=500)
    assert status == 200 and body["rows"] and body["total"] >= len(body["rows"])
    fresh = next(d for d in seeded.documents.values() if d.raw.title and d.raw.title.startswith("汉阴县"))
    above = [row for row in body["rows"] if row["flag"] == "rate_above_100"]
    assert any(row["doc_id"] == fresh.raw.doc_id and row["value"] == 112 and row["unit"] == "%" for row in above)
    assert all(row["explanation"] for row in above)
    published = [row["published_at"] or "" for row in body["rows"]]
    assert published == sorted(published, reverse=True)  # newest first
    rules = {rule["rule"]: rule for rule in body["rules"]}
    assert rules["rate_above_100"]["flagged"] == len(above) and rules["rate_above_100"]["explanation"]
    status, only = get_json(server, "/api/flags", rule="rate_above_100", limit=500)
    assert status == 200 and only["total"] == len(above) and {r["flag"] for r in only["rows"]} == {"rate_above_100"}
    status, nothing = get_json(server, "/api/flags", rule="no_such_rule")
    assert status == 200 and nothing["rows"] == [] and nothing["total"] == 0
    # The facts table can be narrowed to flagged facts too.
    status, facts = get_json(server, "/api/facts", flag="rate_above_100")
    assert status == 200 and facts["rows"] and all("rate_above_100" in r["flags"] for r in facts["rows"])


def test_api_map_colours_divisions_by_fact_totals(server: DashboardServer, seeded: Seeded) -> None:
    fresh = next(d for d in seeded.documents.values() if d.raw.title and d.raw.title.startswith("汉阴县"))
    figure = next(m for m in fresh.analysis.metrics if m.metric == "coverage_rate")
    status, facts = get_json(server, "/api/facts", metric=figure.metric, unit=figure.unit, limit=500)
    assert status == 200 and facts["total"] == len(facts["rows"])
    for level in ("province", "prefecture"):
        status, body = get_json(server, "/api/map", level=level, metric=figure.metric, unit=figure.unit)
        assert status == 200 and body["level"] == level and body["divisions"]
        expected: dict[str, list[float]] = {}
        for row in facts["rows"]:
            code = division_code(row["region_code"], level)
            if code:
                entry = expected.setdefault(code, [0.0, 0, 0])
                entry[0] += row["value"]
                entry[1] += 1
                entry[2] += row["mentions"]
        got = {d["code"]: [d["total"], d["facts"], d["mentions"]] for d in body["divisions"]}
        assert got.keys() == expected.keys()
        for code, values in expected.items():
            assert got[code] == pytest.approx(values)
        shaanxi = "610000" if level == "province" else "610900"
        assert shaanxi in got and next(d["name"] for d in body["divisions"] if d["code"] == shaanxi)
    status, default = get_json(server, "/api/map")
    assert status == 200 and default["metric"] and default["unit"]  # the metric with most facts


def test_csv_of_every_table_has_the_rows_of_its_json(server: DashboardServer, seeded: Seeded) -> None:
    tables = [
        ("/api/metrics/rows", {"limit": 500, "sort": "value"}, "rows"),
        ("/api/facts", {"limit": 500}, "rows"),
        ("/api/flags", {"limit": 500}, "rows"),
        ("/api/subjects", {"limit": 200}, "subjects"),
        ("/api/map", {"level": "province"}, "divisions"),
    ]
    for path, params, key in tables:
        status, body = get_json(server, path, **params)
        assert status == 200 and body[key], path
        parsed = get_csv(server, path, **params)
        header, rows = parsed[0], parsed[1:]
        assert len(rows) == len(body[key]), path
        if path == "/api/map":
            body[key] = [{**row, "metric": body["metric"], "unit": body["unit"]} for row in body[key]]
        assert rows == as_cells(header, body[key]), path
    for path in ("/api/metrics/by_region", "/api/metrics/by_year"):
        status, body = get_json(server, path)
        parsed = get_csv(server, path)
        assert parsed[0] == ["label", "metric", "unit", "total", "facts", "mentions", "latest"]
        assert parsed[1:] == as_cells(parsed[0], series_rows(body)) and len(parsed) > 1, path
    # The metrics table exports Chinese text intact (a sentence with commas and quotes included).
    parsed = get_csv(server, "/api/metrics/rows", limit=100000)
    assert len(parsed) == seeded.metric_count + 1
    sentences = {m.sentence for d in seeded.documents.values() for m in d.analysis.metrics}
    assert {row[parsed[0].index("sentence")] for row in parsed[1:]} <= sentences


def test_date_filter_narrows_every_table(server: DashboardServer, seeded: Seeded) -> None:
    empty = {"date_from": "2000-01-01", "date_to": "2000-01-31"}
    for path, key in (("/api/metrics/rows", "rows"), ("/api/facts", "rows"), ("/api/flags", "rows"),
                      ("/api/subjects", "subjects"), ("/api/map", "divisions"), ("/api/topics", "series"),
                      ("/api/metrics/by_region", "labels"), ("/api/metrics/by_year", "labels"),
                      ("/api/facets", "metrics")):
        status, body = get_json(server, path, **empty)
        assert status == 200 and body[key] == [], path
        if isinstance(body.get("total"), int):
            assert body["total"] == 0, path
        status, body = get_json(server, path)
        assert status == 200 and body[key], path
    # The fresh article alone (June 2023): its figures, its facts, its flags.
    fresh = next(d for d in seeded.documents.values() if d.raw.title and d.raw.title.startswith("汉阴县"))
    june = {"date_from": "2023-06-01", "date_to": "2023-06-30"}
    status, rows = get_json(server, "/api/metrics/rows", limit=500, **june)
    assert status == 200 and rows["total"] == len(fresh.analysis.metrics) == len(rows["rows"])
    assert {row["doc_id"] for row in rows["rows"]} == {fresh.raw.doc_id}
    status, facts = get_json(server, "/api/facts", limit=500, **june)
    assert facts["rows"] and all("2023-06-01" <= f["first_published"][:10] <= "2023-06-30" for f in facts["rows"])
    status, flags = get_json(server, "/api/flags", limit=500, **june)
    assert flags["rows"] and {row["doc_id"] for row in flags["rows"]} == {fresh.raw.doc_id}
    status, topics = get_json(server, "/api/topics", measure="documents", **june)
    assert topics["periods"] == ["2023-06-12"]
    # from/to are the same range as date_from/date_to
    status, same = get_json(server, "/api/metrics/rows", limit=500, **{"from": "2023-06-01", "to": "2023-06-30"})
    assert same["total"] == rows["total"]


# --- the read cache ----------------------------------------------------------------------------
CACHE_DB = "dash_cache_test"


@pytest.fixture
def cache_db(dash_settings: Settings, seeded: Seeded) -> Iterator[Settings]:
    """A copy of the seeded database (base tables; the views made by the migrations)."""
    settings = dash_settings.model_copy(update={"clickhouse_database": CACHE_DB, "dashboard_refresh_seconds": 0.2})
    client = make_client(dash_settings)
    try:
        client.command(f"DROP DATABASE IF EXISTS {CACHE_DB}")
        apply_migrations(settings, client)
        for table in ("documents", "paragraphs", "metrics", "dlq"):
            client.command(f"INSERT INTO {CACHE_DB}.{table} SELECT * FROM {DB}.{table}")
        yield settings
    finally:
        client.command(f"DROP DATABASE IF EXISTS {CACHE_DB}")
        client.command(f"DROP DATABASE IF EXISTS {cache_database(CACHE_DB)}")
        client.close()


def _new_run_without_last_figure(settings: Settings, doc_id: str) -> int:
    """Write a newer run of ``doc_id`` that lacks its last figure; returns its figure count."""
    client = make_client(settings)
    try:
        db = settings.clickhouse_database
        run = f"(SELECT max(processed_at) + toIntervalSecond(1) FROM {db}.documents)"
        last = client.query(f"SELECT max(char_start) FROM {db}.metrics_latest WHERE doc_id = {{d:String}}",
                            parameters={"d": doc_id}).result_rows[0][0]
        kept = client.query(f"SELECT count() FROM {db}.metrics_latest WHERE doc_id = {{d:String}} "
                            f"AND char_start != {{c:UInt32}}", parameters={"d": doc_id, "c": last}).result_rows[0][0]
        for table, where in (("metrics", "AND char_start != {c:UInt32}"), ("paragraphs", "")):
            client.command(
                f"INSERT INTO {db}.{table} SELECT * REPLACE ({run} AS processed_at) FROM {db}.{table}_latest "
                f"WHERE doc_id = {{d:String}} {where}", parameters={"d": doc_id, "c": last})
        client.command(
            f"INSERT INTO {db}.documents SELECT * REPLACE ({run} AS processed_at, {{n:UInt32}} AS metric_count) "
            f"FROM {db}.documents_latest WHERE doc_id = {{d:String}}", parameters={"d": doc_id, "n": kept})
        return int(kept)
    finally:
        client.close()


def _cache_tables(settings: Settings) -> list[str]:
    client = make_client(settings)
    try:
        return [row[0] for row in client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND startsWith(name, 'dash_cache_')",
            parameters={"db": cache_database(settings.clickhouse_database)}).result_rows]
    finally:
        client.close()


def test_the_dashboard_reads_a_cached_copy_that_follows_new_runs(cache_db: Settings, seeded: Seeded) -> None:
    doc = max(seed_documents(seeded), key=lambda d: len(d.analysis.metrics))
    with DashboardServer(cache_db) as server:
        status, before = get_json(server, "/api/summary")
        assert status == 200 and before["metrics"] == seeded.metric_count and before["as_of"]
        assert _cache_tables(cache_db)  # the generation it answered from
        kept = _new_run_without_last_figure(cache_db, doc.raw.doc_id)
        # the cache is rebuilt within a refresh or two, and as_of moves on
        after = poll(lambda: (lambda r: r if r["metrics"] == seeded.metric_count - 1 else None)(
            get_json(server, "/api/summary")[1]), 30, "the summary to count the new run")
        assert after["as_of"] > before["as_of"]
        status, page = get_json(server, "/api/document", doc_id=doc.raw.doc_id)
        assert status == 200 and len(page["spans"]) == kept
    assert _cache_tables(cache_db) == []  # a stopped dashboard drops its generations


def test_a_document_page_never_pairs_a_text_with_spans_of_another_run(cache_db: Settings, seeded: Seeded) -> None:
    doc = max(seed_documents(seeded), key=lambda d: len(d.analysis.metrics))
    with DashboardServer(cache_db.model_copy(update={"dashboard_refresh_seconds": 3600})) as server:
        status, before = get_json(server, "/api/summary")
        assert status == 200 and before["metrics"] == seeded.metric_count
        kept = _new_run_without_last_figure(cache_db, doc.raw.doc_id)
        # the charts still read the cached copy (no refresh for an hour) ...
        status, still = get_json(server, "/api/summary")
        assert still["metrics"] == seeded.metric_count and still["as_of"] == before["as_of"]
        # ... but the document's text is read live, and so are the spans of its new run
        status, page = get_json(server, "/api/document", doc_id=doc.raw.doc_id)
        assert status == 200 and len(page["spans"]) == kept == len(doc.analysis.metrics) - 1
        text = "".join(segment["text"] for segment in page["segments"])
        assert all(text[s["char_start"]:s["char_end"]] == s["span"] for s in page["spans"])


# --- benchmark ---------------------------------------------------------------------------------
def test_bench_dashboard_small_run_times_every_query_and_cleans_up(dash_settings: Settings) -> None:
    results = bench_dashboard(dash_settings, rows=20_000, runs=1)
    assert {"view:dash_metric_totals", "view:dash_topic_daily", "api:by_region", "api:metric_rows",
            "api:document_spans", "view:dash_topic_shares_weekly", "api:topics_chars_week", "api:facts",
            "api:map_prefecture", "api:flags", "api:fact_mentions"} <= set(results)
    assert all(seconds > 0 for seconds in results.values())
    client = make_client(dash_settings)
    try:
        left = client.query("SELECT name FROM system.databases WHERE name LIKE {p:String}",
                            parameters={"p": f"{DB}_bench_%"}).result_rows
    finally:
        client.close()
    assert left == []


# --- the page in headless Chromium -------------------------------------------------------------
def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run .ci/tools/install-chromium.sh"
    return found


class Cdp:
    """A minimal Chrome DevTools Protocol client over aiohttp's websocket, collecting errors."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                self.errors.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                self.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                self.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 60)
        assert "error" not in reply, reply
        return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}; errors: {self.errors}"
            await asyncio.sleep(0.1)


def start_chromium(user_data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0",
         f"--user-data-dir={user_data}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def devtools_port(user_data: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Chromium writes the port it picked to <user-data-dir>/DevToolsActivePort."""
    marker = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"chromium exited with {process.returncode}"
        if marker.exists():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        time.sleep(0.05)
    raise AssertionError("chromium did not open its DevTools port")


async def drive_page(devtools: int, url: str, screenshot: Path) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{devtools}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = Cdp(ws)
            for domain in ("Runtime", "Log", "Page"):
                await cdp.send(f"{domain}.enable")
            await cdp.send("Emulation.setDeviceMetricsOverride", width=1400, height=2900, deviceScaleFactor=1,
                           mobile=False)
            await cdp.send("Page.navigate", url=url)
            await cdp.wait_for("window.newsetlDashboard && window.newsetlDashboard.ready")
            state = await cdp.evaluate(
                "JSON.stringify({counts: newsetlDashboard.counts(), errors: newsetlDashboard.errors,"
                " ready: document.body.dataset.ready,"
                " cjkFont: document.fonts.check('16px \"Noto Sans CJK SC\"'),"
                " marks: [...document.querySelectorAll('#doc-text mark')].map(m => [m.textContent, +m.dataset.start, +m.dataset.end]),"
                " docText: document.querySelector('#doc-text').textContent,"
                " pageInfo: document.querySelector('#page-info').textContent,"
                " factsInfo: document.querySelector('#facts-page-info').textContent,"
                " flagRows: [...document.querySelectorAll('#flags-table tr.flag-row')].map(r => r.cells[0].textContent),"
                " dateInputs: [...document.querySelectorAll('#dates input[type=date]')].map(i => i.id),"
                " maps: Object.fromEntries(Object.entries(newsetlDashboard.maps).map(([level, name]) =>"
                "   [level, !!echarts.getMap(name) && echarts.getMap(name).geoJSON.features.length])),"
                " mapSeries: (() => { const s = newsetlDashboard.charts['chart-map'].getOption().series[0];"
                "   return {map: s.map, nameProperty: s.nameProperty, data: s.data}; })(),"
                " csvLinks: Object.fromEntries([...document.querySelectorAll('a.csv')].map(a => [a.id, a.getAttribute('href')])),"
                " title: document.querySelector('#doc-meta h3').textContent})"
            )
            result: dict[str, Any] = json.loads(state)
            # Follow a table row's link to its sentence: the document opens with that span focused.
            link = await cdp.evaluate(
                "(() => { const a = document.querySelector('#metrics-table tr.metric-row td.sentence a');"
                " a.click(); return a.getAttribute('href'); })()"
            )
            focused = await cdp.wait_for(
                "(() => { const m = document.querySelector('#doc-text mark.focus');"
                " return m && [m.textContent, +m.dataset.start, +m.dataset.end]; })()"
            )
            result.update(link=link, focused=focused)
            # Open a fact's source sentences from the facts table.
            await cdp.evaluate("document.querySelector('#facts-table tr.fact-row').click()")
            result["mentions"] = await cdp.wait_for(
                "document.querySelectorAll('#fact-mentions li').length")
            result["errors_after_click"] = await cdp.evaluate("newsetlDashboard.errors")
            # Chart canvases painted something (not just a blank canvas).
            result["painted"] = await cdp.evaluate(
                "Object.fromEntries(Object.entries(newsetlDashboard.charts).map(([id, c]) => [id, c.getDataURL().length]))"
            )
            await cdp.evaluate("window.scrollTo(0, 0)")
            shot = await cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            import base64

            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result["cdp_errors"] = list(cdp.errors)
            cdp.reader.cancel()
            return result


def test_dashboard_in_headless_chromium(server: DashboardServer, seeded: Seeded, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    user_data = tmp_path / "chromium"
    process = start_chromium(user_data)
    try:
        port = devtools_port(user_data, process)
        result = asyncio.run(asyncio.wait_for(drive_page(port, server.url + "/", screenshot), 180))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)

    assert result["cdp_errors"] == [], result["cdp_errors"]
    assert result["errors"] == [] and result["errors_after_click"] == [] and result["ready"] == "ok"
    charts = result["counts"]["charts"]
    assert set(charts) == {"chart-topics", "chart-region", "chart-year", "chart-dlq", "chart-map"}
    assert all(points > 0 for points in charts.values()), charts
    assert result["counts"]["rows"] == min(25, seeded.metric_count)
    # The date filter, the facts table (with rows) and the flags panel (with a flagged row).
    assert result["dateInputs"] == ["date-from", "date-to"]
    assert result["counts"]["facts"] > 0 and result["factsInfo"].startswith("1–")
    assert result["counts"]["flags"] > 0 and "rate_above_100" in result["flagRows"]
    assert result["mentions"] >= 1
    # The map: the vendored GeoJSON registered (34 provinces), divisions coloured by their totals.
    assert result["maps"] == {"province": 34}
    assert result["mapSeries"]["map"] == "cn-province" and result["mapSeries"]["nameProperty"] == "adcode"
    status, shown = get_json(server, "/api/map", level="province")  # the page's default metric
    coloured = result["counts"]["mapColoured"]
    assert coloured and sorted(coloured) == sorted(d["code"] for d in shown["divisions"] if d["total"] > 0)
    values = {item["name"]: item["value"] for item in result["mapSeries"]["data"] if item.get("value")}
    assert values == pytest.approx({d["code"]: d["total"] for d in shown["divisions"] if d["total"] > 0})
    # Every table has its CSV link, the same API call with format=csv.
    assert set(result["csvLinks"]) == {"csv-map", "csv-region", "csv-year", "csv-subjects", "csv-metrics", "csv-facts",
                                       "csv-flags"}
    assert all(href and "format=csv" in href for href in result["csvLinks"].values()), result["csvLinks"]
    assert result["pageInfo"].endswith(f"/ {seeded.metric_count}")  # unfiltered at first
    assert result["cjkFont"] is True
    # The document view shows the document with the most metrics, every span highlighted exactly.
    doc = max(seeded.documents.values(), key=lambda d: len(d.analysis.metrics))
    assert result["docText"] == doc.analysis.text
    assert len(result["marks"]) >= len(doc.analysis.metrics) * 0.9
    for text, start, end in result["marks"]:
        assert text == doc.analysis.text[start:end]
    # Following a row's link focuses that row's span in its document.
    params = urllib.parse.parse_qs(result["link"].lstrip("#"))
    start, end = (int(x) for x in params["span"][0].split("-"))
    assert result["focused"][1:] == [start, end]
    target = seeded.documents[params["doc"][0]]
    assert result["focused"][0] == target.analysis.text[start:end]
    assert all(size > 5000 for size in result["painted"].values()), result["painted"]
    assert screenshot.stat().st_size > 50_000


def test_serve_dashboard_blocks_serves_and_stops_on_ctrl_c(dash_settings: Settings, seeded: Seeded) -> None:
    """The CLI path: serve_dashboard(settings, host, port) in its own process, configured by NEWSETL_*."""
    import os
    import signal
    import socket
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "NEWSETL_CLICKHOUSE_URL": dash_settings.clickhouse_url, "NEWSETL_CLICKHOUSE_DATABASE": DB}
    code = ("from streams.settings import get_settings; from streams.dashboard import serve_dashboard; "
            f"serve_dashboard(get_settings(), '127.0.0.1', {port})")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary", timeout=5) as response:
                    assert json.loads(response.read())["documents"] == len(seeded.documents)
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                # TimeoutError: the first request waits for the dashboard's first cache generation,
                # which can take longer than one request's 5 s here; the 60 s deadline still holds
                assert time.monotonic() < deadline, "dashboard did not answer within 60s"
                time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_any_document_id_opens_through_the_query_form(server: DashboardServer, seeded: Seeded) -> None:
    doc = next(iter(seeded.documents.values()))
    status, body = get_json(server, "/api/document", doc_id=doc.raw.doc_id)
    assert status == 200 and body["doc"]["doc_id"] == doc.raw.doc_id
    for odd in ("报告{2023}/第1期", "a/b", "}{"):
        status, body = get_json(server, "/api/document", doc_id=odd)
        assert status == 404 and body["error"] == f"no document {odd}"
    status, body = get_json(server, "/api/document")
    assert status == 400
