"""The steps of the streaming path, called directly: a recording ``send`` stands in for Kafka
(these test one function each; the path against a real broker is in tests/integration)."""

from __future__ import annotations

import json

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.structs import RecordMetadata
from clickhouse_connect.driver.exceptions import DatabaseError
from faust.exceptions import ProducerSendError

from schemas.models import DlqRecord, EnrichedDocument
from streams.pipeline.analyzer import Pipeline
from streams.retry import Backoff
from streams.settings import Settings
from streams.stream.analysis import build_pipeline
from streams.stream.sink import ClickHouseSink, RetryingInserter
from streams.stream.steps import DeliveryRefused, Message, Steps

SETTINGS = Settings(max_message_bytes=4096)
TEXT = "2023年，全县脱贫群众人均纯收入达到12,860元，比上年增长9.6%。"


class Recorder:
    """``send``: fails with the queued errors first, then records (topic, key, value)."""

    def __init__(self, *errors: Exception, refuse_over: int | None = None) -> None:
        self.errors = list(errors)
        self.refuse_over = refuse_over
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def __call__(self, topic: str, key: bytes | None, value: bytes) -> RecordMetadata:
        if self.errors:
            raise self.errors.pop(0)
        if self.refuse_over is not None and len(value) > self.refuse_over:
            raise MessageSizeTooLargeError("too large")
        self.sent.append((topic, key, value))
        return RecordMetadata(topic, 2, None, len(self.sent) + 99, -1, None, 0)

    def on(self, topic: str) -> list[dict]:
        return [json.loads(value) for t, _, value in self.sent if t == topic]


def raw(text: str = TEXT, doc_id: str = "d1", **fields: object) -> Message:
    value = json.dumps({"doc_id": doc_id, "source": "unit", "text": text, **fields}, ensure_ascii=False).encode()
    return Message("news.raw", 1, 7, doc_id.encode(), value)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return build_pipeline()


def steps(send: Recorder, pipeline: Pipeline | None = None, settings: Settings = SETTINGS) -> Steps:
    return Steps(settings, send, pipeline, backoff=Backoff(start=0.001, cap=0.001))


async def test_deliver_retries_retriable_errors_then_returns_the_metadata():
    send = Recorder(KafkaConnectionError(), ProducerSendError("wrapped"))
    send.errors[1].__cause__ = KafkaConnectionError()
    meta = await steps(send).deliver("news.enriched", b"k", b"v")
    assert send.sent == [("news.enriched", b"k", b"v")] and meta.offset == 100


async def test_deliver_raises_delivery_refused_for_a_permanent_refusal_unwrapping_faust():
    wrapped = ProducerSendError("send failed")
    wrapped.__cause__ = MessageSizeTooLargeError("over max.message.bytes")
    with pytest.raises(DeliveryRefused, match="MessageSizeTooLargeError"):
        await steps(Recorder(wrapped)).deliver("news.enriched", None, b"v")


async def test_enrich_and_publish_sends_the_enriched_document_keyed_by_doc_id(pipeline):
    send = Recorder()
    outcome = await steps(send, pipeline).enrich_and_publish(raw())
    assert (outcome.status, outcome.partition, outcome.offset) == ("published", 2, 100)
    (topic, key, value), = send.sent
    assert (topic, key) == ("news.enriched", b"d1")
    doc = EnrichedDocument.model_validate_json(value)
    assert (doc.kafka_partition, doc.kafka_offset) == (1, 7)
    assert [(m.value, m.unit) for m in doc.analysis.metrics] == [(12860, "元"), (9.6, "%")]
    assert value == outcome.payload


async def test_invalid_input_goes_to_the_dlq_with_its_kind_and_position(pipeline):
    send = Recorder()
    bad = Message("news.raw", 3, 41, b"k", b"{not json")
    outcome = await steps(send, pipeline).enrich_and_publish(bad)
    assert (outcome.status, outcome.kind) == ("dlq", "invalid_json")
    (record,) = send.on("news.dlq")
    assert (record["error"], record["topic"], record["partition"], record["offset"], record["payload"]) == (
        "invalid_json", "news.raw", 3, 41, "{not json")
    assert send.sent[0][1] == b"k"  # no doc_id known: the source key


async def test_replay_only_counts_input_that_was_dlqd_when_first_read(pipeline):
    send = Recorder()
    outcome = await steps(send, pipeline).enrich_and_publish(raw(text="   "), redo_input_dlq=False)
    assert (outcome.status, outcome.kind) == ("skipped", "empty_text") and send.sent == []


async def test_a_result_kafka_refuses_becomes_output_rejected(pipeline):
    send = Recorder(refuse_over=3000)
    outcome = await steps(send, pipeline).enrich_and_publish(raw(text=TEXT * 20))
    assert (outcome.status, outcome.kind) == ("dlq", "output_rejected")
    (record,) = send.on("news.dlq")
    assert record["doc_id"] == "d1" and "MessageSizeTooLargeError" in record["detail"]
    assert send.on("news.enriched") == []


async def test_a_dlq_record_too_large_for_kafka_is_sent_again_with_its_payload_truncated():
    send = Recorder(refuse_over=2000)
    big = Message("news.raw", 0, 5, None, ("x" * 5000).encode())
    await steps(send).send_dlq("invalid_json", "bad", big)
    (record,) = send.on("news.dlq")
    assert record["payload"] == "x" * (SETTINGS.max_message_bytes // 8)
    assert "[payload truncated: MessageSizeTooLargeError" in record["detail"]


async def test_to_sink_buffers_valid_documents_and_dlqs_invalid_ones(enriched):
    send, sink = Recorder(), ClickHouseSink(SETTINGS)
    good = Message("news.enriched", 0, 3, b"doc-1", enriched().model_dump_json().encode())
    assert await steps(send).to_sink(sink, good, ack="event")
    assert sink.pending == 1 and send.sent == []
    assert not await steps(send).to_sink(sink, Message("news.enriched", 0, 4, None, b"{}"))
    assert [r["error"] for r in send.on("news.dlq")] == ["invalid_enriched"] and sink.pending == 1
    assert not await steps(send).to_sink(sink, Message("news.enriched", 0, 5, None, b"{}"), redo_input_dlq=False)
    assert len(send.on("news.dlq")) == 1 and sink.pending == 1


async def test_flush_dlqs_what_clickhouse_refuses_for_good(enriched):
    class Refusing(RetryingInserter):
        def _insert_tables(self, inserts):
            raise DatabaseError("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)")

    send = Recorder()
    sink = ClickHouseSink(SETTINGS, inserter=Refusing(SETTINGS))
    payload = enriched().model_dump_json().encode()
    await steps(send).to_sink(sink, Message("news.enriched", 1, 9, b"doc-1", payload))
    result = await steps(send).flush(sink)
    assert result.written == [] and len(result.rejected) == 1
    record = DlqRecord.model_validate(send.on("news.dlq")[0])
    assert (record.error, record.topic, record.partition, record.offset, record.doc_id) == (
        "sink_rejected", "news.enriched", 1, 9, "doc-1")
    assert record.detail.startswith("ClickHouse error 53") and record.payload == payload.decode()


async def test_a_document_over_the_figure_limits_goes_to_the_dlq_with_its_payload():
    from streams.pipeline.types import Limits

    send = Recorder()
    small = build_pipeline(limits=Limits(figures_per_sentence=2, figures_per_document=10))
    message = raw(text="全镇建成冷库3座、车间4个、站点5处。")
    outcome = await steps(send, small).enrich_and_publish(message, redo_input_dlq=False)
    assert (outcome.status, outcome.kind) == ("dlq", "too_many_figures")
    (record,) = send.on("news.dlq")
    assert record["detail"].startswith("more than 2 figures in one sentence")
    assert record["payload"] == message.value.decode() and record["doc_id"] == "d1"
    assert send.on("news.enriched") == []


async def test_a_message_that_killed_the_worker_twice_goes_to_the_dlq_as_poison(pipeline, tmp_path):
    from streams.stream.poison import InflightMarks

    marks = InflightMarks(tmp_path)
    message = raw()
    marks.begin(message.topic, message.partition, message.offset)  # two earlier attempts died
    marks.begin(message.topic, message.partition, message.offset)
    send = Recorder()
    walker = Steps(SETTINGS, send, pipeline, backoff=Backoff(start=0.001, cap=0.001), marks=marks)
    outcome = await walker.enrich_and_publish(message)
    assert (outcome.status, outcome.kind) == ("dlq", "poison_message")
    (record,) = send.on("news.dlq")
    assert record["payload"] == message.value.decode() and "died 2 times" in record["detail"]
    assert send.on("news.enriched") == [] and list(tmp_path.iterdir()) == []
    assert (await walker.enrich_and_publish(raw(doc_id="d2"))).status == "published"


async def test_the_in_flight_mark_covers_the_analysis_not_the_send(pipeline, tmp_path):
    """Partitions run side by side: a message whose output is still on its way to the broker when
    the worker dies must not count as having killed it."""
    import asyncio

    from streams.stream.poison import InflightMarks

    marks = InflightMarks(tmp_path)
    release = asyncio.Event()
    marks_while_sending: list[list[str]] = []

    async def slow_send(topic: str, key: bytes | None, value: bytes) -> RecordMetadata:
        marks_while_sending.append(sorted(p.name for p in tmp_path.glob("*.json")))
        await release.wait()
        return RecordMetadata(topic, 0, None, 1, -1, None, 0)

    walker = Steps(SETTINGS, slow_send, pipeline, backoff=Backoff(start=0.001, cap=0.001), marks=marks)
    first = asyncio.create_task(walker.enrich_and_publish(raw(doc_id="a")))
    second = asyncio.create_task(walker.enrich_and_publish(Message("news.raw", 2, 9, b"b", raw(doc_id="b").value)))
    async def both_sending() -> None:
        while len(marks_while_sending) < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(both_sending(), timeout=30)
    release.set()
    assert [(await first).status, (await second).status] == ["published", "published"]
    assert marks_while_sending == [[], []]


class Starter(Recorder):
    """``start``: takes every message at once; the broker's acks come only when released."""

    def __init__(self, *failures: Exception) -> None:
        super().__init__()
        self.failures = list(failures)
        self.released = None

    async def start(self, topic: str, key: bytes | None, value: bytes):
        import asyncio

        if self.released is None:
            self.released = asyncio.Event()
        failure = self.failures.pop(0) if self.failures else None
        self.sent.append((topic, key, value))
        offset = len(self.sent) + 99

        async def acked() -> RecordMetadata:
            await self.released.wait()
            if failure is not None:
                raise failure
            return RecordMetadata(topic, 2, None, offset, -1, None, 0)

        return acked()


def raws(*doc_ids: str) -> list[Message]:
    return [Message("news.raw", 1, 7 + i, d.encode(), raw(doc_id=d).value) for i, d in enumerate(doc_ids)]


async def test_a_batch_is_handed_to_the_producer_whole_before_any_ack_and_finished_in_order(pipeline):
    starter = Starter()
    walker = Steps(SETTINGS, starter, pipeline, backoff=Backoff(start=0.001, cap=0.001), start=starter.start)
    messages = raws("a", "b", "c")
    wired = await walker.enrich_many(messages)
    assert [w.doc_id for w in wired] == ["a", "b", "c"]
    publishing = [await walker.begin_publish(m, w) for m, w in zip(messages, wired, strict=True)]
    assert [key for _, key, _ in starter.sent] == [b"a", b"b", b"c"]  # all three before any ack
    starter.released.set()
    outcomes = [await walker.finish_publish(p) for p in publishing]
    assert [(o.status, o.offset) for o in outcomes] == [("published", 100), ("published", 101), ("published", 102)]
    assert [EnrichedDocument.model_validate_json(p.wired.value).raw.doc_id for p in publishing] == ["a", "b", "c"]


async def test_a_pipelined_send_that_fails_is_delivered_again_or_dlqd_when_refused(pipeline):
    starter = Starter(KafkaConnectionError("broker gone"), MessageSizeTooLargeError("too large"))
    fallback = Recorder()

    async def send(topic: str, key: bytes | None, value: bytes) -> RecordMetadata:
        if key == b"b" and topic == "news.enriched":  # refused again when delivered alone
            raise MessageSizeTooLargeError("too large")
        return await fallback(topic, key, value)

    walker = Steps(SETTINGS, send, pipeline, backoff=Backoff(start=0.001, cap=0.001), start=starter.start)
    messages = raws("a", "b")
    publishing = [await walker.begin_publish(m, w) for m, w in zip(messages, await walker.enrich_many(messages),
                                                                      strict=True)]
    starter.released.set()
    first, second = [await walker.finish_publish(p) for p in publishing]
    assert first.status == "published" and [k for t, k, _ in fallback.sent if t == "news.enriched"] == [b"a"]
    assert (second.status, second.kind) == ("dlq", "output_rejected")
    (record,) = fallback.on("news.dlq")
    assert record["offset"] == 8 and record["error"] == "output_rejected"


async def test_an_error_result_is_dlqd_by_finish_publish_not_sent(pipeline):
    starter = Starter()
    walker = Steps(SETTINGS, starter, pipeline, backoff=Backoff(start=0.001, cap=0.001), start=starter.start)
    bad = Message("news.raw", 0, 3, b"x", b"{not json")
    (wired,) = await walker.enrich_many([bad])
    publishing = await walker.begin_publish(bad, wired)
    assert publishing.sent is None and starter.sent == []
    outcome = await walker.finish_publish(publishing)
    assert (outcome.status, outcome.kind) == ("dlq", "invalid_json")
    assert [r["error"] for r in starter.on("news.dlq")] == ["invalid_json"]


async def test_batch_marks_name_what_is_in_flight_and_what_a_dead_worker_left_is_analysed_alone(
        pipeline, tmp_path):
    from streams.stream.poison import InflightMarks

    seen: list[tuple] = []

    class Spy(InflightMarks):
        def begin(self, topic: str, partition: int, offset: int) -> int:
            seen.append(("alone", partition, offset))
            return super().begin(topic, partition, offset)

        def batches(self, topic: str, partition: int, offsets: list[int]) -> None:
            seen.append(("batches", partition, sorted(offsets)))
            super().batches(topic, partition, offsets)

    InflightMarks(tmp_path).batches("news.raw", 1, [8, 9])  # a worker died analysing these
    InflightMarks(tmp_path).batches("news.raw", 2, [4])
    walker = Steps(SETTINGS, Recorder(), pipeline, backoff=Backoff(start=0.001, cap=0.001), marks=Spy(tmp_path))
    messages = raws("a", "b", "c") + [Message("news.raw", 3, 50, b"d", raw(doc_id="d").value)]
    wired = await walker.enrich_many(messages)
    assert [w.doc_id for w in wired] == ["a", "b", "c", "d"] and all(w.value for w in wired)
    # 8 and 9 alone, then 7 and 50 in a batch (each partition's own mark)
    assert seen == [("alone", 1, 8), ("alone", 1, 9), ("batches", 1, [7]), ("batches", 3, [50]),
                    ("batches", 1, []), ("batches", 3, [])]
    # partition 2's suspect, seen later, is analysed alone too
    later = [Message("news.raw", 2, 4, b"e", raw(doc_id="e").value), Message("news.raw", 2, 5, b"f", raw(doc_id="f").value)]
    assert [w.doc_id for w in await walker.enrich_many(later)] == ["e", "f"]
    assert seen[6:] == [("alone", 2, 4), ("batches", 2, [5]), ("batches", 2, [])]
    assert list(tmp_path.iterdir()) == []


async def test_overlapping_batches_are_all_named_in_the_mark_until_each_is_done(pipeline, tmp_path):
    import asyncio
    import json as _json

    from streams.stream.poison import InflightMarks

    class Gate(Steps):
        async def _enrich_batch(self, messages):
            await release.wait()
            return await super()._enrich_batch(messages)

    release = asyncio.Event()
    walker = Gate(SETTINGS, Recorder(), pipeline, backoff=Backoff(start=0.001, cap=0.001),
                  marks=InflightMarks(tmp_path))
    first = asyncio.create_task(walker.enrich_many(raws("a", "b")))
    second = asyncio.create_task(walker.enrich_many([Message("news.raw", 1, 20, b"c", raw(doc_id="c").value),
                                                     Message("news.raw", 0, 3, b"d", raw(doc_id="d").value)]))
    mark = tmp_path / "news.raw-1.batches.json"
    deadline = asyncio.get_running_loop().time() + 30
    while not (mark.exists() and len(_json.loads(mark.read_text())["offsets"]) == 3):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert _json.loads(mark.read_text()) == {"offsets": [7, 8, 20]}
    assert _json.loads((tmp_path / "news.raw-0.batches.json").read_text()) == {"offsets": [3]}
    release.set()
    assert [w.doc_id for w in await first] == ["a", "b"] and [w.doc_id for w in await second] == ["c", "d"]
    assert list(tmp_path.iterdir()) == []
