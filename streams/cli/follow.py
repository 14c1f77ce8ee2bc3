"""``newsetl follow SOURCES.yaml [--once]``, ``newsetl ingest-server`` and the followers' part of
``newsetl status``: thin shells over ``streams.ingest.follow`` and ``streams.ingest.door``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from streams.ingest.door import serve_door
from streams.ingest.follow import Follower, PollReport, read_statuses
from streams.ingest.sources import load_sources
from streams.observability import serve_metrics
from streams.settings import Settings
from streams.stream.topics import ensure_topics


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def summary_table(reports: list[PollReport]) -> Table:
    """Per source: fetched, new, updated, skipped, failed (and a total row)."""
    table = Table("source", "fetched", "new", "updated", "skipped", "failed", "note")
    total = PollReport("total")
    for report in reports:
        total.add(report)
        table.add_row(report.source, *(str(getattr(report, k)) for k in ("fetched", "new", "updated", "skipped", "failed")),
                      f"[red]{report.error}[/]" if report.error else "")
    if len(reports) > 1:
        table.add_row("[bold]total[/]", *(str(getattr(total, k)) for k in ("fetched", "new", "updated", "skipped", "failed")), "")
    return table


def follow(sources: Path, once: bool, settings: Settings, console: Console) -> int:
    """Run the follower; the exit code (1 when ``--once`` found a source it could not read)."""
    chosen = load_sources(sources)
    name = sources.stem
    # Kafka unreachable at start is a mistake to report (one line, via the CLI's KafkaError
    # handler); once running, an outage is waited out.
    asyncio.run(ensure_topics(settings))
    if once:
        async def run_once() -> list[PollReport]:
            async with Follower(chosen, settings, name=name) as follower:
                return await follower.run_once()

        with console.status(f"polling {len(chosen)} source(s) once…"):
            reports = asyncio.run(run_once())
        console.print(summary_table(reports))
        for report in reports:
            for failure in report.failures:
                console.print(f"  [yellow]failed[/] {failure}", highlight=False, soft_wrap=True)
        return 1 if any(r.error for r in reports) else 0

    serve_metrics(settings.follow_metrics_port)

    def line(report: PollReport) -> None:
        console.print(f"{datetime.now().astimezone():%H:%M:%S} {report.line()}", highlight=False, soft_wrap=True)

    async def run_forever() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        async with Follower(chosen, settings, name=name, on_poll=line) as follower:
            console.print(f"following {len(chosen)} source(s) from {sources}; Ctrl-C to stop", highlight=False)
            await follower.run_forever(stop)

    asyncio.run(run_forever())
    return 0


def ingest_server(settings: Settings, host: str, port: int, console: Console) -> None:
    """Serve ``POST /documents`` until Ctrl-C / SIGTERM."""
    async def run() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        started = asyncio.Event()
        task = asyncio.create_task(serve_door(settings, host, port, stop, started))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiter.cancel()
            await task  # raises why it could not start (port taken, Kafka unreachable)
            return
        auth = " (bearer token required)" if settings.door_token.get_secret_value() else ""
        console.print(f"ingest server on http://{host}:{port}/documents{auth}; Ctrl-C to stop", highlight=False)
        await task

    asyncio.run(run())


def follow_status_table(settings: Settings, stale_after: float = 3600.0) -> tuple[Table | None, bool]:
    """The followers' sources as ``newsetl status`` shows them (from the status files under
    ``<data_dir>/follow/``: last poll, health, counts of that poll; a follower that is not running
    shows as stopped), and whether every source's last poll could read it (None: no follower ever
    ran with this data directory)."""
    statuses = read_statuses(settings)
    if not statuses:
        return None, True
    table = Table("follower", "source", "last poll", "health", "new", "updated", "failed")
    healthy = True
    now = time.time()
    for follower, status in statuses.items():
        pid = status.get("pid")
        running = isinstance(pid, int) and _alive(pid)
        follower_cell = f"{follower} (pid {pid})" if running else f"{follower} (stopped)"
        sources = status.get("sources")
        for source, info in (sources.items() if isinstance(sources, dict) else []):
            last = float(info.get("last_poll") or 0)
            ok = bool(info.get("ok"))
            healthy = healthy and ok
            when = datetime.fromtimestamp(last).astimezone().strftime("%Y-%m-%d %H:%M:%S") if last else "-"
            stale = " (stale)" if now - last > stale_after else ""
            health = "[green]ok[/]" if ok else f"[red]{info.get('error') or 'failing'}[/]"
            table.add_row(follower_cell, source, when + stale, health,
                          *(str(info.get(k, 0)) for k in ("new", "updated", "failed")))
    return table, healthy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
