"""The worker's analysis in a child process: same result as in-process, errors kept, a batch's
results in order, a child that dies is replaced once (a batch's messages are then tried alone),
dying twice on a message makes it a poison message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from schemas.models import EnrichedDocument
from streams.pipeline.types import DEFAULT_LIMITS
from streams.stream import intake
from streams.stream.analysis import build_pipeline
from streams.stream.analysis_process import AnalysisProcess
from streams.stream.enrich import enrich_wire

TEXT = "青石县今年新建蔬菜大棚120座，带动脱贫户65户稳定增收，户均增收3200元。"
PAYLOAD = json.dumps({"doc_id": "d-1", "source": "test", "title": "青石县蔬菜产业", "text": TEXT},
                     ensure_ascii=False).encode()


async def enrich(process: AnalysisProcess, payload: bytes, *, max_doc_chars: int, partition: int,
                 offset: int) -> EnrichedDocument:
    """One message through the child: its enriched document, or its IntakeError raised."""
    (wired,) = await process.enrich_many([(payload, partition, offset)], max_doc_chars=max_doc_chars)
    error = wired.error()
    if error is not None:
        raise error
    assert wired.value is not None
    return EnrichedDocument.model_validate_json(wired.value)


@pytest.fixture(scope="module")
def process() -> Iterator[AnalysisProcess]:
    child = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    yield child
    child.close()


async def test_same_result_as_in_process(process: AnalysisProcess) -> None:
    got = await enrich(process, PAYLOAD, max_doc_chars=10_000, partition=2, offset=7)
    in_process = enrich_wire(build_pipeline(), PAYLOAD, max_doc_chars=10_000, partition=2, offset=7)
    assert in_process.value is not None
    want = EnrichedDocument.model_validate_json(in_process.value)  # as the sink reads both
    moments = {"processed_at": True, "raw": {"ingested_at"}}  # each run's own clock
    assert got.model_dump(exclude=moments) == want.model_dump(exclude=moments)
    assert (got.kafka_partition, got.kafka_offset) == (2, 7)


async def test_a_batch_comes_back_in_order_with_each_message_its_own_result(process: AnalysisProcess) -> None:
    other = json.dumps({"doc_id": "d-9", "source": "test", "text": "全乡发放助学金18万元。"}, ensure_ascii=False).encode()
    got = await process.enrich_many([(PAYLOAD, 0, 1), (b"", 0, 2), (other, 1, 5)], max_doc_chars=10_000)
    assert [(w.doc_id, w.kind) for w in got] == [("d-1", ""), (None, intake.EMPTY_MESSAGE), ("d-9", "")]
    assert got[1].value is None and got[1].error() is not None and got[0].error() is None
    assert got[2].value is not None
    doc = EnrichedDocument.model_validate_json(got[2].value)
    assert [(m.span, m.topic) for m in doc.analysis.metrics] == [("18万元", "教育")]
    assert (doc.kafka_partition, doc.kafka_offset) == (1, 5)


async def test_the_source_region_of_a_message_reaches_its_figures(process: AnalysisProcess) -> None:
    text = "全县今年新建蔬菜大棚120座。"
    payload = json.dumps({"doc_id": "d-2", "source": "test", "text": text, "source_region": "江西省赣州市"},
                         ensure_ascii=False).encode()
    got = await enrich(process, payload, max_doc_chars=10_000, partition=0, offset=1)
    assert got.raw.source_region == "江西省赣州市"
    assert [(m.span, m.region, m.region_code) for m in got.analysis.metrics] == [("120座", "江西省赣州市", "360700")]
    assert (got.analysis.doc.regions, got.analysis.doc.region_codes) == (["江西省赣州市"], ["360700"])


async def test_intake_errors_come_back_with_their_kind(process: AnalysisProcess) -> None:
    with pytest.raises(intake.IntakeError) as raised:
        await enrich(process, b"{not json", max_doc_chars=10_000, partition=0, offset=0)
    assert raised.value.kind == intake.INVALID_JSON
    with pytest.raises(intake.IntakeError) as raised:
        await enrich(process, PAYLOAD, max_doc_chars=10, partition=0, offset=0)
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
        task = asyncio.create_task(enrich(process, PAYLOAD, max_doc_chars=10_000, partition=0, offset=1))
        os.kill(await _child_pid(process), signal.SIGKILL)
        doc = await task
        assert doc.raw.doc_id == "d-1"
    finally:
        process.close()


async def test_a_child_killed_during_a_batch_is_replaced_and_each_message_tried_alone() -> None:
    process = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    try:
        items = [(PAYLOAD, 0, offset) for offset in range(40)]
        task = asyncio.create_task(process.enrich_many(items, max_doc_chars=10_000))
        os.kill(await _child_pid(process), signal.SIGKILL)
        got = await task
        assert [w.doc_id for w in got] == ["d-1"] * 40 and all(w.value is not None for w in got)
    finally:
        process.close()


async def test_dying_twice_on_a_message_makes_it_poison() -> None:
    process = AnalysisProcess(None, "rjieba", DEFAULT_LIMITS)
    try:
        task = asyncio.create_task(enrich(process, PAYLOAD, max_doc_chars=10_000, partition=0, offset=1))
        first = await _child_pid(process)
        os.kill(first, signal.SIGKILL)
        os.kill(await _child_pid(process, not_pid=first), signal.SIGKILL)
        with pytest.raises(intake.IntakeError) as raised:
            await task
        assert raised.value.kind == intake.POISON_MESSAGE
        # and the next message is analysed by a fresh child
        assert (await enrich(process, PAYLOAD, max_doc_chars=10_000, partition=0, offset=2)).raw.doc_id == "d-1"
    finally:
        process.close()
