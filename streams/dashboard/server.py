"""The local analyst dashboard: an aiohttp app serving a JSON API over the dashboard views and the
static page (``static/index.html`` + ``app.js`` + vendored ECharts) that draws it.

API (all GET, JSON, UTF-8):

- ``/api/summary`` — document / metric / DLQ totals and the date range.
- ``/api/topics?granularity=day|week&from=YYYY-MM-DD&to=YYYY-MM-DD`` — documents per topic and
  period, with each topic's share of the period's topic assignments.
- ``/api/facets?topic=`` — filter choices: topics, metric·unit pairs, regions, years.
- ``/api/metrics/by_region`` and ``/api/metrics/by_year`` (``topic, metric, unit, region, year``) —
  totals, mention counts and latest values of one metric in one unit.
- ``/api/metrics/rows`` (same filters + ``sort, order, limit, offset``) — the metrics table.
- ``/api/documents`` and ``/api/document?doc_id=…`` (or ``/api/documents/{doc_id}`` for ids without
  ``/{}``) — document list; one document with its text
  cut into segments, the extracted spans marked.
- ``/api/subjects?limit=``, ``/api/dlq`` — top subjects, dead letters per day and kind.

User input reaches ClickHouse only as server-side query parameters (see :mod:`.queries`); sort
columns are whitelisted; numbers are range-checked; bad input is a 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from clickhouse_connect.driver.client import Client

from streams.dashboard import queries as q
from streams.settings import Settings
from streams.store.clickhouse import make_client

log = logging.getLogger("newsetl.dashboard")


def _static_dir() -> Path:
    """The packaged ``static`` directory (package data of :mod:`streams.dashboard`)."""
    static = resources.files("streams.dashboard") / "static"
    # aiohttp serves files from a real directory: an installed or checked-out package is one
    if not isinstance(static, Path):
        raise RuntimeError(f"the dashboard's static files are not on the filesystem: {static}")
    return static


STATIC_DIR = _static_dir()
MAX_PAGE = 500
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)


class BadRequest(ValueError):
    """A request parameter that cannot be used (answered with 400)."""


class ClientPool:
    """One clickhouse-connect client per worker thread (clients are not shared across threads)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._all: list[Client] = []
        self._lock = threading.Lock()

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = make_client(self.settings)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts (column name → value); runs in the calling (worker) thread."""
        result = self.client().query(sql, parameters=dict(parameters or {}))
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    async def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.query, sql, parameters)

    def close(self) -> None:
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()


CLIENTS_KEY: web.AppKey[ClientPool] = web.AppKey("clients", ClientPool)


# --- parameters ------------------------------------------------------------------------------
def _text(request: web.Request, name: str, max_len: int = 200) -> str:
    value = request.query.get(name, "").strip()
    if len(value) > max_len:
        raise BadRequest(f"{name} is too long")
    return value


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _date(request: web.Request, name: str, default: str) -> str:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise BadRequest(f"{name} must be a date YYYY-MM-DD") from None


def metric_filters(request: web.Request) -> dict[str, Any]:
    """The five optional metric filters as query parameters ('' / 0 mean "any")."""
    return {
        "topic": _text(request, "topic"),
        "metric": _text(request, "metric"),
        "unit": _text(request, "unit"),
        "region": _text(request, "region"),
        "year": _int(request, "year", 0, 0, 9999),
    }


# --- JSON ------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """Plain JSON values: dates as ISO strings, NaN/inf as null, tuples/sets as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(jsonable(data), status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


# --- highlighting ----------------------------------------------------------------------------
def highlight_segments(text: str, spans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``text`` cut into consecutive segments; a segment covering a span carries ``mark`` (the
    span's index in ``spans``). Offsets are code points (Python ``str`` indices, as the pipeline
    writes them). Spans out of range, empty, or overlapping an earlier one are not marked."""
    segments: list[dict[str, Any]] = []
    pos = 0
    order = sorted(range(len(spans)), key=lambda i: (int(spans[i]["char_start"]), int(spans[i]["char_end"])))
    for index in order:
        start, end = int(spans[index]["char_start"]), int(spans[index]["char_end"])
        if start < pos or end <= start or end > len(text):
            continue
        if start > pos:
            segments.append({"text": text[pos:start], "mark": None})
        segments.append({"text": text[start:end], "mark": index})
        pos = end
    if pos < len(text):
        segments.append({"text": text[pos:], "mark": None})
    return segments


# --- handlers --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Api:
    """Request handlers bound to a database and a client pool."""

    db: str
    pool: ClientPool

    async def summary(self, request: web.Request) -> web.Response:
        rows = await self.pool.rows(q.render(q.SUMMARY, self.db))
        return reply(rows[0] if rows else {})

    async def topics(self, request: web.Request) -> web.Response:
        granularity = request.query.get("granularity", "day")
        if granularity not in q.GRANULARITIES:
            raise BadRequest("granularity must be day or week")
        view, col = q.GRANULARITIES[granularity]
        params = {"date_from": _date(request, "from", q.MIN_DATE), "date_to": _date(request, "to", q.MAX_DATE)}
        rows = await self.pool.rows(q.render(q.TOPIC_SERIES, self.db, view=view, col=col), params)
        periods = sorted({jsonable(row["period"]) for row in rows})
        topics = sorted({row["topic"] for row in rows}, key=_topic_order)
        totals: dict[str, int] = {}
        for row in rows:
            key = jsonable(row["period"])
            totals[key] = totals.get(key, 0) + int(row["documents"])
        counts = {(jsonable(row["period"]), row["topic"]): int(row["documents"]) for row in rows}
        series = [
            {
                "topic": topic,
                "documents": [counts.get((period, topic), 0) for period in periods],
                "share": [round(counts.get((period, topic), 0) / totals[period], 4) if totals[period] else 0
                          for period in periods],
            }
            for topic in topics
        ]
        return reply({"granularity": granularity, "periods": periods, "series": series})

    async def facets(self, request: web.Request) -> web.Response:
        topic = _text(request, "topic")
        topics, choices, regions, years = await asyncio.gather(
            self.pool.rows(q.render(q.FACET_TOPICS, self.db)),
            self.pool.rows(q.render(q.METRIC_CHOICES, self.db), {"topic": topic}),
            self.pool.rows(q.render(q.FACET_REGIONS, self.db)),
            self.pool.rows(q.render(q.FACET_YEARS, self.db)),
        )
        return reply({
            "topics": sorted((row["topic"] for row in topics), key=_topic_order),
            "metrics": [{"metric": r["metric"], "unit": r["unit"], "mentions": r["mentions"]} for r in choices],
            "regions": [row["region"] for row in regions],
            "years": [row["y"] for row in years],
        })

    async def _series(self, request: web.Request, template: str) -> web.Response:
        params = metric_filters(request)
        if not params["metric"] or not params["unit"]:
            # Totals only make sense for one metric in one unit: default to the most mentioned.
            choices = await self.pool.rows(q.render(q.METRIC_CHOICES, self.db), {"topic": params["topic"]})
            if not choices:
                return reply({"metric": None, "unit": None, "labels": [], "total": [], "mentions": [], "latest": []})
            params["metric"], params["unit"] = choices[0]["metric"], choices[0]["unit"]
        rows = await self.pool.rows(q.render(template, self.db), params)
        return reply({
            "metric": params["metric"],
            "unit": params["unit"],
            "labels": [row["label"] for row in rows],
            "total": [row["total"] for row in rows],
            "mentions": [row["mentions"] for row in rows],
            "latest": [row["latest"] for row in rows],
        })

    async def by_region(self, request: web.Request) -> web.Response:
        return await self._series(request, q.BY_REGION)

    async def by_year(self, request: web.Request) -> web.Response:
        return await self._series(request, q.BY_YEAR)

    async def metric_rows(self, request: web.Request) -> web.Response:
        params = metric_filters(request)
        sort = request.query.get("sort", "value")
        order = request.query.get("order", "desc").lower()
        if sort not in q.SORT_COLUMNS:
            raise BadRequest(f"sort must be one of {', '.join(q.SORT_COLUMNS)}")
        if order not in ("asc", "desc"):
            raise BadRequest("order must be asc or desc")
        page = {"limit": _int(request, "limit", 50, 1, MAX_PAGE), "offset": _int(request, "offset", 0, 0, 10**9)}
        sql = q.render(q.METRIC_ROWS, self.db, sort=q.SORT_COLUMNS[sort], direction=order.upper())
        rows, count = await asyncio.gather(
            self.pool.rows(sql, {**params, **page}),
            self.pool.rows(q.render(q.METRIC_COUNT, self.db), params) if any(params.values())
            else self.pool.rows(q.render(q.METRIC_COUNT_ALL, self.db)),
        )
        ids = sorted({row["doc_id"] for row in rows})
        titles = {}
        if ids:
            titles = {r["doc_id"]: r["title"] for r in await self.pool.rows(q.render(q.TITLES, self.db), {"ids": ids})}
        for row in rows:
            row["title"] = titles.get(row["doc_id"], "")
        total = int(next(iter(count[0].values())) or 0) if count else 0
        return reply({"total": total, **page, "sort": sort, "order": order, "rows": rows})

    async def documents(self, request: web.Request) -> web.Response:
        limit = _int(request, "limit", 200, 1, 1000)
        return reply({"documents": await self.pool.rows(q.render(q.DOCUMENT_LIST, self.db), {"limit": limit})})

    async def document(self, request: web.Request) -> web.Response:
        # ?doc_id= takes any id (braces, slashes); the path form cannot carry those
        doc_id = request.match_info.get("doc_id") or request.query.get("doc_id", "")
        if not doc_id or len(doc_id) > 200:
            raise BadRequest("bad document id")
        docs, spans = await asyncio.gather(
            self.pool.rows(q.render(q.DOCUMENT, self.db), {"doc_id": doc_id}),
            self.pool.rows(q.render(q.DOCUMENT_SPANS, self.db), {"doc_id": doc_id}),
        )
        if not docs:
            return reply({"error": f"no document {doc_id}"}, status=404)
        doc = docs[0]
        text = doc.pop("text")
        return reply({"doc": doc, "spans": spans, "segments": highlight_segments(text, spans)})

    async def subjects(self, request: web.Request) -> web.Response:
        limit = _int(request, "limit", 20, 1, 200)
        return reply({"subjects": await self.pool.rows(q.render(q.SUBJECTS, self.db), {"limit": limit})})

    async def dlq(self, request: web.Request) -> web.Response:
        params = {"date_from": _date(request, "from", q.MIN_DATE), "date_to": _date(request, "to", q.MAX_DATE)}
        rows = await self.pool.rows(q.render(q.DLQ_SERIES, self.db), params)
        days = sorted({jsonable(row["day"]) for row in rows})
        kinds = sorted({row["kind"] for row in rows})
        counts = {(jsonable(row["day"]), row["kind"]): int(row["messages"]) for row in rows}
        return reply({"days": days, "series": [
            {"kind": kind, "messages": [counts.get((day, kind), 0) for day in days]} for kind in kinds
        ]})


_TOPIC_RANK = {"产业": 0, "健康": 1, "教育": 2, "就业": 3, "other": 9}


def _topic_order(topic: str) -> tuple[int, str]:
    return _TOPIC_RANK.get(topic, 5), topic


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except BadRequest as exc:
        return reply({"error": str(exc)}, status=400)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - one JSON line for the page, the trace in the log
        log.exception("dashboard request failed: %s", request.path)
        return reply({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]},
                     status=502)
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'",
    )
    return response


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Content-Type": "text/html; charset=utf-8"})


def make_app(settings: Settings) -> web.Application:
    """The dashboard's aiohttp application for ``settings`` (ClickHouse endpoint and database)."""
    db = q.check_identifier(settings.clickhouse_database)
    pool = ClientPool(settings)
    api = Api(db, pool)
    app = web.Application(middlewares=[_errors])
    app[SETTINGS_KEY] = settings
    app[CLIENTS_KEY] = pool
    app.router.add_get("/", _index)
    app.router.add_get("/api/summary", api.summary)
    app.router.add_get("/api/topics", api.topics)
    app.router.add_get("/api/facets", api.facets)
    app.router.add_get("/api/metrics/by_region", api.by_region)
    app.router.add_get("/api/metrics/by_year", api.by_year)
    app.router.add_get("/api/metrics/rows", api.metric_rows)
    app.router.add_get("/api/documents", api.documents)
    app.router.add_get("/api/documents/{doc_id}", api.document)
    app.router.add_get("/api/document", api.document)
    app.router.add_get("/api/subjects", api.subjects)
    app.router.add_get("/api/dlq", api.dlq)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)

    async def _close(_app: web.Application) -> None:
        await asyncio.to_thread(pool.close)

    app.on_cleanup.append(_close)
    return app


def serve_dashboard(settings: Settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve the dashboard until interrupted (blocking). ``port`` defaults to settings.dashboard_port."""
    port = settings.dashboard_port if port is None else port
    web.run_app(make_app(settings), host=host, port=port, print=None, access_log=None,
                handle_signals=threading.current_thread() is threading.main_thread())


class DashboardServer:
    """The dashboard running in a background thread (tests, demos): ``url``, then ``stop()``."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="newsetl-dashboard", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        if self._runner is not None:
            self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.settings), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to learn an OS-chosen port
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    def start(self, timeout: float = 30.0) -> DashboardServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"dashboard did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_dashboard(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> DashboardServer:
    """Start the dashboard in a background thread (port 0: a free port); returns the running server."""
    return DashboardServer(settings, host, port).start()
