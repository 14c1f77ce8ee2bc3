"""docker-compose.yml and deploy/Dockerfile agree with Settings and with each other."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
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


# --- the `cluster` profile ------------------------------------------------------------------------

SINGLE_NODE = {"kafka", "clickhouse", "worker", "grafana"}
CLUSTER_KAFKA = ["kafka-1", "kafka-2", "kafka-3"]
CLUSTER_KEEPER = ["keeper-1", "keeper-2", "keeper-3"]
CLUSTER_CLICKHOUSE = [["clickhouse-s1r1", "clickhouse-s1r2"], ["clickhouse-s2r1", "clickhouse-s2r2"]]
CLUSTER_DIR = REPO / "deploy" / "clickhouse" / "cluster"


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_single_node_services_have_no_profile_and_cluster_ones_only_cluster(compose: dict) -> None:
    services = compose["services"]
    cluster = {name for name, service in services.items() if "profiles" in service}
    assert set(services) - cluster == SINGLE_NODE  # `docker compose up` starts exactly today's stack
    assert cluster == {*CLUSTER_KAFKA, *CLUSTER_KEEPER, *sum(CLUSTER_CLICKHOUSE, []), "cluster-worker"}
    assert all(services[name]["profiles"] == ["cluster"] for name in cluster)


def test_host_ports_are_loopback_and_do_not_clash(compose: dict) -> None:
    ports = [p for service in compose["services"].values() for p in service.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in ports)
    host_ports = [p.split(":")[1] for p in ports]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_cluster_kafka_is_three_kraft_brokers_with_replicated_topics(compose: dict) -> None:
    services = compose["services"]
    envs = [_env(services[name]) for name in CLUSTER_KAFKA]
    assert [env["KAFKA_NODE_ID"] for env in envs] == ["1", "2", "3"]
    assert {env["CLUSTER_ID"] for env in envs} == {envs[0]["CLUSTER_ID"]}
    assert envs[0]["CLUSTER_ID"] != _env(services["kafka"])["CLUSTER_ID"]
    for name, env in zip(CLUSTER_KAFKA, envs, strict=True):
        assert services[name]["image"] == "apache/kafka:3.9.0"
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert env["KAFKA_ADVERTISED_LISTENERS"].startswith(f"INTERNAL://{name}:9092,EXTERNAL://127.0.0.1:")
        host_port = env["KAFKA_ADVERTISED_LISTENERS"].rsplit(":", 1)[1]
        assert services[name]["ports"] == [f"127.0.0.1:{host_port}:29092"]
        assert services[name]["healthcheck"]["test"]
        assert {k: env[k] for k in ("KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS",
                                    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                                    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR")} == {
            "KAFKA_DEFAULT_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2"}
        assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert (Settings.replication(3)) == (3, 2)  # what the workers give the topics they create


def _mounts(service: dict) -> dict[str, Path]:
    """container path -> host path of the service's bind mounts of repository files."""
    found = {}
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        if parts[0].startswith("./"):
            found[parts[1]] = REPO / parts[0]
    return found


def test_cluster_keeper_nodes_form_one_raft_group(compose: dict) -> None:
    keeper = _xml(CLUSTER_DIR / "keeper.xml")
    raft = {int(s.findtext("id")): s.findtext("hostname") for s in keeper.iter("server")}
    assert raft == {1: "keeper-1", 2: "keeper-2", 3: "keeper-3"}
    assert keeper.find("keeper_server/server_id").get("from_env") == "KEEPER_SERVER_ID"
    for name in CLUSTER_KEEPER:
        service = compose["services"][name]
        assert raft[int(_env(service)["KEEPER_SERVER_ID"])] == name == service["hostname"]
        mounts = _mounts(service)
        assert mounts["/etc/clickhouse-keeper/keeper_config.xml"] == REPO / "deploy/clickhouse/cluster/keeper.xml"
        assert "--config-file=/etc/clickhouse-keeper/keeper_config.xml" in service["command"]
        assert "9182/ready" in service["healthcheck"]["test"][1]
    assert keeper.findtext("keeper_server/http_control/port") == "9182"


def test_cluster_clickhouse_is_two_shards_of_two_replicas(compose: dict) -> None:
    config = _xml(CLUSTER_DIR / "config.d" / "cluster.xml")
    clusters = config.find("remote_servers")
    assert clusters.get("replace") == "true" and [c.tag for c in clusters] == ["newsetl"]
    shards = clusters.find("newsetl").findall("shard")
    assert [[r.findtext("host") for r in shard.findall("replica")] for shard in shards] == CLUSTER_CLICKHOUSE
    assert all(shard.findtext("internal_replication") == "true" for shard in shards)
    assert {r.findtext("port") for shard in shards for r in shard.findall("replica")} == {"9000"}
    assert [n.findtext("host") for n in config.find("zookeeper")] == CLUSTER_KEEPER
    assert config.find("macros/shard").get("from_env") == "CLICKHOUSE_SHARD"
    assert config.find("macros/replica").get("from_env") == "CLICKHOUSE_REPLICA"
    assert clusters.find("newsetl/secret").get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
    single = compose["services"]["clickhouse"]
    for shard_number, replicas in enumerate(CLUSTER_CLICKHOUSE, start=1):
        for name in replicas:
            service = compose["services"][name]
            env = _env(service)
            assert service["image"] == single["image"] and service["hostname"] == name
            assert (env["CLICKHOUSE_SHARD"], env["CLICKHOUSE_REPLICA"]) == (str(shard_number), name)
            assert env["CLICKHOUSE_CLUSTER_SECRET"]
            assert "clickhouse-cluster" in service["networks"]["default"]["aliases"]
            assert set(service["depends_on"]) == set(CLUSTER_KEEPER)
            mounts = _mounts(service)
            assert mounts["/etc/clickhouse-server/config.d/cluster.xml"] == CLUSTER_DIR / "config.d" / "cluster.xml"
            assert all(path.is_file() for path in mounts.values()), mounts
            for key in ("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_DB"):
                assert env[key] == _env(single)[key]


def test_cluster_workers(compose: dict) -> None:
    service = compose["services"]["cluster-worker"]
    single = compose["services"]["worker"]
    assert service["deploy"]["replicas"] == 3
    assert "container_name" not in service and "ports" not in service  # scalable
    assert service["build"] == single["build"] and service["command"] == single["command"]
    assert service["volumes"] == ["/data"]  # per-replica state, never shared
    env = _env(service)
    assert set(env) <= {f"NEWSETL_{name.upper()}" for name in Settings.model_fields}
    values = {k.removeprefix("NEWSETL_").lower(): v for k, v in env.items() if "${" not in v}
    settings = Settings(_env_file=None, **values)
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    assert settings.clickhouse_host_port == ("clickhouse-cluster", 8123)
    assert settings.clickhouse_cluster == "newsetl"
    assert settings.topic_partitions % service["deploy"]["replicas"] == 0
    assert {name: d["condition"] for name, d in service["depends_on"].items()} == {
        name: "service_healthy" for name in [*CLUSTER_KAFKA, *sum(CLUSTER_CLICKHOUSE, [])]}
    ch = _env(compose["services"]["clickhouse-s1r1"])
    assert (env["NEWSETL_CLICKHOUSE_USER"], env["NEWSETL_CLICKHOUSE_PASSWORD"]) == (
        ch["CLICKHOUSE_USER"], ch["CLICKHOUSE_PASSWORD"])


DOCKER_COMPOSE = shutil.which("docker-compose")


# CI installs it (.ci/run); only a developer's machine without it may skip
@pytest.mark.skipif(DOCKER_COMPOSE is None and not os.environ.get("CI"), reason="docker-compose (Debian package) not installed")
@pytest.mark.parametrize("profile", [[], ["--profile", "cluster"]])
def test_docker_compose_accepts_the_file(tmp_path: Path, profile: list[str]) -> None:
    """Debian's docker-compose 1.29.2 validates against its compose-spec schema (no Docker engine
    needed). Its schema predates the top-level ``name`` (Compose v2), so that one key is left out."""
    text = (REPO / "docker-compose.yml").read_text()
    data = yaml.safe_load(text)
    assert data["name"] == "newsetl"
    stripped = tmp_path / "docker-compose.yml"
    stripped.write_text("\n".join(line for line in text.splitlines() if line != "name: newsetl") + "\n")
    command = [str(DOCKER_COMPOSE), "-f", str(stripped), "--project-directory", str(REPO), "-p", "newsetl",
               *profile, "config"]
    quiet = subprocess.run([*command, "-q"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    resolved = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert resolved.returncode == 0, resolved.stderr
    services = yaml.safe_load(resolved.stdout)["services"]
    worker = services["cluster-worker"]
    assert worker["deploy"] == {"replicas": 3} and worker["profiles"] == ["cluster"]
    assert worker["environment"]["NEWSETL_CLICKHOUSE_CLUSTER"] == "newsetl"
    assert "NEWSETL_CLICKHOUSE_CLUSTER" not in services["worker"]["environment"]
    assert services["clickhouse-s2r2"]["volumes"][1] == (
        f"{CLUSTER_DIR / 'config.d' / 'cluster.xml'}:/etc/clickhouse-server/config.d/cluster.xml:ro")
