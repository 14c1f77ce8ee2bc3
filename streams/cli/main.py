"""The ``newsetl`` command line (typer). Each command is a thin shell over one module.

User mistakes and unreachable services end in one clear line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from schemas.checks import describe_validation_error
from streams.errors import UserError
from streams.settings import Settings, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="newsetl: streaming ETL for Chinese news analytics.")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def choose(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``allowed``; else one line naming the choices, exit 1."""
    if value not in allowed:
        listed = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        raise fail(f"unknown {what} {value!r}: use {listed}")
    return value


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "DB::Exception" not in text else " ".join(text.split())[:600]


#: the hint after "a service does not answer"
_START_IT = "(is it running? see `newsetl status`, start it with `newsetl up`)"


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures (bad input, services down, server errors) into one line + exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from aiokafka.errors import KafkaError
        from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
        from pydantic import ValidationError

        from streams.local import ServiceError
        from streams.pipeline.rulemodels import RulesError

        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except ValidationError as exc:
            raise fail(f"invalid configuration: {describe_validation_error(exc)}") from None
        except (UserError, ServiceError, RulesError) as exc:
            raise fail(str(exc)) from None
        except OperationalError:
            raise fail(f"cannot reach ClickHouse at {get_settings().clickhouse_url} {_START_IT}") from None
        except ClickHouseError as exc:
            raise fail(f"ClickHouse: {_one_line(exc)}") from None
        except KafkaError as exc:
            raise fail(f"Kafka at {get_settings().bootstrap_servers}: {_one_line(exc)} (is it running? try `newsetl up`)") from None
        except (ConnectionError, OSError) as exc:
            raise fail(f"{_one_line(exc)} (are the services running? try `newsetl status`)") from None

    return wrapper


def settings() -> Settings:
    """The settings, or one line naming the NEWSETL_* variable that is wrong (exit 1)."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        where, _, what = describe_validation_error(exc).partition(": ")
        raise fail(f"invalid configuration: NEWSETL_{where.upper()}: {what}") from None


@app.callback()
def _configure() -> None:
    """Quiet, structured logs for every command."""
    from streams.observability import setup_logging

    setup_logging(settings().log_level)


# --- local services -------------------------------------------------------------------------
def _print_statuses(statuses: list[Any]) -> bool:
    from rich.table import Table

    table = Table("service", "address", "version", "health", "pid")
    for status in statuses:
        health = "[green]healthy[/]" if status.healthy else f"[red]{getattr(status, 'detail', '') or 'down'}[/]"
        table.add_row(status.name, status.address, status.version or "-", health, str(status.pid or "-"))
    console.print(table)
    return all(status.healthy for status in statuses)


@app.command()
@friendly
def up(
    brokers: Annotated[int | None, typer.Option(min=1, max=9, help="Kafka nodes to run (default: as the data "
                                                "directory was set up, else NEWSETL_KAFKA_BROKERS, 1)")] = None,
) -> None:
    """Start the local Kafka broker(s) and the ClickHouse endpoint (embedded chdb)."""
    from streams.local.services import up as services_up

    statuses = services_up(settings(), progress=lambda line: console.print(line, highlight=False), brokers=brokers)
    if not _print_statuses(statuses):
        raise fail("a service did not become healthy; see the logs under " + str(settings().data_dir / "logs"))


@app.command()
@friendly
def down() -> None:
    """Stop the local services (and a background demo worker)."""
    from streams.cli.supervise import BACKGROUND_COMMANDS, stop_background
    from streams.local.services import down as services_down

    for name in BACKGROUND_COMMANDS:
        pid = stop_background(settings(), name)
        if pid:
            console.print(f"stopped {name} (pid {pid})")
    services_down(settings(), progress=lambda line: console.print(line, highlight=False))


@app.command()
@friendly
def status() -> None:
    """Show address, version and health of each local service; exit 1 if one is down."""
    from streams.cli.follow import follow_status_table
    from streams.local.services import status as services_status

    statuses = services_status(settings())
    healthy = _print_statuses(statuses)
    if any(s.healthy for s in statuses if s.name.startswith("kafka")):
        from streams.cli.fleet import print_fleet

        print_fleet(settings(), console)
    table, _ = follow_status_table(settings())
    if table is not None:
        console.print(table)
    if not healthy:
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
@friendly
def kafka(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help="kafka-topics, kafka-consumer-groups, kafka-console-consumer, "
                                        "kafka-console-producer, kafka-get-offsets, kafka-metadata-quorum, "
                                        "kafka-configs or kafka-broker-api-versions")],
) -> None:
    """Run one of Kafka's own tools from the local jars against the cluster (--bootstrap-server
    is added unless given), e.g. `newsetl kafka kafka-consumer-groups --describe --group newsetl-worker`."""
    import subprocess

    from streams.local.kafka import tool_command

    command = tool_command(settings(), tool, list(ctx.args))
    try:
        code = subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


# --- streaming --------------------------------------------------------------------------------
@app.command()
@friendly
def produce(paths: Annotated[list[str], typer.Argument(help="files, directories, globs, or - for stdin")]) -> None:
    """Validate articles and publish them to news.raw (keyed by doc_id)."""
    from streams.ingest.producer import produce as run_produce

    summary = run_produce(paths, settings(), console=console)
    console.print(f"sent {summary.sent} document(s) to {settings().raw_topic} in {summary.seconds:.2f}s"
                  + (f", skipped {len(summary.skipped)}" if summary.skipped else ""))
    for where, reason in summary.skipped:
        err.print(f"  skipped {where}: {reason}", highlight=False)
    if summary.skipped and not summary.sent:
        raise typer.Exit(1)


@app.command()
@friendly
def follow(
    sources: Annotated[Path, typer.Argument(help="sources file (YAML): feeds, list pages, folders")],
    once: Annotated[bool, typer.Option("--once", help="ingest everything new, print a summary table and exit")] = False,
) -> None:
    """Follow news sites and folders; publish new and edited articles to news.raw (until Ctrl-C)."""
    from streams.cli.follow import follow as run_follow

    raise typer.Exit(run_follow(sources, once, settings(), console))


@app.command("ingest-server")
@friendly
def ingest_server(
    port: Annotated[int | None, typer.Option(help="port (default NEWSETL_DOOR_PORT)")] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
) -> None:
    """Serve POST /documents (one JSON document or JSON Lines, validated as produce does) into news.raw."""
    from streams.cli.follow import ingest_server as run_server

    run_server(settings(), host, port or settings().door_port, console)


def _settle_with_pipeline(config: Settings, *, pipeline: bool = True) -> None:
    """Build the process's pipeline (cached: the command's own) when it needs one, then settle the
    collector around it (:mod:`streams.heap`)."""
    from streams import heap
    from streams.stream.analysis import get_pipeline

    if pipeline:
        get_pipeline(config)
    heap.settle()


@app.command()
@friendly
def worker() -> None:
    """Run a Faust worker: news.raw → enrich → news.enriched → ClickHouse (until Ctrl-C)."""
    from streams.cli.worker import run_worker

    run_worker(settings())


@app.command()
@friendly
def analyze(
    files: Annotated[list[Path], typer.Argument(help="article files")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json (JSON Lines) or table")] = "json",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="processes analysing files side by side "
                                      "(0: one per CPU); output stays in input order")] = 1,
) -> None:
    """Run the pipeline offline on files and print the analysis contract."""
    from streams.cli.analyze import run_analyze

    fmt_checked: Literal["json", "table"] = "json" if choose(fmt, ("json", "table"), "format") == "json" else "table"
    if jobs < 0:
        raise typer.BadParameter("--jobs must be 0 (one per CPU) or more")
    config = settings()
    _settle_with_pipeline(config)  # before the pool forks: its processes inherit it
    raise typer.Exit(run_analyze(files, fmt_checked, config, jobs=jobs))


@app.command()
@friendly
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run on the configured ClickHouse")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    write: Annotated[bool, typer.Option("--write", help="allow statements that change data")] = False,
) -> None:
    """Run SQL on ClickHouse; read-only unless --write."""
    from streams.cli.query import print_query

    print_query(settings(), sql, choose(fmt, ("table", "csv", "json"), "format"), write=write, console=console)


@app.command()
@friendly
def replay(
    source: Annotated[str, typer.Option("--source", help="raw: re-run the pipeline; enriched: reload ClickHouse")] = "raw",
    start: Annotated[str, typer.Option("--from", help="earliest or an ISO time")] = "earliest",
    stop: Annotated[str | None, typer.Option("--to", help="ISO time to stop at (default: the end when started)")] = None,
) -> None:
    """Reprocess history from Kafka into ClickHouse (own consumer group; the live worker keeps running)."""
    from streams.stream.replay import replay as run_replay

    choose(source, ("raw", "enriched"), "source")
    config = settings()
    _settle_with_pipeline(config, pipeline=source == "raw")
    summary = run_replay(config, "raw" if source == "raw" else "enriched", start, stop, console=console)
    skipped = ", ".join(f"{k}: {n}" for k, n in summary.skipped.items())
    console.print(
        f"replayed {summary.read} of {summary.planned} message(s) from {source} in {summary.seconds:.1f}s: "
        f"{summary.written} document(s) written"
        + (" by the running workers" if summary.writer == "workers" else "")
        + (f" (pipeline {summary.pipeline_version})" if summary.pipeline_version else "")
        + (f", {summary.dlq} to the DLQ" if summary.dlq else "")
        + (f", skipped invalid input already in the DLQ ({skipped})" if skipped else "")
    )


@app.command()
@friendly
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be removed")] = False,
) -> None:
    """Remove superseded runs (older than each document's newest) from the base tables."""
    from streams.store.clickhouse import make_client
    from streams.store.retention import prune as run_prune

    client = make_client(settings())
    try:
        report = run_prune(client, settings().clickhouse_database, dry_run=dry_run)
    finally:
        client.close()
    counts = ", ".join(f"{table} {n}" for table, n in report.rows.items())
    console.print(("would remove" if dry_run else "removed") + f" superseded rows: {counts}")


@app.command()
@friendly
def dashboard(
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1 (default NEWSETL_DASHBOARD_PORT)")] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
) -> None:
    """Serve the analysts' dashboard (charts, metric table, documents with highlighted spans)."""
    from streams.dashboard.server import serve_dashboard

    chosen = port or settings().dashboard_port
    console.print(f"dashboard on http://{host}:{chosen}/ (Ctrl-C to stop)")
    serve_dashboard(settings(), host=host, port=chosen)


@app.command()
@friendly
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the seeds to reach ClickHouse")] = 600.0,
) -> None:
    """Bring the local stack up, produce seeds/, run a worker, and show what landed in ClickHouse."""
    from streams.cli.demo import run_demo

    run_demo(settings(), console, timeout=timeout)


def _require_stack(s: Settings, *, kafka: bool) -> None:
    """One line at once when a benchmark's services do not answer: ``all`` would otherwise spend
    its first minute analysing before it found out."""
    from streams.local.kafka import probe
    from streams.local.services import probe_clickhouse

    clickhouse = probe_clickhouse(s)
    if not clickhouse.ok:
        raise fail(f"cannot reach ClickHouse at {s.clickhouse_url}: {clickhouse.problem} {_START_IT}")
    if kafka and not probe(*s.kafka_host_port):
        raise fail(f"Kafka at {s.bootstrap_servers}: no broker answers {_START_IT}")


@app.command()
@friendly
def bench(
    what: Annotated[str, typer.Argument(help="all (default: everything in one run, needs `up`), analyze, etl, "
                                       "dashboard, endpoint or compare")] = "all",
    repeat: Annotated[int, typer.Option(help="analyze: passes over the seeds")] = 20,
    docs: Annotated[int, typer.Option(help="all / compare: corpus documents; etl: generated documents")] = 2000,
    rows: Annotated[int, typer.Option(help="all / dashboard / endpoint: generated metric rows (endpoint: 0 skips the dashboard part)")] = 1_000_000,
    against: Annotated[str, typer.Option(help="compare: the git revision the working tree's analysis is timed against")] = "HEAD",
) -> None:
    """Measure speed. With no argument: everything in one run on one corpus (analysis vs raw
    rjieba and jieba, end to end with 1 and 2 workers, latency at 50 docs/s, worker RSS, dashboard
    at 1M rows) as one table. Or one part: analyze (MB/s vs raw rjieba), etl (docs/s, produce→visible
    latency; needs `up`), dashboard (view latencies on generated rows; needs `up`), endpoint
    (SELECT 1, a sum vs chdb in-process, a large result, the dashboard queries; needs `up`), compare
    (the working tree's analysis against `--against REV`, in turn on the same corpus documents)."""
    import json as jsonlib

    choose(what, ("all", "analyze", "etl", "dashboard", "endpoint", "compare"), "benchmark")
    if what in ("all", "etl", "dashboard", "endpoint"):
        _require_stack(settings(), kafka=what in ("all", "etl"))
    if what == "all":
        from streams.bench.suite import bench_all, markdown

        with console.status("benchmarking…") as status:
            result = bench_all(settings(), docs=docs, dashboard_rows=rows,
                               say=lambda message: status.update(f"benchmarking: {message}…"))
        out = settings().data_dir / "bench-latest.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(jsonlib.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        print(markdown(result))
        print(f"\n(all figures: {out})")
        return
    if what == "analyze":
        from streams.bench.analyze import bench_analyze
        from streams.bench.corpus import seed_files

        result = bench_analyze(seed_files(), repeat, settings())
    elif what == "etl":
        from streams.bench.etl import bench_etl

        with console.status(f"running {docs} documents through a scratch worker…"):
            result = bench_etl(settings(), docs)
    elif what == "compare":
        from streams.bench.compare import compare_analysis

        with console.status(f"analysing {docs} corpus documents at {against} and in the working tree, in turn…"):
            result = compare_analysis(against, docs=docs)
    elif what == "dashboard":
        from streams.bench.dashboard import bench_dashboard

        with console.status(f"timing dashboard views on {rows:,} generated metric rows…"):
            result = bench_dashboard(settings(), rows)
    else:
        from streams.bench.endpoint import bench_endpoint

        with console.status(f"timing the ClickHouse endpoint and the dashboard on {rows:,} generated metric rows…"):
            result = bench_endpoint(settings(), rows=rows)
    console.print_json(jsonlib.dumps(result, ensure_ascii=False, default=str))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
