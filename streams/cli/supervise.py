"""Detached background processes for ``newsetl demo`` (the worker, the dashboard), with PID files
under ``<data_dir>/run`` and logs under ``<data_dir>/logs``; ``newsetl down`` stops them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.local.services import process_alive
from streams.retry import Backoff, PollTimeout, poll_until
from streams.settings import Settings

BACKGROUND_COMMANDS = ("worker", "dashboard")


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.data_dir / "run" / f"{name}.pid"


def background_pid(settings: Settings, name: str) -> int | None:
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def start_background(settings: Settings, name: str, env: dict[str, str] | None = None) -> int:
    """Start ``newsetl <name>`` detached; returns its pid (the running one if already started)."""
    running = background_pid(settings, name)
    if running:
        return running
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _pid_file(settings, name).parent.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", name],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    _pid_file(settings, name).write_text(str(proc.pid))
    return proc.pid


def stop_background(settings: Settings, name: str, timeout: float = 20.0) -> int | None:
    """SIGTERM a background process, wait, SIGKILL if needed; returns the pid stopped."""
    pid = background_pid(settings, name)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    try:
        poll_until(lambda: not process_alive(pid), timeout, f"{name} to stop", backoff=Backoff(start=0.1, cap=0.1))
    except PollTimeout:
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings, name).unlink(missing_ok=True)
    return pid
