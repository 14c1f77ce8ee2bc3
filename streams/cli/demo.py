"""``newsetl demo``: the main job end to end on the embedded stack.

Brings Kafka and ClickHouse up, produces ``seeds/``, starts a background worker, waits (with a
progress bar) until every seed is in ClickHouse, then prints a summary from ClickHouse. The stack
and the worker keep running until ``newsetl down``. Running it twice leaves the same rows.
"""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.cli.supervise import start_background
from streams.errors import UserError
from streams.ingest.producer import produce
from streams.local.services import up as services_up
from streams.retry import Backoff, PollTimeout, poll_until
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
from streams.stream.topics import ensure_topics


class DemoError(UserError):
    pass


def wait_for_documents(settings: Settings, doc_ids: list[str], timeout: float, console: Console) -> float:
    """Poll documents_latest until every doc_id is there; returns the seconds it took."""
    with make_client(settings, database=settings.clickhouse_database) as client:
        return _poll_documents(client, settings, doc_ids, timeout, console)


def _poll_documents(client: Client, settings: Settings, doc_ids: list[str], timeout: float, console: Console) -> float:
    wanted = sorted(set(doc_ids))
    found = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("waiting for ClickHouse", total=len(wanted))

        def all_there() -> bool:
            nonlocal found
            found = client.query(
                "SELECT count() FROM documents_latest WHERE doc_id IN {ids:Array(String)}", parameters={"ids": wanted},
            ).result_rows[0][0]
            progress.update(task, completed=found)
            return found >= len(wanted)

        try:
            return poll_until(all_there, timeout, "the seed documents", backoff=Backoff(start=0.5, cap=0.5))
        except PollTimeout:
            raise DemoError(f"only {found} of {len(wanted)} documents reached ClickHouse within {timeout:.0f}s;"
                            f" see {settings.data_dir / 'logs' / 'worker.log'}") from None


def wait_for_url(url: str, timeout: float) -> None:
    """Poll until ``url`` answers 200 (the background dashboard has started)."""

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        poll_until(answers, timeout, url, backoff=Backoff(start=0.2, cap=0.2))
    except PollTimeout:
        raise DemoError(f"the dashboard did not answer at {url}") from None


def print_summary(settings: Settings, console: Console) -> None:
    with make_client(settings, database=settings.clickhouse_database) as client:
        _print_summary(client, settings, console)


def _print_summary(client: Client, settings: Settings, console: Console) -> None:
    total = client.query("SELECT count(), sum(metric_count) FROM documents_latest").result_rows[0]
    console.print(f"\n[bold]{total[0]} documents, {total[1]} metrics in ClickHouse[/] (database {settings.clickhouse_database})")

    para = dict(client.query(
        "SELECT t, count() FROM paragraphs_latest ARRAY JOIN topics AS t GROUP BY t").result_rows)
    topics = Table("topic", "documents", "paragraphs", title="Documents per topic")
    for t, docs in client.query(
        "SELECT t, count() FROM documents_latest ARRAY JOIN topics AS t GROUP BY t ORDER BY 2 DESC, 1"
    ).result_rows:
        topics.add_row(t, str(docs), str(para.get(t, 0)))
    console.print(topics)

    metrics = Table("region", "year", "metric", "unit", "rows", "total", title="Top metrics by region and year")
    for region, year, metric, unit, rows, value in client.query(
        "SELECT region, year, metric, unit, count() AS n, sum(value) FROM metrics_latest "
        "GROUP BY region, year, metric, unit ORDER BY n DESC, region, metric LIMIT 12"
    ).result_rows:
        metrics.add_row(region or "-", str(year or "-"), metric, unit, str(rows), f"{value:,.2f}")
    console.print(metrics)

    dlq = client.query("SELECT error, count() FROM dlq FINAL GROUP BY error ORDER BY 2 DESC").result_rows
    console.print(f"DLQ records: {sum(n for _, n in dlq)}" + (" (" + ", ".join(f"{k}: {n}" for k, n in dlq) + ")" if dlq else ""))
    console.print(
        "\nQuery further, e.g.:\n"
        "  newsetl query \"SELECT metric, unit, sum(value) FROM metrics_latest GROUP BY metric, unit ORDER BY 3 DESC\"\n"
        f"  curl '{settings.clickhouse_url}/?query=SELECT+count()+FROM+{settings.clickhouse_database}.metrics_latest'\n"
        "The stack, the worker and the dashboard keep running; stop them with `newsetl down`."
    )


def run_demo(settings: Settings, console: Console, *, timeout: float = 600.0, seeds: Path = Path("seeds")) -> None:
    if not seeds.is_dir():
        raise DemoError(f"{seeds}/ not found: run the demo from the project root")
    with console.status("starting Kafka and ClickHouse (the first run downloads the Kafka jars)…"):
        statuses = services_up(settings)
    for status in statuses:
        console.print(f"{status.name}: {status.address} {'healthy' if status.healthy else 'DOWN'}")
    if not all(status.healthy for status in statuses):
        raise DemoError("the local stack is not healthy; see `newsetl status`")
    apply_migrations(settings)
    asyncio.run(ensure_topics(settings))
    summary = produce([str(seeds)], settings, console=console)
    console.print(f"produced {summary.sent} seed article(s) to {settings.raw_topic}")
    pid = start_background(settings, "worker")
    console.print(f"worker running (pid {pid}, log {settings.data_dir / 'logs' / 'worker.log'})")
    seconds = wait_for_documents(settings, summary.doc_ids, timeout, console)
    console.print(f"all {len(set(summary.doc_ids))} seed documents visible in ClickHouse after {seconds:.1f}s")
    print_summary(settings, console)
    dashboard_pid = start_background(settings, "dashboard")
    url = f"http://127.0.0.1:{settings.dashboard_port}/"
    wait_for_url(url, timeout=30)
    console.print(f"\n[bold]Dashboard:[/] {url} (pid {dashboard_pid}; stopped by `newsetl down`)")
