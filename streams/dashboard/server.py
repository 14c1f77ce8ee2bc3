"""The local analyst dashboard: an aiohttp app serving a JSON API over the dashboard views and the
static page (``static/index.html`` + ``app.js`` + vendored ECharts) that draws it.

API (all GET, JSON, UTF-8). Every endpoint that feeds a chart or a table takes a date range,
``date_from`` / ``date_to`` (``YYYY-MM-DD``; ``from`` / ``to`` are accepted too): metric rows are
dated by their document's publication date, facts by ``first_published``. Tables (and the
by-region / by-year / map series) answer ``format=csv`` with the same rows as CSV (UTF-8 with a
BOM, a header row; see :func:`to_csv`).

- ``/api/summary`` — document / metric / DLQ totals and the date range.
- ``/api/topics?granularity=day|week&measure=chars|paragraphs|figures|documents`` — per topic and
  period: paragraph characters (default), paragraphs, figures or documents, with each topic's
  share of the period's total (multi-label: a paragraph with two topics counts in both).
- ``/api/facets?topic=`` — filter choices: topics, metric·unit pairs (by facts), regions, years.
- ``/api/metrics/by_region`` and ``/api/metrics/by_year`` (``topic, metric, unit, region,
  ref_year``) — fact totals (each fact once), fact and mention counts, latest values of one
  metric in one unit.
- ``/api/map?level=province|prefecture&metric=&unit=`` — the same totals per GB/T 2260 division.
- ``/api/metrics/rows`` (metric filters, ``year`` = written year, + ``sort, order, limit,
  offset``) — the metrics table.
- ``/api/facts`` (fact filters + ``flag, sort, order, limit, offset``) — the facts table;
  ``/api/facts/mentions?fact_id=`` — every mention of one fact (its source sentences).
- ``/api/flags?rule=`` — flagged metric rows with the rule's explanation, newest first, and the
  rules with their counts.
- ``/api/documents`` and ``/api/document?doc_id=…`` (or ``/api/documents/{doc_id}`` for ids without
  ``/{}``) — document list; one document with its text
  cut into segments, the extracted spans marked.
- ``/api/subjects?limit=``, ``/api/dlq`` — top subjects, dead letters per day and kind.

User input reaches ClickHouse only as server-side query parameters (see :mod:`.queries`); sort
columns are whitelisted; numbers are range-checked; bad input is a 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
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
from streams.dashboard.cache import CacheRefresher, CacheUnavailable, Generation
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
#: Largest page of a CSV export (the "CSV" buttons ask for everything up to this).
MAX_CSV_ROWS = 100_000
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
CACHE_TASK_KEY: web.AppKey[asyncio.Task[None]] = web.AppKey("cache_task", asyncio.Task)


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


def date_range(request: web.Request) -> dict[str, str]:
    """``date_from`` / ``date_to`` (or ``from`` / ``to``) as query parameters; absent = no bound."""
    date_from = _date(request, "date_from", "") or _date(request, "from", q.MIN_DATE)
    date_to = _date(request, "date_to", "") or _date(request, "to", q.MAX_DATE)
    if date_from > date_to:
        raise BadRequest("date_from is after date_to")
    return {"date_from": date_from, "date_to": date_to}


def metric_filters(request: web.Request) -> dict[str, Any]:
    """The optional metric filters and the date range as query parameters ('' / 0 mean "any")."""
    return {
        "topic": _text(request, "topic"),
        "metric": _text(request, "metric"),
        "unit": _text(request, "unit"),
        "region": _text(request, "region"),
        "year": _int(request, "year", 0, 0, 9999),
        "ref_year": _int(request, "ref_year", 0, 0, 9999),
        **date_range(request),
    }


def fact_filters(request: web.Request) -> dict[str, Any]:
    """The optional fact filters and the date range ('' / 0 mean "any"). Facts have no written
    year: ``year`` is taken as the reference year when ``ref_year`` is absent."""
    ref_year = _int(request, "ref_year", 0, 0, 9999) or _int(request, "year", 0, 0, 9999)
    return {
        "topic": _text(request, "topic"),
        "metric": _text(request, "metric"),
        "unit": _text(request, "unit"),
        "region": _text(request, "region"),
        "ref_year": ref_year,
        "flag": _text(request, "flag"),
        **date_range(request),
    }


def _filters_set(params: Mapping[str, Any]) -> bool:
    """Whether any filter or date bound is set (beyond the defaults)."""
    return any(v for k, v in params.items() if k not in ("date_from", "date_to")) or (
        params.get("date_from", q.MIN_DATE) != q.MIN_DATE or params.get("date_to", q.MAX_DATE) != q.MAX_DATE)


def _sort_order(request: web.Request, columns: dict[str, str], default: str) -> tuple[str, str]:
    """The ``sort`` key (one of ``columns``) and ``order`` (asc|desc) of a table request."""
    sort = request.query.get("sort", default)
    order = request.query.get("order", "desc").lower()
    if sort not in columns:
        raise BadRequest(f"sort must be one of {', '.join(columns)}")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be asc or desc")
    return sort, order


def _wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv")
    return fmt == "csv"


def _page(request: web.Request, default: int) -> dict[str, int]:
    high = MAX_CSV_ROWS if _wants_csv(request) else MAX_PAGE
    return {"limit": _int(request, "limit", default, 1, high), "offset": _int(request, "offset", 0, 0, 10**9)}


def facet_lists(groups: Sequence[Mapping[str, Any]], topic: str = "") -> dict[str, list[Any]]:
    """The filter choices from :data:`queries.FACETS` groups: topics (in topic order), metric·unit
    pairs of ``topic`` (all when '') with most facts first and 'other' last (at most 300), regions
    by facts (at most 500), reference years in order."""
    topics: set[str] = set()
    pairs: dict[tuple[str, str], list[int]] = {}
    regions: dict[str, int] = {}
    years: set[int] = set()
    for group in groups:
        facts = int(group["facts"])
        topics.add(group["topic"])
        if group["region"]:
            regions[group["region"]] = regions.get(group["region"], 0) + facts
        if group["ref_year"] is not None:
            years.add(int(group["ref_year"]))
        if not topic or group["topic"] == topic:
            entry = pairs.setdefault((group["metric"], group["unit"]), [0, 0])
            entry[0] += facts
            entry[1] += int(group["mentions"])
    ranked = sorted(pairs.items(), key=lambda kv: (kv[0][0] == "other", -kv[1][0], -kv[1][1], kv[0]))
    return {
        "topics": sorted(topics, key=_topic_order),
        "metrics": [{"metric": m, "unit": u, "facts": f, "mentions": n} for (m, u), (f, n) in ranked[:300]],
        "regions": [r for r, _ in sorted(regions.items(), key=lambda kv: (-kv[1], kv[0]))[:500]],
        "years": sorted(years),
    }


def division_code(region_code: str, level: str) -> str | None:
    """The map division of a 6-digit GB/T 2260 code (Python twin of :data:`queries.DIVISIONS`):
    ``province`` → ``xx0000``; ``prefecture`` → ``xxxx00``, except municipalities, Taiwan, Hong
    Kong and Macau (their province code) and units directly under a province (``xx90xx``: the code
    itself). None when the code is not 6 digits, or a province-level code at prefecture level."""
    if len(region_code) != 6 or not region_code.isascii() or not region_code.isdigit():
        return None
    province = region_code[:2]
    if level == "province":
        return province + "0000"
    if level != "prefecture":
        raise ValueError(f"unknown level {level!r}")
    if province in q.WHOLE_PROVINCES:
        return province + "0000"
    if region_code[2:] == "0000":
        return None
    if region_code[2:4] == "90":
        return region_code
    return region_code[:4] + "00"


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


def csv_cell(value: Any) -> str:
    """One CSV cell: '' for None, ISO dates (UTC ``Z``), integral floats without ``.0``, lists
    joined with ``;``."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list):
        return ";".join(csv_cell(v) for v in value)
    if isinstance(value, dict):
        return _dumps(value)
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``rows`` as CSV bytes: UTF-8 with a BOM (so Excel reads Chinese right), a header row of
    ``columns``, then one line per row (``\r\n``, fields quoted when needed by :mod:`csv`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def csv_reply(name: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> web.Response:
    return web.Response(body=to_csv(columns, rows), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}.csv"',
    })


def series_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A by-region / by-year series (parallel lists) as table rows."""
    keys = ("total", "facts", "mentions", "latest")
    return [{"label": label, "metric": data["metric"], "unit": data["unit"],
             **{key: data[key][i] for key in keys}} for i, label in enumerate(data["labels"])]


FACT_COLUMNS = ("region", "region_code", "ref_year", "metric", "unit", "value", "subject", "topic", "mentions",
                "documents", "first_published", "last_published", "flags", "fact_id", "sentence", "doc_id")
METRIC_COLUMNS = ("doc_id", "title", "paragraph_index", "sentence", "span", "char_start", "char_end", "value",
                  "value_low", "value_high", "unit", "qualifier", "subject", "metric", "topic", "region", "year",
                  "ref_year", "published_at")
FLAG_COLUMNS = ("flag", "explanation", "published_at", "doc_id", "title", "region", "region_code", "ref_year",
                "metric", "topic", "value", "unit", "span", "sentence", "paragraph_index", "char_start", "char_end")
SUBJECT_COLUMNS = ("subject", "mentions", "documents", "topics", "metrics")
SERIES_COLUMNS = ("label", "metric", "unit", "total", "facts", "mentions", "latest")
MAP_COLUMNS = ("code", "name", "metric", "unit", "total", "facts", "mentions", "documents")
MENTION_COLUMNS = ("fact_id", "doc_id", "title", "published_at", "paragraph_index", "char_start", "sentence",
                   "duplicate_of")


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
    """Request handlers bound to a database, a client pool and the read cache."""

    db: str
    pool: ClientPool
    cache: CacheRefresher

    async def _generation(self) -> Generation | None:
        """The current cache generation (waits for the first one); None when the cache could not be
        built — a read-only user, say — and the views themselves are read (exact, slower). A
        database that cannot be reached then fails the query itself, with its own error."""
        try:
            return await self.cache.generation()
        except CacheUnavailable as exc:
            if exc.failed:
                return None
            raise

    async def _tables(self) -> dict[str, str] | None:
        generation = await self._generation()
        return generation.tables if generation is not None else None

    async def _sql(self, template: str, **identifiers: str) -> str:
        return q.render(template, self.db, await self._tables(), **identifiers)

    async def summary(self, request: web.Request) -> web.Response:
        generation = await self._generation()
        rows = await self.pool.rows(q.render(q.SUMMARY, self.db, generation.tables if generation else None))
        if generation is None:  # read live: as of now
            return reply({**(rows[0] if rows else {}), "as_of": dt.datetime.now(dt.UTC), "cache_build_seconds": None})
        return reply({**(rows[0] if rows else {}), "as_of": generation.as_of,
                      "cache_build_seconds": round(generation.build_seconds, 3)})

    async def topics(self, request: web.Request) -> web.Response:
        granularity = request.query.get("granularity", "day")
        if granularity not in q.GRANULARITIES:
            raise BadRequest("granularity must be day or week")
        measure = request.query.get("measure", "chars")
        if measure not in q.TOPIC_MEASURES:
            raise BadRequest(f"measure must be one of {', '.join(q.TOPIC_MEASURES)}")
        series, col = q.GRANULARITIES[granularity]
        dates = date_range(request)
        sql = await self._sql(q.TOPIC_SERIES, series=series, col=col, measure=q.TOPIC_MEASURES[measure])
        rows = await self.pool.rows(sql, dates)
        periods = sorted({jsonable(row["period"]) for row in rows})
        topics = sorted({row["topic"] for row in rows}, key=_topic_order)
        totals: dict[str, int] = {}
        for row in rows:
            key = jsonable(row["period"])
            totals[key] = totals.get(key, 0) + int(row["value"])
        counts = {(jsonable(row["period"]), row["topic"]): int(row["value"]) for row in rows}
        series = []
        for topic in topics:
            values = [counts.get((period, topic), 0) for period in periods]
            series.append({
                "topic": topic,
                "values": values,
                "share": [round(v / totals[p], 4) if totals[p] else 0 for v, p in zip(values, periods, strict=True)],
            })
            if measure == "documents":
                series[-1]["documents"] = values
        return reply({"granularity": granularity, "measure": measure, "periods": periods, "series": series})

    async def facets(self, request: web.Request) -> web.Response:
        topic = _text(request, "topic")
        dates = date_range(request)
        tables = await self._tables()
        template = q.FACETS if _filters_set(dates) or tables is None else q.FACETS_ALL
        groups = await self.pool.rows(q.render(template, self.db, tables), dates)
        return reply(facet_lists(groups, topic))

    async def _default_metric(self, params: dict[str, Any]) -> bool:
        """Totals only make sense for one metric in one unit: default to the one with most facts.
        False when there is none."""
        if params["metric"] and params["unit"]:
            return True
        dates = {"date_from": params["date_from"], "date_to": params["date_to"]}
        tables = await self._tables()
        template = q.METRIC_CHOICES if _filters_set(dates) or tables is None else q.METRIC_CHOICES_ALL
        choices = await self.pool.rows(q.render(template, self.db, tables), {"topic": params["topic"], **dates})
        if not choices:
            return False
        params["metric"], params["unit"] = choices[0]["metric"], choices[0]["unit"]
        return True

    async def _series(self, request: web.Request, template: str, name: str) -> web.Response:
        params = fact_filters(request)
        as_csv = _wants_csv(request)
        data: dict[str, Any] = {"metric": None, "unit": None, "labels": [], "total": [], "facts": [], "mentions": [],
                                "latest": []}
        if await self._default_metric(params):
            rows = await self.pool.rows(await self._sql(template), params)
            data = {"metric": params["metric"], "unit": params["unit"], **{
                key: [row[column] for row in rows]
                for key, column in (("labels", "label"), ("total", "total"), ("facts", "facts"),
                                    ("mentions", "mentions"), ("latest", "latest"))}}
        if as_csv:
            return csv_reply(name, SERIES_COLUMNS, series_rows(data))
        return reply(data)

    async def by_region(self, request: web.Request) -> web.Response:
        return await self._series(request, q.BY_REGION, "by_region")

    async def by_year(self, request: web.Request) -> web.Response:
        return await self._series(request, q.BY_YEAR, "by_year")

    async def map_totals(self, request: web.Request) -> web.Response:
        level = request.query.get("level", "province")
        if level not in q.DIVISIONS:
            raise BadRequest("level must be province or prefecture")
        params = fact_filters(request)
        as_csv = _wants_csv(request)
        rows: list[dict[str, Any]] = []
        if await self._default_metric(params):
            sql = await self._sql(q.MAP_TOTALS, division=q.DIVISIONS[level], scope=q.DIVISION_SCOPE[level])
            rows = await self.pool.rows(sql, params)
        names = division_names(level)
        for row in rows:
            row["name"] = names.get(row["code"], "")
            row["metric"], row["unit"] = params["metric"], params["unit"]
        if as_csv:
            return csv_reply(f"map_{level}", MAP_COLUMNS, rows)
        return reply({"level": level, "metric": params["metric"] or None, "unit": params["unit"] or None,
                      "divisions": [{k: row[k] for k in MAP_COLUMNS if k not in ("metric", "unit")} for row in rows]})

    async def metric_rows(self, request: web.Request) -> web.Response:
        params = metric_filters(request)
        sort, order = _sort_order(request, q.SORT_COLUMNS, "value")
        as_csv = _wants_csv(request)
        page = _page(request, 50)
        tables = await self._tables()
        sql = q.render(q.METRIC_ROWS, self.db, tables, sort=q.SORT_COLUMNS[sort], direction=order.upper())
        rows, count = await asyncio.gather(
            self.pool.rows(sql, {**params, **page}),
            self.pool.rows(q.render(q.METRIC_COUNT, self.db, tables), params) if _filters_set(params)
            else self.pool.rows(q.render(q.METRIC_COUNT_ALL, self.db, tables)),
        )
        ids = sorted({row["doc_id"] for row in rows})
        titles = {}
        if ids:
            titles = {r["doc_id"]: r["title"]
                      for r in await self.pool.rows(q.render(q.TITLES, self.db, tables), {"ids": ids})}
        for row in rows:
            row["title"] = titles.get(row["doc_id"], "")
        if as_csv:
            return csv_reply("metrics", METRIC_COLUMNS, rows)
        total = int(next(iter(count[0].values())) or 0) if count else 0
        return reply({"total": total, **page, "sort": sort, "order": order, "rows": rows})

    async def facts(self, request: web.Request) -> web.Response:
        params = fact_filters(request)
        sort, order = _sort_order(request, q.FACT_SORT_COLUMNS, "mentions")
        as_csv = _wants_csv(request)
        page = _page(request, 50)
        tables = await self._tables()
        sql = q.render(q.FACT_ROWS, self.db, tables, sort=q.FACT_SORT_COLUMNS[sort], direction=order.upper())
        if as_csv:
            return csv_reply("facts", FACT_COLUMNS, await self.pool.rows(sql, {**params, **page}))
        rows, count = await asyncio.gather(
            self.pool.rows(sql, {**params, **page}), self.pool.rows(q.render(q.FACT_COUNT, self.db, tables), params))
        total = int(next(iter(count[0].values())) or 0) if count else 0
        return reply({"total": total, **page, "sort": sort, "order": order, "rows": rows})

    async def fact_mentions(self, request: web.Request) -> web.Response:
        fact_id = request.match_info.get("fact_id") or request.query.get("fact_id", "")
        if not fact_id or len(fact_id) > 64 or not all(c in "0123456789abcdefABCDEF" for c in fact_id):
            raise BadRequest("fact_id must be a hex id")
        as_csv = _wants_csv(request)
        rows = await self.pool.rows(await self._sql(q.FACT_MENTIONS), {"fact_id": fact_id.lower()})
        if as_csv:
            return csv_reply("fact_mentions", MENTION_COLUMNS, [{"fact_id": fact_id.lower(), **r} for r in rows])
        return reply({"fact_id": fact_id.lower(), "mentions": rows})

    async def flags(self, request: web.Request) -> web.Response:
        params = {"rule": _text(request, "rule"), **date_range(request)}
        as_csv = _wants_csv(request)
        page = _page(request, 50)
        tables = await self._tables()
        sql = q.render(q.FLAG_ROWS, self.db, tables)
        if as_csv:
            rows = await self.pool.rows(sql, {**params, **page})
            return csv_reply("flags", FLAG_COLUMNS, rows)
        dates = {"date_from": params["date_from"], "date_to": params["date_to"]}
        rows, counts, rules = await asyncio.gather(
            self.pool.rows(sql, {**params, **page}),
            self.pool.rows(q.render(q.FLAG_COUNTS, self.db, tables), dates),
            self.pool.rows(q.render(q.FLAG_RULES, self.db)),
        )
        flagged = {row["flag"]: int(row["flagged"]) for row in counts}
        total = flagged.get(params["rule"], 0) if params["rule"] else sum(flagged.values())
        listed = [{**rule, "flagged": flagged.get(rule["rule"], 0)} for rule in rules]
        known = {rule["rule"] for rule in rules}
        listed += [{"rule": flag, "scope": "", "explanation": "", "flagged": n} for flag, n in flagged.items()
                   if flag not in known]
        listed.sort(key=lambda rule: (-rule["flagged"], rule["rule"]))
        return reply({"total": total, **page, "rule": params["rule"], "rules": listed, "rows": rows})

    async def documents(self, request: web.Request) -> web.Response:
        limit = _int(request, "limit", 200, 1, 1000)
        return reply({"documents": await self.pool.rows(await self._sql(q.DOCUMENT_LIST), {"limit": limit})})

    async def document(self, request: web.Request) -> web.Response:
        # ?doc_id= takes any id (braces, slashes); the path form cannot carry those
        doc_id = request.match_info.get("doc_id") or request.query.get("doc_id", "")
        if not doc_id or len(doc_id) > 200:
            raise BadRequest("bad document id")
        docs = await self.pool.rows(q.render(q.DOCUMENT, self.db), {"doc_id": doc_id})
        if not docs:
            return reply({"error": f"no document {doc_id}"}, status=404)
        doc = docs[0]
        text = doc.pop("text")
        run, expected = doc.pop("processed_at"), int(doc.pop("metric_count"))
        # the spans of this run from the cache; read live when the cache holds another run
        spans = await self.pool.rows(await self._sql(q.DOCUMENT_SPANS_CACHED), {"doc_id": doc_id, "processed_at": run})
        if len(spans) != expected:
            spans = await self.pool.rows(q.render(q.DOCUMENT_SPANS, self.db), {"doc_id": doc_id})
        return reply({"doc": doc, "spans": spans, "segments": highlight_segments(text, spans)})

    async def subjects(self, request: web.Request) -> web.Response:
        as_csv = _wants_csv(request)
        limit = _int(request, "limit", 20, 1, MAX_CSV_ROWS if as_csv else 200)
        dates = date_range(request)
        if _filters_set(dates):
            rows = await self.pool.rows(await self._sql(q.SUBJECTS_DATED), {"limit": limit, **dates})
        else:
            rows = await self.pool.rows(await self._sql(q.SUBJECTS), {"limit": limit})
        if as_csv:
            return csv_reply("subjects", SUBJECT_COLUMNS, rows)
        return reply({"subjects": rows})

    async def dlq(self, request: web.Request) -> web.Response:
        params = date_range(request)
        rows = await self.pool.rows(q.render(q.DLQ_SERIES, self.db), params)
        days = sorted({jsonable(row["day"]) for row in rows})
        kinds = sorted({row["kind"] for row in rows})
        counts = {(jsonable(row["day"]), row["kind"]): int(row["messages"]) for row in rows}
        return reply({"days": days, "series": [
            {"kind": kind, "messages": [counts.get((day, kind), 0) for day in days]} for kind in kinds
        ]})


_TOPIC_RANK = {"产业": 0, "健康": 1, "教育": 2, "就业": 3, "other": 9}
#: The vendored GeoJSON of each map level (static/vendor, see its README.txt).
MAP_FILES = {"province": "china-province.json", "prefecture": "china-prefecture.json"}
_NAMES: dict[str, dict[str, str]] = {}


def division_names(level: str) -> dict[str, str]:
    """Division code → name of the vendored GeoJSON of ``level`` (read once)."""
    if level not in _NAMES:
        import json

        data = json.loads((STATIC_DIR / "vendor" / MAP_FILES[level]).read_text(encoding="utf-8"))
        _NAMES[level] = {str(f["properties"]["adcode"]): f["properties"]["name"] for f in data["features"]}
    return _NAMES[level]


def _topic_order(topic: str) -> tuple[int, str]:
    return _TOPIC_RANK.get(topic, 5), topic


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except BadRequest as exc:
        return reply({"error": str(exc)}, status=400)
    except CacheUnavailable as exc:
        # the database is unreachable (502, as any failed query) or the first copy is being built (503)
        return reply({"error": f"the dashboard's data is not ready: {exc}"}, status=502 if exc.failed else 503)
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
    cache = CacheRefresher(db, lambda: make_client(settings, send_receive_timeout=3600),
                           refresh_seconds=settings.dashboard_refresh_seconds)
    api = Api(db, pool, cache)
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
    app.router.add_get("/api/map", api.map_totals)
    app.router.add_get("/api/facts", api.facts)
    app.router.add_get("/api/facts/mentions", api.fact_mentions)
    app.router.add_get("/api/facts/{fact_id}/mentions", api.fact_mentions)
    app.router.add_get("/api/flags", api.flags)
    app.router.add_get("/api/documents", api.documents)
    app.router.add_get("/api/documents/{doc_id}", api.document)
    app.router.add_get("/api/document", api.document)
    app.router.add_get("/api/subjects", api.subjects)
    app.router.add_get("/api/dlq", api.dlq)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)

    async def _start_cache(_app: web.Application) -> None:
        _app[CACHE_TASK_KEY] = asyncio.create_task(cache.run(), name="dashboard-cache")

    async def _close(_app: web.Application) -> None:
        task = _app.get(CACHE_TASK_KEY)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(cache.close)
        await asyncio.to_thread(pool.close)

    app.on_startup.append(_start_cache)
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
