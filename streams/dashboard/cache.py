"""The dashboard's read cache: the views it charts, copied into plain tables, one generation at a time.

The views (``facts_latest``, ``fact_mentions``, ``flagged_metrics``, ``metrics_latest``, the
``dash_*`` series) stay exact for every SQL client, but at a million metric rows they cost seconds
a query: ``FINAL``, the newest-run filter and the near-duplicate joins run at every read. The
dashboard instead reads a *generation*: each view selected once into a ``MergeTree`` table sorted
for the dashboard's filters (``facts`` by metric and unit, ``metrics`` by document), plus facet
totals pre-aggregated from the facts. A generation is a consistent snapshot of the database at its
``as_of`` time; queries against it take milliseconds.

:class:`CacheRefresher` keeps one current: every ``refresh_seconds`` it reads :func:`data_version`
(row counts and the newest run, metadata reads of a few milliseconds) and builds a new generation
when anything changed (or ``max_age_seconds`` passed), then switches to it and drops the one
before after a grace period. Between two builds it waits at least as long as the last build took,
so the cache never uses more than about half of the engine's time. The dashboard shows ``as_of``.

Tables are named ``dash_cache_<instance>_<generation>_<key>``, in a database of their own
(:func:`cache_database`: ``<database>_dashboard_cache``), so that analysts' tools listing the
database see only its tables and views; an instance (one dashboard process) drops its own
generations on stop, and any other instance's left older than :data:`ORPHAN_MINUTES` at start
(a process that was killed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.dashboard.queries import CACHE_TABLE_NAME, LIVE_DAYS

log = logging.getLogger("newsetl.dashboard")

ORPHAN_MINUTES = 10
#: A cache table's name inside the cache database (the queries accept it qualified by that database).
TABLE_NAME = re.compile(f"^{CACHE_TABLE_NAME}$")


@dataclass(frozen=True, slots=True)
class CacheTable:
    """One table of a generation: ``select`` may read earlier tables of the same generation by key."""

    key: str
    select: str
    order_by: str


#: In build order. ``{db}`` is the database, ``{<key>}`` an earlier (qualified) table of the generation.
TABLES: tuple[CacheTable, ...] = (
    CacheTable("facts", "SELECT *, " + LIVE_DAYS["fact_day"] + " AS day FROM {db}.facts_latest",
               "(metric, unit, fact_id)"),
    CacheTable(
        "facet_totals",
        "SELECT topic, region, ref_year, metric, unit, count() AS facts, sum(mentions) AS mentions "
        "FROM {facts} GROUP BY topic, region, ref_year, metric, unit",
        "(metric, unit)",
    ),
    CacheTable("mentions", "SELECT * FROM {db}.fact_mentions", "(fact_id)"),
    CacheTable("flagged", "SELECT *, " + LIVE_DAYS["row_day"] + " AS day FROM {db}.flagged_metrics",
               "(flag, doc_id, char_start)"),
    CacheTable("metrics", "SELECT *, " + LIVE_DAYS["row_day"] + " AS day FROM {db}.metrics_latest",
               "(doc_id, char_start, char_end)"),
    CacheTable(
        "documents",
        "SELECT doc_id, title, published_at, ingested_at, topics, metric_count, processed_at "
        "FROM {db}.documents_latest",
        "(doc_id)",
    ),
    CacheTable("topic_shares_daily", "SELECT * FROM {db}.dash_topic_shares_daily", "(day)"),
    CacheTable("topic_shares_weekly", "SELECT * FROM {db}.dash_topic_shares_weekly", "(week)"),
    CacheTable("top_subjects", "SELECT * FROM {db}.dash_top_subjects", "tuple()"),
    CacheTable("documents_daily", "SELECT * FROM {db}.dash_documents_daily", "tuple()"),
)

#: What a generation is a snapshot of: rows in every table the views read and the newest run.
VERSION_SQL = """
SELECT
    (SELECT count() FROM {db}.documents) AS documents,
    (SELECT max(processed_at) FROM {db}.documents) AS newest_run,
    (SELECT count() FROM {db}.paragraphs) AS paragraphs,
    (SELECT count() FROM {db}.metrics) AS metrics,
    (SELECT count() FROM {db}.flag_rules) AS flag_rules
"""


@dataclass(frozen=True, slots=True)
class Generation:
    """A built generation: its tables by key, what it is a snapshot of, when, and how long it took."""

    number: int
    tables: dict[str, str]
    version: tuple[Any, ...]
    as_of: dt.datetime
    build_seconds: float


def data_version(client: Client, db: str) -> tuple[Any, ...]:
    """The row counts and the newest run that a generation is a snapshot of."""
    return tuple(client.query(VERSION_SQL.replace("{db}", db)).result_rows[0])


def cache_database(db: str) -> str:
    """The database of ``db``'s dashboard cache."""
    return f"{db}_dashboard_cache"


def table_names(db: str, instance: str, number: int) -> dict[str, str]:
    """Key → qualified name of the tables of generation ``number`` of ``instance``."""
    return {table.key: f"{cache_database(db)}.dash_cache_{instance}_{number}_{table.key}" for table in TABLES}


def build_generation(client: Client, db: str, instance: str, number: int) -> Generation:
    """Copy every view of :data:`TABLES` into the tables of generation ``number``; on any error the
    tables made so far are dropped and the error raised."""
    started = time.perf_counter()
    as_of = dt.datetime.now(dt.UTC)
    version = data_version(client, db)
    names = table_names(db, instance, number)
    client.command(f"CREATE DATABASE IF NOT EXISTS {cache_database(db)}")
    made: list[str] = []
    try:
        for table in TABLES:
            select = table.select.replace("{db}", db)
            for key, name in names.items():
                select = select.replace("{" + key + "}", name)
            client.command(f"DROP TABLE IF EXISTS {names[table.key]}")
            made.append(names[table.key])
            client.command(f"CREATE TABLE {names[table.key]} ENGINE = MergeTree ORDER BY {table.order_by} AS {select}")
    except Exception:
        drop_tables(client, made)
        raise
    return Generation(number, names, version, as_of, time.perf_counter() - started)


def drop_tables(client: Client, names: list[str]) -> None:
    """Drop the (qualified) tables ``names``."""
    for name in names:
        client.command(f"DROP TABLE IF EXISTS {name} SYNC")


def drop_orphans(client: Client, db: str, instance: str, older_than_minutes: int = ORPHAN_MINUTES) -> int:
    """Drop other instances' cache tables older than ``older_than_minutes``; returns how many."""
    cache_db = cache_database(db)
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND startsWith(name, 'dash_cache_') "
        "AND NOT startsWith(name, {mine:String}) "
        "AND metadata_modification_time < now() - toIntervalMinute({minutes:UInt32})",
        parameters={"db": cache_db, "mine": f"dash_cache_{instance}_", "minutes": older_than_minutes},
    ).result_rows
    names = [f"{cache_db}.{row[0]}" for row in rows if TABLE_NAME.match(row[0])]
    drop_tables(client, names)
    return len(names)


class CacheUnavailable(RuntimeError):
    """No generation could be built yet: ``failed`` when an attempt failed (the message says why),
    else the first one is still being built."""

    def __init__(self, message: str, failed: bool) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass
class CacheRefresher:
    """Keeps a current generation for one dashboard process (see the module doc).

    ``client_factory`` makes the refresher's own client (used from one worker thread at a time).
    """

    db: str
    client_factory: Callable[[], Client]
    refresh_seconds: float = 2.0
    max_age_seconds: float = 300.0
    grace_seconds: float = 30.0
    instance: str = field(default_factory=lambda: secrets.token_hex(4))
    current: Generation | None = None
    error: str | None = None
    _number: int = 0
    _client: Client | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _retired: list[tuple[float, Generation]] = field(default_factory=list)
    _attempted: asyncio.Event | None = None

    def _connected(self) -> Client:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def refresh_once(self) -> Generation | None:
        """Build a new generation if the data changed; returns it, else None.
        Runs in a worker thread; one build at a time."""
        with self._lock:
            client = self._connected()
            current = self.current
            if current is None:
                drop_orphans(client, self.db, self.instance)
            stale = current is None or (
                dt.datetime.now(dt.UTC) - current.as_of).total_seconds() >= self.max_age_seconds
            if not stale and data_version(client, self.db) == current.version:  # type: ignore[union-attr]
                self._drop_retired(client)
                return None
            self._number += 1
            generation = build_generation(client, self.db, self.instance, self._number)
            self.current, self.error = generation, None
            if current is not None:
                self._retired.append((time.monotonic(), current))
            self._drop_retired(client)
            log.info("dashboard cache generation %d built in %.2f s", generation.number, generation.build_seconds)
            return generation

    def _drop_retired(self, client: Client, everything: bool = False) -> None:
        keep = []
        for retired_at, generation in self._retired:
            if everything or time.monotonic() - retired_at >= self.grace_seconds:
                drop_tables(client, list(generation.tables.values()))
            else:
                keep.append((retired_at, generation))
        self._retired = keep

    async def run(self) -> None:
        """Refresh until cancelled (the dashboard app starts this on startup)."""
        self._attempted = self._attempted or asyncio.Event()
        while True:
            pause = self.refresh_seconds
            try:
                built = await asyncio.to_thread(self.refresh_once)
                if built is not None:
                    pause = max(pause, built.build_seconds)  # at most about half the engine's time
            except Exception as exc:  # noqa: BLE001 - kept for the API's answer, retried
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
                if error != self.error:  # once per distinct error, not at every retry
                    log.warning("dashboard cache not refreshed (retrying every %g s): %s", pause, error)
                self.error = error
            self._attempted.set()
            await asyncio.sleep(pause)

    async def generation(self, timeout: float = 120.0) -> Generation:
        """The current generation; before the first one, waits for the first attempt to build it
        (up to ``timeout``) and raises :class:`CacheUnavailable` if there is still none."""
        if self.current is not None:
            return self.current
        self._attempted = self._attempted or asyncio.Event()
        try:
            await asyncio.wait_for(self._attempted.wait(), timeout)
        except TimeoutError:
            pass
        if self.current is None:
            raise CacheUnavailable(self.error or "the first copy of the data is still being built",
                                   failed=self.error is not None)
        return self.current

    def close(self) -> None:
        """Drop every generation of this instance and close the client (on the app's cleanup)."""
        with self._lock:
            if self._client is None:
                return
            try:
                self._drop_retired(self._client, everything=True)
                if self.current is not None:
                    drop_tables(self._client, list(self.current.tables.values()))
            finally:
                self._retired.clear()
                self.current = None
                self._client.close()
                self._client = None
