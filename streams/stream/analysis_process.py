"""The worker's analysis in a child process, so the event loop and the sink keep running meanwhile.

:class:`AnalysisProcess` wraps a one-process ``ProcessPoolExecutor`` (``spawn``: the worker has
threads, which a fork would copy mid-lock) whose initializer builds the pipeline once. A call
returns the :class:`EnrichedDocument` or raises the :class:`~streams.stream.intake.IntakeError`
the child met (sent back as plain values: the exception itself does not pickle). When the child
dies while analysing (killed, out of memory, a crash in native code), a new one is started and
the message is tried once more; dying on it twice makes it a ``poison_message``. The child dies
with its worker (Linux's parent-death signal), so a SIGKILLed worker leaves nothing behind.
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

from schemas.models import EnrichedDocument
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Limits
from streams.stream import intake
from streams.stream.analysis import build_pipeline
from streams.stream.enrich import enrich_payload

_PIPELINE: Pipeline | None = None
_PR_SET_PDEATHSIG = 1
Result = tuple[str, EnrichedDocument | None, str, str, str | None]


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


def _analyse(payload: bytes | None, max_doc_chars: int, partition: int, offset: int) -> Result:
    assert _PIPELINE is not None
    try:
        doc = enrich_payload(_PIPELINE, payload, max_doc_chars=max_doc_chars, partition=partition, offset=offset)
    except intake.IntakeError as exc:
        return "error", None, exc.kind, exc.detail, exc.doc_id
    return "ok", doc, "", "", None


class AnalysisProcess:
    """One child process analysing ``news.raw`` payloads with the pipeline of the given rules."""

    def __init__(self, rules_dir: Path | None, segmenter: str, limits: Limits) -> None:
        self._init = (os.getpid(), rules_dir, segmenter, limits)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=self._init)

    async def enrich(self, payload: bytes | None, *, max_doc_chars: int, partition: int,
                     offset: int) -> EnrichedDocument:
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                status, doc, kind, detail, doc_id = await loop.run_in_executor(
                    self._pool, _analyse, payload, max_doc_chars, partition, offset)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                if attempt == 2:
                    raise intake.IntakeError(intake.POISON_MESSAGE, "the analysis process died twice while "
                                             "analysing this message; it is not analysed again") from None
                continue
            if status == "error":
                raise intake.IntakeError(kind, detail, doc_id)
            assert doc is not None
            return doc
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
