"""Start, stop and inspect the local stack: the Kafka broker and the chdb ClickHouse endpoint.

Both run as detached background processes with their PID files and logs under the data
directory (``<data_dir>/kafka/`` — and ``kafka-2/``, … for a cluster of several nodes, see
:func:`streams.local.kafka.nodes` — and ``<data_dir>/clickhouse/``), so ``newsetl up`` returns
and ``newsetl down``/``status`` work from any later process:

- :func:`up` starts whatever is not running yet (starting twice is harmless) and waits until
  both answer (a Kafka Metadata request, ClickHouse ``SELECT version()``), polling with a deadline;
- :func:`down` stops them (SIGTERM, wait, SIGKILL after a deadline);
- :func:`status` reports address, pid, version and health of each; the ClickHouse endpoint is
  identified by its ``X-ClickHouse-*`` headers (another HTTP server on the port is "not a
  ClickHouse endpoint") and a wrong password is reported as "authentication failed".

The functions are quiet; pass ``progress`` (e.g. ``rich`` console printing) to see the steps.
User-facing problems raise :class:`ServiceError` with a one-line message.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import streams
from streams.local import ServiceError, kafka
from streams.retry import Backoff, PollTimeout, poll_until
from streams.settings import Settings

__all__ = ["ServiceError", "ServiceStatus", "up", "down", "status", "start_broker", "KAFKA", "CLICKHOUSE"]

KAFKA = "kafka"
CLICKHOUSE = "clickhouse"
KAFKA_START_TIMEOUT = 90.0
CLICKHOUSE_START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

Progress = Callable[[str], None]

# children started by this process, so that they are reaped (no zombies) when they stop
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServiceStatus:
    """What ``status`` knows about one service."""

    name: str
    address: str
    pid: int | None
    running: bool
    healthy: bool
    version: str | None = None
    detail: str = ""


def _quiet(_: str) -> None:
    pass


# --- paths ------------------------------------------------------------------------------------------


def clickhouse_dir(settings: Settings) -> Path:
    """``<data_dir>/clickhouse``: ``data/`` (the engine's path), pid file, log."""
    return (settings.data_dir / "clickhouse").resolve()


def _node(settings: Settings, name: str) -> kafka.Node:
    """The local Kafka node a service name stands for (``kafka`` is node 1, ``kafka-k`` node k)."""
    node_id = 1 if name == KAFKA else int(name.removeprefix(KAFKA + "-"))
    return next(node for node in kafka.nodes(settings, max(node_id, kafka.broker_count(settings))) if node.node_id == node_id)


def _is_kafka(name: str) -> bool:
    return name == KAFKA or name.startswith(KAFKA + "-")


def _pid_file(settings: Settings, name: str) -> Path:
    return (_node(settings, name).home if _is_kafka(name) else clickhouse_dir(settings)) / f"{KAFKA if _is_kafka(name) else name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    if _is_kafka(name):
        return _node(settings, name).home / "logs" / "stdout.log"
    return clickhouse_dir(settings) / "server.log"


def _marker(settings: Settings, name: str) -> str:
    """A string found in the command line of this stack's process (tells it from others)."""
    if _is_kafka(name):
        return str(_node(settings, name).home / "server.properties")
    return str(clickhouse_dir(settings) / "data")


# --- processes --------------------------------------------------------------------------------------


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie or a reaped child of ours counts as gone)."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _children[pid]
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _running_pid(settings: Settings, name: str) -> int | None:
    """The pid of this stack's service if it runs (the pid file is checked against the process)."""
    pid_file = _pid_file(settings, name)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not process_alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline and _marker(settings, name) not in cmdline:
        return None  # the pid was reused by another program
    return pid


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _check_ports(ports: list[tuple[str, int]]) -> None:
    for host, port in ports:
        if not _port_free(host, port):
            raise ServiceError(f"port {port} is already in use by another program")


def _spawn(
    cmd: list[str], log_file: Path, pid_file: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


# --- health -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClickHouseProbe:
    """What answered on the ClickHouse URL: a version, or why it is not a usable endpoint."""

    version: str | None = None
    server: str = "ClickHouse"
    problem: str = ""
    auth_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.version is not None and not self.problem


_AUTH_CODES = {"516", "192", "193", "194"}  # AUTHENTICATION_FAILED, UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD
_VERSION = re.compile(r"^\d+(\.\d+){1,4}(-\w+)?$")


def identify_clickhouse(status: int, headers: Mapping[str, str], body: bytes) -> ClickHouseProbe:
    """Judge the answer to ``SELECT version()``: only a ClickHouse server (or our chdb endpoint)
    sets ``X-ClickHouse-*`` headers; any other HTTP server on the port is not an endpoint."""
    lower = {k.lower(): v for k, v in headers.items()}
    text = body.decode("utf-8", errors="replace").strip()
    first_line = text.splitlines()[0][:200] if text else ""
    is_clickhouse = any(
        name in lower
        for name in ("x-clickhouse-server-display-name", "x-clickhouse-query-id", "x-clickhouse-exception-code")
    )
    if not is_clickhouse:
        kind = lower.get("content-type", "no content type").split(";")[0]
        return ClickHouseProbe(problem=f"not a ClickHouse endpoint (HTTP {status}, {kind})")
    server = "chdb" if "x-newsetl-endpoint" in lower else "ClickHouse"
    code = lower.get("x-clickhouse-exception-code") or ""
    if not code:
        match = re.match(r"Code: (\d+)\.", text)
        code = match.group(1) if match else ""
    if code in _AUTH_CODES:
        return ClickHouseProbe(
            server=server,
            problem=f"authentication failed (code {code}): check NEWSETL_CLICKHOUSE_USER and NEWSETL_CLICKHOUSE_PASSWORD",
            auth_failed=True,
        )
    if status != 200 or code:
        return ClickHouseProbe(server=server, problem=f"error HTTP {status}: {first_line}")
    if not _VERSION.match(text):
        return ClickHouseProbe(server=server, problem=f"unexpected answer to SELECT version(): {first_line!r}")
    return ClickHouseProbe(version=text, server=server)


def probe_clickhouse(settings: Settings, timeout: float = 2.0) -> ClickHouseProbe:
    """``SELECT version()`` over HTTP, judged by :func:`identify_clickhouse`."""
    url = settings.clickhouse_url.rstrip("/") + "/?query=" + quote("SELECT version()")
    request = urllib.request.Request(url)
    user = settings.clickhouse_user
    password = settings.clickhouse_password.get_secret_value()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return identify_clickhouse(response.status, dict(response.headers), response.read(65536))
    except urllib.error.HTTPError as exc:
        with exc:
            return identify_clickhouse(exc.code, dict(exc.headers or {}), exc.read(65536))
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ClickHouseProbe(problem=f"not answering: {reason}")


def clickhouse_version(settings: Settings, timeout: float = 2.0) -> str | None:
    """``SELECT version()`` over HTTP; None when the endpoint does not answer correctly."""
    return probe_clickhouse(settings, timeout).version


def _clickhouse_ready(settings: Settings) -> bool:
    """Start-up check: answering; a wrong password or a foreign server stops the wait at once."""
    probe = probe_clickhouse(settings, timeout=1.0)
    if probe.auth_failed or probe.problem.startswith("not a ClickHouse endpoint"):
        raise ServiceError(f"ClickHouse at {settings.clickhouse_url}: {probe.problem}")
    return probe.ok


def _status_detail(pid: int | None, healthy: bool, logs: Path) -> str:
    """Why a service is (un)healthy, in a few words for ``status``."""
    if pid is None:
        return "answering, but not started by this data directory" if healthy else "not running"
    return "" if healthy else f"process {pid} runs but does not answer; see {logs}"


def _kafka_statuses(settings: Settings) -> list[ServiceStatus]:
    """One line per local node; a node is healthy when it answers and the cluster it sees has
    every node registered (a node cut off from the quorum answers with fewer)."""
    version = kafka.kafka_version(kafka.libs_dir(settings))
    cluster = kafka.nodes(settings)
    statuses = []
    for node in cluster:
        pid = _running_pid(settings, node.name)
        registered = kafka.registered_brokers(node.host, node.port)
        healthy = bool(registered)
        detail = _status_detail(pid, healthy, _log_file(settings, node.name).parent)
        if healthy and len(cluster) > 1:
            missing = sorted({n.node_id for n in cluster} - registered)
            if missing:
                detail = "answering; not registered now: " + ", ".join(f"broker {m}" for m in missing)
        name = node.name if len(cluster) == 1 else f"{KAFKA} {node.node_id}/{len(cluster)}"
        statuses.append(ServiceStatus(name, node.address, pid, pid is not None, healthy, version, detail))
    return statuses


def _clickhouse_status(settings: Settings) -> ServiceStatus:
    pid = _running_pid(settings, CLICKHOUSE)
    probe = probe_clickhouse(settings)
    healthy = probe.ok
    if probe.auth_failed or probe.problem.startswith(("not a ClickHouse", "error", "unexpected")):
        detail = probe.problem
    else:
        detail = _status_detail(pid, healthy, _log_file(settings, CLICKHOUSE))
    version = f"{probe.server} {probe.version}" if probe.version else None
    return ServiceStatus(CLICKHOUSE, settings.clickhouse_url, pid, pid is not None, healthy, version, detail)


def status(settings: Settings) -> list[ServiceStatus]:
    """Address, pid, version and health of each Kafka node and of the ClickHouse endpoint."""
    return [*_kafka_statuses(settings), _clickhouse_status(settings)]


# --- up / down --------------------------------------------------------------------------------------


def _start_kafka(settings: Settings, node: kafka.Node, count: int, progress: Progress) -> subprocess.Popen[bytes]:
    if node.host not in kafka.LOOPBACK:
        raise ServiceError(f"NEWSETL_KAFKA_BROKER points at {node.host}: `newsetl up` only runs a local broker")
    _check_ports([(node.host, node.port), (node.host, node.controller_port)])
    kafka.prepare(settings, progress, node, count)
    progress(f"starting Kafka broker {node.node_id} on {node.address}" if count > 1 else f"starting Kafka broker on {node.address}")
    return _spawn(
        kafka.broker_command(settings, node),
        _log_file(settings, node.name),
        _pid_file(settings, node.name),
        node.home,
    )


def _start_clickhouse(settings: Settings, progress: Progress) -> subprocess.Popen[bytes]:
    host, port = settings.clickhouse_host_port
    if host not in kafka.LOOPBACK:
        raise ServiceError(f"NEWSETL_CLICKHOUSE_URL points at {host}: `newsetl up` only runs a local endpoint")
    _check_ports([(host, port)])
    home = clickhouse_dir(settings)
    (home / "data").mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "streams.local.clickhouse_http",
        "--host",
        host,
        "--port",
        str(port),
        "--path",
        str(home / "data"),
        "--user",
        settings.clickhouse_user,
    ]
    password = settings.clickhouse_password.get_secret_value()
    password_file = home / "password"
    if password:
        password_file.touch(mode=0o600)
        password_file.chmod(0o600)
        password_file.write_text(password)
        cmd += ["--password-file", str(password_file)]
    else:
        password_file.unlink(missing_ok=True)
    progress(f"starting ClickHouse endpoint (chdb) on {settings.clickhouse_url}")
    return _spawn(cmd, _log_file(settings, CLICKHOUSE), _pid_file(settings, CLICKHOUSE), home, _child_env())


def _child_env() -> dict[str, str]:
    """This environment, plus the directory this process imported ``streams`` from on PYTHONPATH
    unless it is a site directory anyway: the child's ``-m`` then runs the same code whether it is
    installed (editable or not) or run from a checkout, whatever the child's working directory."""
    env = dict(os.environ)
    origin = Path(streams.__file__).resolve().parent.parent
    site_dirs = {Path(sysconfig.get_path(kind)).resolve() for kind in ("purelib", "platlib")}
    if origin not in site_dirs:
        env["PYTHONPATH"] = os.pathsep.join([str(origin), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _wait_ready(
    settings: Settings, name: str, proc: subprocess.Popen[bytes], deadline: float, check: Callable[[], bool]
) -> None:
    def ready() -> bool:
        if check():
            return True
        if proc.poll() is not None:
            _pid_file(settings, name).unlink(missing_ok=True)
            tail = _log_tail(_log_file(settings, name))
            raise ServiceError(f"{name} exited during start-up (code {proc.returncode}): {tail}")
        return False

    try:
        poll_until(ready, max(0.0, deadline - time.monotonic()), name, backoff=Backoff(start=0.05, cap=0.5, factor=1.5))
    except PollTimeout:
        raise ServiceError(f"{name} did not answer in time; see {_log_file(settings, name)}") from None


def up(settings: Settings, progress: Progress | None = None, brokers: int | None = None) -> list[ServiceStatus]:
    """Start the Kafka node(s) and the ClickHouse endpoint unless running; wait until all answer.

    ``brokers``: the size of the local Kafka cluster (default: what its storage was formatted for,
    else ``Settings.kafka_brokers``); storage formatted for another size is refused in one line.
    """
    say = progress or _quiet
    count = brokers or kafka.broker_count(settings)
    kafka.check_layout(settings, count)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started: list[tuple[str, subprocess.Popen[bytes], float, Callable[[], bool]]] = []
    try:
        if _running_pid(settings, CLICKHOUSE) is None:
            proc = _start_clickhouse(settings, say)
            started.append(
                (
                    CLICKHOUSE,
                    proc,
                    time.monotonic() + CLICKHOUSE_START_TIMEOUT,
                    lambda: _clickhouse_ready(settings),
                )
            )
        else:
            say("ClickHouse endpoint already running")
        cluster = kafka.nodes(settings, count)
        for node in cluster:
            if _running_pid(settings, node.name) is None:
                proc = _start_kafka(settings, node, count, say)
                started.append((node.name, proc, time.monotonic() + KAFKA_START_TIMEOUT, _node_ready(node, count)))
            else:
                say(f"Kafka broker {node.node_id} already running" if count > 1 else "Kafka broker already running")
        for name, proc, deadline, check in started:
            _wait_ready(settings, name, proc, deadline, check)
            say(f"{name} ready")
    except BaseException:
        for _name, proc, _, _ in started:  # all at once (see down)
            if proc.poll() is None:
                _signal(proc.pid, signal.SIGTERM)
        for name, proc, _, _ in started:
            if proc.poll() is None:
                _stop_pid(settings, name, proc.pid, 10.0)
        raise
    return status(settings)


def _node_ready(node: kafka.Node, count: int) -> Callable[[], bool]:
    """Ready when the node answers and sees every node of the cluster registered (before that a
    topic with three replicas cannot be created)."""

    return lambda: len(kafka.registered_brokers(node.host, node.port, timeout=1.0)) >= count


def start_broker(settings: Settings, node_id: int, progress: Progress | None = None) -> ServiceStatus:
    """Start one node of the local cluster again (after it stopped or was killed); waits until it
    answers. The other nodes are left as they are."""
    count = kafka.broker_count(settings)
    node = next((n for n in kafka.nodes(settings, count) if n.node_id == node_id), None)
    if node is None:
        raise ServiceError(f"the local Kafka cluster has {count} broker(s): there is no broker {node_id}")
    if _running_pid(settings, node.name) is None:
        proc = _start_kafka(settings, node, count, progress or _quiet)
        _wait_ready(settings, node.name, proc, time.monotonic() + KAFKA_START_TIMEOUT,
                    lambda: kafka.probe(node.host, node.port, timeout=1.0))
    return next(s for s in _kafka_statuses(settings) if s.address == node.address)


def _stop_pid(settings: Settings, name: str, pid: int, timeout: float) -> str:
    _signal(pid, signal.SIGTERM)
    outcome = "stopped"
    try:
        poll_until(lambda: not process_alive(pid), timeout, f"{name} to stop",
                   backoff=Backoff(start=0.05, cap=0.3, factor=1.5))
    except PollTimeout:
        if _signal(pid, signal.SIGKILL):
            outcome = "killed"
            try:
                poll_until(lambda: not process_alive(pid), 5, f"{name} to die", backoff=Backoff(start=0.05, cap=0.05))
            except PollTimeout:
                pass
    child = _children.pop(pid, None)
    if child is not None:
        child.poll()
    _pid_file(settings, name).unlink(missing_ok=True)
    return outcome


def down(settings: Settings, progress: Progress | None = None) -> list[ServiceStatus]:
    """Stop every Kafka node and the ClickHouse endpoint (SIGTERM, then SIGKILL after a
    deadline); returns their final status."""
    say = progress or _quiet
    running: list[tuple[str, int]] = []
    for name in [node.name for node in kafka.nodes(settings)] + [CLICKHOUSE]:
        pid = _running_pid(settings, name)
        if pid is None:
            say(f"{name} not running")
            _pid_file(settings, name).unlink(missing_ok=True)
            continue
        say(f"stopping {name} (pid {pid})")
        running.append((name, pid))
        if _is_kafka(name):
            # all nodes at once: the last node of a cluster stopped one by one has no quorum
            # left for its controlled shutdown and would wait out the whole deadline
            _signal(pid, signal.SIGTERM)
    for name, pid in running:
        outcome = _stop_pid(settings, name, pid, STOP_TIMEOUT)
        say(f"{name} {outcome}")
    return status(settings)


def _signal(pid: int, signum: int) -> bool:
    """Send ``signum``; False when the process is gone already."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True
