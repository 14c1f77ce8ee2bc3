"""Running a worker as a detached background process (for ``newsetl demo``), with a PID file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streams.settings import Settings


def _pid_file(settings: Settings) -> Path:
    return settings.data_dir / "run" / "worker.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def background_worker_pid(settings: Settings) -> int | None:
    path = _pid_file(settings)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def start_background_worker(settings: Settings, env: dict[str, str] | None = None) -> int:
    """Start ``newsetl worker`` detached (logs under data_dir/logs); returns its pid (reused if running)."""
    running = background_worker_pid(settings)
    if running:
        return running
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _pid_file(settings).parent.mkdir(parents=True, exist_ok=True)
    with open(logs / "worker.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    _pid_file(settings).write_text(str(proc.pid))
    return proc.pid


def stop_background_worker(settings: Settings, timeout: float = 20.0) -> int | None:
    """SIGTERM the background worker, wait, SIGKILL if needed; returns the pid stopped."""
    pid = background_worker_pid(settings)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    return pid
