"""The worker's analysis in a child process: same result as in-process, errors kept, a child that
dies is replaced once, dying twice on a message makes it a poison message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from streams.pipeline.types import DEFAULT_LIMITS
from streams.stream import intake
from streams.stream.analysis import build_pipeline
from streams.stream.analysis_process import AnalysisProcess
from streams.stream.enrich import enrich_payload

TEXT = "青石县今年新建蔬菜大棚120座，带动脱贫户65户稳定增收，户均增收3200元。"
PAYLOAD = json.dumps({"doc_id": "d-1", "source": "test", "title": "青石县蔬菜产业", "text": TEXT},
                     ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def process() -> Iterator[AnalysisProcess]:
    child = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    yield child
    child.close()


async def test_same_result_as_in_process(process: AnalysisProcess) -> None:
    got = await process.enrich(PAYLOAD, max_doc_chars=10_000, partition=2, offset=7)
    want = enrich_payload(build_pipeline(), PAYLOAD, max_doc_chars=10_000, partition=2, offset=7)
    moments = {"processed_at": True, "raw": {"ingested_at"}}  # each run's own clock
    assert got.model_dump(exclude=moments) == want.model_dump(exclude=moments)
    assert (got.kafka_partition, got.kafka_offset) == (2, 7)


async def test_the_source_region_of_a_message_reaches_its_figures(process: AnalysisProcess) -> None:
    text = "全县今年新建蔬菜大棚120座。"
    payload = json.dumps({"doc_id": "d-2", "source": "test", "text": text, "source_region": "江西省赣州市"},
                         ensure_ascii=False).encode()
    got = await process.enrich(payload, max_doc_chars=10_000, partition=0, offset=1)
    assert got.raw.source_region == "江西省赣州市"
    assert [(m.span, m.region, m.region_code) for m in got.analysis.metrics] == [("120座", "江西省赣州市", "360700")]
    assert (got.analysis.doc.regions, got.analysis.doc.region_codes) == (["江西省赣州市"], ["360700"])


async def test_intake_errors_come_back_with_their_kind(process: AnalysisProcess) -> None:
    with pytest.raises(intake.IntakeError) as raised:
        await process.enrich(b"{not json", max_doc_chars=10_000, partition=0, offset=0)
    assert raised.value.kind == intake.INVALID_JSON
    with pytest.raises(intake.IntakeError) as raised:
        await process.enrich(PAYLOAD, max_doc_chars=10, partition=0, offset=0)
    assert raised.value.kind == intake.TEXT_TOO_LONG
    assert str(raised.value) == "text_too_long: text has 39 characters, limit is 10 (NEWSETL_MAX_DOC_CHARS)"


async def _child_pid(process: AnalysisProcess, not_pid: int | None = None) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [pid for pid in list(process._pool._processes or {}) if pid != not_pid]  # noqa: SLF001
        if pids:
            return pids[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no analysis child process started")


async def test_a_killed_child_is_replaced_and_the_message_tried_again() -> None:
    process = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    try:
        task = asyncio.create_task(process.enrich(PAYLOAD, max_doc_chars=10_000, partition=0, offset=1))
        os.kill(await _child_pid(process), signal.SIGKILL)
        doc = await task
        assert doc.raw.doc_id == "d-1"
    finally:
        process.close()


async def test_dying_twice_on_a_message_makes_it_poison() -> None:
    process = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    try:
        task = asyncio.create_task(process.enrich(PAYLOAD, max_doc_chars=10_000, partition=0, offset=1))
        first = await _child_pid(process)
        os.kill(first, signal.SIGKILL)
        os.kill(await _child_pid(process, not_pid=first), signal.SIGKILL)
        with pytest.raises(intake.IntakeError) as raised:
            await task
        assert raised.value.kind == intake.POISON_MESSAGE
        # and the next message is analysed by a fresh child
        assert (await process.enrich(PAYLOAD, max_doc_chars=10_000, partition=0, offset=2)).raw.doc_id == "d-1"
    finally:
        process.close()
