"""Waiting, done one way everywhere: exponential backoff for retries, and polling with a deadline.

Both are plain and synchronous-or-async agnostic: :class:`Backoff` only yields delays, and
:func:`poll_until` calls a check until it holds or the deadline passes (the check says when to
stop early, e.g. when a process died), so no caller sleeps as a way to synchronise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays ``start, start*factor, …`` capped at ``cap`` seconds, for as long as asked."""

    start: float = 0.2
    cap: float = 30.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = min(self.start, self.cap)
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)


class PollTimeout(Exception):
    """The condition did not hold before the deadline."""


def poll_until(check: Callable[[], bool], timeout: float, what: str, *, backoff: Backoff | None = None,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> float:
    """Call ``check`` until it returns true; returns the seconds waited. Raises PollTimeout
    naming ``what`` when ``timeout`` seconds passed first (``check`` may raise to stop early)."""
    started = clock()
    deadline = started + timeout
    for delay in (backoff or Backoff(start=0.05, cap=1.0)).delays():
        if check():
            return clock() - started
        remaining = deadline - clock()
        if remaining <= 0:
            raise PollTimeout(f"timed out after {timeout:g}s waiting for {what}")
        sleep(min(delay, remaining))
    raise AssertionError("unreachable")
