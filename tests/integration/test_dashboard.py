"""The dashboard against a real ClickHouse endpoint holding the seed corpus, run through the real
pipeline and sink (and replayed once, so duplicates would show): views, JSON API, benchmark, and
the page in headless Chromium driven over the DevTools protocol.

Chromium comes from Debian's ``chromium`` package (``.ci/tools/install-chromium.sh``); the test
fails, rather than skips, when it is missing. The screenshot is kept as
``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import asyncio
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
from streams.dashboard.server import DashboardServer
from streams.settings import Settings
from streams.store.clickhouse import make_client
from support.dashboard_seed import Seeded, load_articles

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
ARTIFACTS = REPO / "test-artifacts"
DB = "dash_test"


@pytest.fixture(scope="module")
def dash_settings(stack: Settings) -> Settings:
    return stack.model_copy(update={"clickhouse_database": DB})


@pytest.fixture(scope="module")
def seeded(dash_settings: Settings) -> Iterator[Seeded]:
    client = make_client(dash_settings)
    client.command(f"DROP DATABASE IF EXISTS {DB}")
    try:
        yield load_articles(dash_settings, SEEDS, replay=True, dlq_rows=12)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {DB}")
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


# --- SQL views ---------------------------------------------------------------------------------
def test_seed_corpus_has_metrics(seeded: Seeded) -> None:
    assert len(seeded.documents) == len(SEEDS) == 5
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
    assert status == 200 and summary["documents"] == 5 and summary["metrics"] == seeded.metric_count
    for granularity in ("day", "week"):
        status, topics = get_json(server, "/api/topics", granularity=granularity)
        assert status == 200 and topics["periods"] and topics["series"]
        for i in range(len(topics["periods"])):
            assert sum(s["share"][i] for s in topics["series"]) == pytest.approx(1.0, abs=1e-3)
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


# --- benchmark ---------------------------------------------------------------------------------
def test_bench_dashboard_small_run_times_every_query_and_cleans_up(dash_settings: Settings) -> None:
    results = bench_dashboard(dash_settings, rows=20_000)
    assert {"view:dash_metric_totals", "view:dash_topic_daily", "api:by_region", "api:metric_rows",
            "api:document_spans"} <= set(results)
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
            result.update(link=link, focused=focused, errors_after_click=await cdp.evaluate("newsetlDashboard.errors"))
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
    assert set(charts) == {"chart-topics", "chart-region", "chart-year", "chart-dlq"}
    assert all(points > 0 for points in charts.values()), charts
    assert result["counts"]["rows"] == min(25, seeded.metric_count)
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
            except (urllib.error.URLError, ConnectionError):
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
