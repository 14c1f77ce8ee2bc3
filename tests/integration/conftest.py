"""Fixtures for integration tests: a real Kafka broker and the chdb ClickHouse endpoint.

- ``stack`` (session): starts both ONCE per pytest session on free ports with a temporary data
  directory (the Kafka jars come from the repository's cache ``.newsetl/kafka-libs``), yields the
  :class:`~streams.settings.Settings` pointing at them and stops them at the end.
- ``ch_client`` (function): a clickhouse-connect client (default settings) to the stack.
- ``kafka_bootstrap`` (session): ``host:port`` of the broker for aiokafka.
- ``make_stack_settings`` (function): a factory of Settings for a separate, not yet started stack
  in its own tmp dir (e.g. for restart tests); every stack it made is stopped at teardown.
- ``worker_factory`` (function): starts real ``newsetl worker`` processes, stopped at teardown.

Every test in ``tests/integration`` is marked ``integration``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.local import ServiceError, services
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KAFKA_LIBS = REPO / ".newsetl" / "kafka-libs"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (the OS picks them)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def stack_settings(data_dir: Path) -> Settings:
    """Settings for a stack in ``data_dir`` on free ports, reusing the repository's jar cache."""
    kafka_port, controller_port, ch_port = free_ports(3)
    return Settings(
        kafka_broker=f"kafka://127.0.0.1:{kafka_port}",
        kafka_controller_port=controller_port,
        clickhouse_url=f"http://127.0.0.1:{ch_port}",
        data_dir=data_dir,
        kafka_libs_dir=KAFKA_LIBS,
    )


def start_stack(data_dir: Path) -> Settings:
    """Start a stack on free ports (retrying if another test run grabbed a port meanwhile)."""
    for attempt in range(3):
        settings = stack_settings(data_dir)
        try:
            services.up(settings)
            return settings
        except ServiceError as exc:
            if "already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The shared local stack (Kafka + ClickHouse endpoint), started once per session."""
    settings = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield settings
    finally:
        services.down(settings)


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Settings) -> str:
    """``host:port`` of the session's Kafka broker."""
    return stack.bootstrap_servers


@pytest.fixture()
def ch_client(stack: Settings) -> Iterator[object]:
    """A clickhouse-connect client with default settings (compression on) to the stack."""
    import clickhouse_connect

    host, port = stack.clickhouse_host_port
    client = clickhouse_connect.get_client(
        host=host,
        port=port,
        username=stack.clickhouse_user,
        password=stack.clickhouse_password.get_secret_value(),
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def make_stack_settings(tmp_path: Path) -> Iterator[Callable[[], Settings]]:
    """Factory of Settings for separate stacks (not started); all are stopped at teardown."""
    made: list[Settings] = []

    def make() -> Settings:
        settings = stack_settings(tmp_path / f"stack{len(made)}")
        made.append(settings)
        return settings

    yield make
    for settings in made:
        services.down(settings)


@pytest.fixture()
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start ``newsetl worker`` processes (``factory(settings, name)``); all are stopped at teardown."""
    from tests.integration.etl_helpers import WorkerProcess

    started: list[WorkerProcess] = []

    def start(settings: Settings, name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"{name}-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.stop()
