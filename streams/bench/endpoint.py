"""Benchmark of the ClickHouse endpoint itself (``newsetl bench endpoint``; needs ``newsetl up``).

One run measures, against the configured ClickHouse URL:

- ``SELECT 1`` round trips (p50 / p90, milliseconds) through clickhouse-connect, the client the
  dashboard and the sink use, and through a bare :mod:`http.client` keep-alive connection, which
  shows what the endpoint costs without the client library;
- ``SELECT sum(number) FROM numbers(10000000)`` through the endpoint and through chdb in-process,
  and their ratio. The in-process side runs in a child process on a temporary data path: chdb
  hosts one engine per process, and the process running this benchmark may already host one (the
  test suite's endpoint, or a future in-process caller); a child with its own path can never
  collide with it. The child times its own queries, so its start-up is not counted;
- a large result, 1,000,000 rows of three columns read with ``query_np`` (Native) and
  ``query_arrow`` (Arrow), in rows per second;
- every dashboard query on 1,000,000 generated metric rows (:func:`streams.bench.dashboard.bench_dashboard`),
  p50 per query.

:func:`bench_endpoint` returns a flat ``{name: number}``; ``newsetl bench endpoint`` prints it.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable

from streams.bench.dashboard import bench_dashboard
from streams.settings import Settings
from streams.store.clickhouse import make_client

SUM_SQL = "SELECT sum(number) FROM numbers(10000000)"
LARGE_ROWS = 1_000_000
LARGE_SQL = (f"SELECT number, number / 3 AS ratio, toUInt32(number % 1000) AS bucket "
             f"FROM numbers({LARGE_ROWS})")

# Run by the child process: argv = data path, SQL, repetitions; prints the seconds as JSON.
_IN_PROCESS = """
import json, sys, time
from chdb import session
path, sql, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = session.Session(path)
conn.query(sql, "TabSeparated")
timings = []
for _ in range(runs):
    started = time.perf_counter()
    conn.query(sql, "TabSeparated")
    timings.append(time.perf_counter() - started)
conn.close()
print(json.dumps(timings))
"""


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``samples``, nearest-rank on the sorted values."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(run: Callable[[], object], count: int, warmup: int = 3) -> list[float]:
    """Seconds of ``count`` calls of ``run`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return timings


def _ms(prefix: str, timings: list[float]) -> dict[str, float]:
    return {f"{prefix}:p50_ms": round(percentile(timings, 0.5) * 1000, 3),
            f"{prefix}:p90_ms": round(percentile(timings, 0.9) * 1000, 3)}


def http_keepalive_select1(settings: Settings, count: int) -> list[float]:
    """``SELECT 1`` over one keep-alive :class:`http.client.HTTPConnection`, seconds per request."""
    host, port = settings.clickhouse_host_port
    user = settings.clickhouse_user
    password = settings.clickhouse_password.get_secret_value()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Connection": "keep-alive"}
    path = "/?" + urllib.parse.urlencode({"query": "SELECT 1"})
    connection = http.client.HTTPConnection(host, port, timeout=30)

    def one() -> None:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or body.strip() != b"1":
            raise RuntimeError(f"SELECT 1 answered {response.status}: {body[:200]!r}")

    try:
        return timed(one, count)
    finally:
        connection.close()


def in_process_seconds(sql: str, runs: int, data_path: str) -> list[float]:
    """Seconds per run of ``sql`` on chdb in a child process using ``data_path``."""
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, data_path, sql, str(runs)],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"in-process chdb failed: {done.stderr.strip()[-2000:]}")
    return [float(x) for x in json.loads(done.stdout.strip().splitlines()[-1])]


def bench_endpoint(settings: Settings, *, rows: int = 1_000_000, select1_count: int = 300,
                   sum_runs: int = 15, large_runs: int = 3, dashboard_runs: int = 7,
                   on_progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """Measure the endpoint (see the module docstring). ``rows`` = 0 skips the dashboard part."""
    import tempfile

    say = on_progress or (lambda _msg: None)
    results: dict[str, float] = {}
    client = make_client(settings, send_receive_timeout=600)
    try:
        say("SELECT 1 through clickhouse-connect")
        results.update(_ms("select1:clickhouse_connect", timed(lambda: client.query("SELECT 1"), select1_count)))
        say("SELECT 1 through http.client keep-alive")
        results.update(_ms("select1:http_keepalive", http_keepalive_select1(settings, select1_count)))

        say("sum over numbers(1e7) through the endpoint")
        endpoint = timed(lambda: client.query(SUM_SQL), sum_runs, warmup=1)
        say("sum over numbers(1e7) in-process (child process)")
        with tempfile.TemporaryDirectory(prefix="newsetl-bench-chdb-") as path:
            local = in_process_seconds(SUM_SQL, sum_runs, path)
        results.update(_ms("sum_1e7:endpoint", endpoint))
        results.update(_ms("sum_1e7:in_process", local))
        results["sum_1e7:ratio_p50"] = round(percentile(endpoint, 0.5) / percentile(local, 0.5), 3)

        say(f"{LARGE_ROWS:,} rows through query_np and query_arrow")
        for name, run in (("query_np", lambda: client.query_np(LARGE_SQL)),
                          ("query_arrow", lambda: client.query_arrow(LARGE_SQL))):
            seconds = statistics.median(timed(run, large_runs, warmup=1))
            results[f"large_result:{name}:seconds"] = round(seconds, 4)
            results[f"large_result:{name}:rows_per_s"] = round(LARGE_ROWS / seconds)
    finally:
        client.close()

    if rows:
        dashboard = bench_dashboard(settings, rows, runs=dashboard_runs, on_progress=on_progress)
        for name, seconds in dashboard.items():
            if name.startswith("fill:"):
                results[name] = round(seconds, 3)
            else:
                results[f"dashboard:{name}:p50_ms"] = round(seconds * 1000, 3)
    return results
