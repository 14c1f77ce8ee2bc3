"""The worker's analysis in a child process, so the event loop and the sink keep running meanwhile.

:class:`AnalysisProcess` wraps a one-process ``ProcessPoolExecutor`` (``spawn``: the worker has
threads, which a fork would copy mid-lock) whose initializer builds the pipeline once. A call
returns, per message, the ``news.enriched`` value or the kind and detail of the
:class:`~streams.stream.intake.IntakeError` the child met (a :class:`~streams.stream.enrich.Wired`:
plain values, as the exception itself does not pickle). When the child
dies while analysing (killed, out of memory, a crash in native code), a new one is started and
the message is tried once more; dying on it twice makes it a ``poison_message``. The child dies
with its worker (Linux's parent-death signal), so a SIGKILLed worker leaves nothing behind.

The worker sends a take's messages in one call (one round trip; bytes back, not objects to
unpickle); when the child dies during such a batch, each of its messages is tried again alone, so
only the culprit can become poison.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from streams import heap
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Limits
from streams.stream import intake
from streams.stream.analysis import build_pipeline
from streams.stream.enrich import Wired, enrich_wire

_PIPELINE: Pipeline | None = None
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """End this process when ``parent`` dies (a SIGKILLed worker would otherwise leave it behind,
    waiting on its queue forever): Linux's parent-death signal, then a check that closes the race
    with a parent that died before it was set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        pass  # not Linux: the child ends when it next finds its queue closed
    if os.getppid() != parent:
        os._exit(0)


def _start(parent: int, rules_dir: Path | None, segmenter: str, limits: Limits) -> None:
    global _PIPELINE  # noqa: PLW0603 - the child's one pipeline
    _die_with(parent)
    _PIPELINE = build_pipeline(rules_dir, segmenter, limits)
    heap.settle()


def _analyse_many(items: list[tuple[bytes | None, int, int]], max_doc_chars: int) -> list[Wired]:
    assert _PIPELINE is not None
    return [enrich_wire(_PIPELINE, payload, max_doc_chars=max_doc_chars, partition=partition, offset=offset)
            for payload, partition, offset in items]


_DIED_TWICE = "the analysis process died twice while analysing this message; it is not analysed again"


class AnalysisProcess:
    """One child process analysing ``news.raw`` payloads with the pipeline of the given rules."""

    def __init__(self, rules_dir: Path | None, segmenter: str, limits: Limits) -> None:
        self._init = (os.getpid(), rules_dir, segmenter, limits)
        self._pool = self._new_pool()
        self._one_at_a_time = asyncio.Lock()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=self._init)

    def _replace_pool(self, broken: ProcessPoolExecutor) -> None:
        # calls in flight together all see the same broken pool: it is replaced once
        if self._pool is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    async def _alone(self, item: tuple[bytes | None, int, int], max_doc_chars: int) -> Wired:
        """One message in the child; a child that dies is replaced and the message tried once
        more; dying on it twice makes it a ``poison_message``."""
        loop = asyncio.get_running_loop()
        for _attempt in (1, 2):
            pool = self._pool
            try:
                (wired,) = await loop.run_in_executor(pool, _analyse_many, [item], max_doc_chars)
                return wired
            except BrokenProcessPool:
                self._replace_pool(pool)
        return Wired(None, None, intake.POISON_MESSAGE, _DIED_TWICE)

    async def enrich_many(self, items: list[tuple[bytes | None, int, int]], *, max_doc_chars: int) -> list[Wired]:
        """``(payload, partition, offset)`` → each one's :class:`Wired`, in order. Calls may
        overlap (the child takes the next batch as soon as it finished one); when the child dies
        during a batch, its messages are tried one at a time (one caller at a time)."""
        if len(items) > 1:
            pool = self._pool
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, _analyse_many, items, max_doc_chars)
            except BrokenProcessPool:
                self._replace_pool(pool)  # the culprit is not known: each message alone
        async with self._one_at_a_time:
            return [await self._alone(item, max_doc_chars) for item in items]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
