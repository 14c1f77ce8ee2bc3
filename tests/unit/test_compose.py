"""docker-compose.yml and deploy/Dockerfile agree with Settings and with each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_services_and_images(compose: dict) -> None:
    services = compose["services"]
    assert {"kafka", "clickhouse", "worker"} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:3.9.0"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server")
    build = services["worker"]["build"]
    assert (REPO / build.get("context", ".") / build["dockerfile"]).resolve() == REPO / "deploy" / "Dockerfile"
    assert services["worker"]["command"] == ["newsetl", "worker"]
    depends = services["worker"]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        "kafka": "service_healthy",
        "clickhouse": "service_healthy",
    }
    for name in ("kafka", "clickhouse"):
        assert services[name]["healthcheck"]["test"]


def test_ports_match_local_defaults(compose: dict) -> None:
    defaults = Settings.model_construct()  # the defaults, whatever the environment says
    services = compose["services"]
    kafka_ports = {p.split(":")[-2] for p in services["kafka"]["ports"]}
    ch_ports = {p.split(":")[-2] for p in services["clickhouse"]["ports"]}
    assert str(defaults.kafka_host_port[1]) in kafka_ports
    assert str(defaults.clickhouse_host_port[1]) in ch_ports
    for service in ("kafka", "clickhouse"):
        assert all(p.startswith("127.0.0.1:") for p in services[service]["ports"]), "loopback only"


def test_kafka_is_kraft_single_node_keeping_history(compose: dict) -> None:
    env = _env(compose["services"]["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "EXTERNAL://127.0.0.1:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"


def test_worker_env_names_are_settings_fields(compose: dict) -> None:
    env = _env(compose["services"]["worker"])
    fields = {f"NEWSETL_{name.upper()}" for name in Settings.model_fields}
    newsetl_vars = {k for k in env if k.startswith("NEWSETL_")}
    assert newsetl_vars, "worker gets its configuration from NEWSETL_* variables"
    assert newsetl_vars <= fields, newsetl_vars - fields
    assert env["NEWSETL_KAFKA_BROKER"] == "kafka://kafka:9092"
    assert env["NEWSETL_CLICKHOUSE_URL"] == "http://clickhouse:8123"
    # the values parse as Settings (e.g. numbers where numbers are expected)
    values = {k.removeprefix("NEWSETL_").lower(): v for k, v in env.items() if "${" not in v}
    settings = Settings(_env_file=None, **values)
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.clickhouse_host_port == ("clickhouse", 8123)


def test_clickhouse_credentials_match_worker(compose: dict) -> None:
    ch = _env(compose["services"]["clickhouse"])
    worker = _env(compose["services"]["worker"])
    assert ch["CLICKHOUSE_USER"] == worker["NEWSETL_CLICKHOUSE_USER"]
    assert ch["CLICKHOUSE_PASSWORD"] == worker["NEWSETL_CLICKHOUSE_PASSWORD"]
    assert ch["CLICKHOUSE_DB"] == worker["NEWSETL_CLICKHOUSE_DATABASE"]


def test_dockerfile() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    assert text.splitlines()[2].startswith("FROM python:3.11-slim") or "FROM python:3.11-slim" in text
    assert "pip install ." in text
    assert 'CMD ["newsetl", "worker"]' in text
