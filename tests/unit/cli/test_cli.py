"""User mistakes and unreachable services end in one clear line and a non-zero exit."""

import pytest
from typer.testing import CliRunner

from streams.cli.main import app
from streams.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def nowhere(monkeypatch, tmp_path):
    """Point every command at ports where nothing listens."""
    monkeypatch.setenv("NEWSETL_CLICKHOUSE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEWSETL_KAFKA_BROKER", "kafka://127.0.0.1:9")
    monkeypatch.setenv("NEWSETL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def one_line_error(result) -> str:
    out = result.output.strip()
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), out
    return lines[0]


def test_query_with_clickhouse_down_is_one_line():
    result = runner.invoke(app, ["query", "SELECT 1"])
    assert result.exit_code == 1
    assert "ClickHouse" in one_line_error(result) or "running" in one_line_error(result)


def test_produce_missing_path_is_reported_and_fails(tmp_path):
    result = runner.invoke(app, ["produce", str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    assert "missing.txt" in result.output and "Traceback" not in result.output


def test_unknown_formats_and_sources_are_refused():
    assert one_line_error(runner.invoke(app, ["query", "SELECT 1", "--format", "xml"])).endswith("use table, csv or json")
    assert "use raw or enriched" in one_line_error(runner.invoke(app, ["replay", "--source", "both"]))
    assert "unknown benchmark" in one_line_error(runner.invoke(app, ["bench", "everything"]))


def test_bad_replay_time_is_one_line():
    result = runner.invoke(app, ["replay", "--from", "yesterday"])
    assert result.exit_code == 1
    assert "not an ISO time" in one_line_error(result)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSETL_KAFKA_BROKER", "kafka://localhost", "NEWSETL_KAFKA_BROKER: 'kafka://localhost' is not host:port"),
        ("NEWSETL_KAFKA_BROKER", "kafka://h:1;kafka://g:x", "NEWSETL_KAFKA_BROKER: 'kafka://g:x' is not host:port"),
        ("NEWSETL_CLICKHOUSE_URL", "localhost:8123", "NEWSETL_CLICKHOUSE_URL: 'localhost:8123' is not an http(s) URL"),
        ("NEWSETL_CLICKHOUSE_URL", "http://h:port", "NEWSETL_CLICKHOUSE_URL: 'http://h:port' has an invalid port"),
        ("NEWSETL_TOPIC_PARTITIONS", "four", "NEWSETL_TOPIC_PARTITIONS: Input should be a valid integer"),
        ("NEWSETL_KAFKA_HEARTBEAT_SECONDS", "4",
         "NEWSETL_KAFKA_HEARTBEAT_SECONDS: must be at most a third of the session timeout (8.0 s)"),
        ("NEWSETL_KAFKA_BROKERS", "12", "NEWSETL_KAFKA_BROKERS: Input should be less than or equal to 9"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    line = one_line_error(runner.invoke(app, ["status"]))
    assert line.startswith(f"error: invalid configuration: {message}"), line


@pytest.mark.parametrize("what", ["all", "etl", "dashboard", "endpoint"])
def test_a_benchmark_that_needs_the_stack_says_so_before_it_starts(what, monkeypatch):
    # `bench` (all) used to analyse the corpus for a minute before it found ClickHouse down
    import streams.bench.suite

    def never(*args, **kwargs):
        raise AssertionError("the benchmark started without its services")

    monkeypatch.setattr(streams.bench.suite, "bench_all", never)
    result = runner.invoke(app, ["bench", what])
    assert result.exit_code == 1
    line = one_line_error(result)
    assert line.startswith("error: cannot reach ClickHouse at http://127.0.0.1:9: not answering")
    assert line.endswith("start it with `newsetl up`)")


def test_the_benchmarks_check_kafka_once_clickhouse_answers(monkeypatch):
    from streams.local import services

    monkeypatch.setattr(services, "probe_clickhouse", lambda settings: services.ClickHouseProbe(version="26.9"))
    result = runner.invoke(app, ["bench", "etl"])
    assert result.exit_code == 1
    assert one_line_error(result) == ("error: Kafka at 127.0.0.1:9: no broker answers (is it running? see "
                                      "`newsetl status`, start it with `newsetl up`)")
