"""The steps of the streaming path, shared by the Faust agents and by ``newsetl replay``:

    decode/validate → enrich → publish-or-DLQ → sink (→ DLQ what ClickHouse refuses for good)

:class:`Steps` knows nothing of Faust or of consumers: it is given one ``send`` function (a Faust
topic send in the worker, an aiokafka producer in replay) and works on anything shaped like a
Kafka message (``topic``, ``partition``, ``offset``, ``key``, ``value``: Faust's ``Message`` and
aiokafka's ``ConsumerRecord`` both are). The callers decide only when to ack or commit: a message
may be acked once the step that handled it returned, because every step returns only after its
output (the enriched record, the DLQ record or the ClickHouse rows) is durable.

The worker pipelines: :meth:`Steps.enrich_many` analyses a take's messages in one batch,
:meth:`Steps.begin_publish` hands each result to the producer without waiting for the broker, and
:meth:`Steps.finish_publish` waits for that one acknowledgement (or delivers again, or DLQs what
Kafka refuses); the worker acks each message after its own ``finish_publish``, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from pydantic import ValidationError

from schemas.models import EnrichedDocument
from streams.observability import BATCH_SECONDS, DLQ, DOCUMENTS, ENRICHED, METRICS
from streams.pipeline.analyzer import Pipeline
from streams.retry import Backoff
from streams.settings import Settings
from streams.stream import intake
from streams.stream.analysis_process import AnalysisProcess
from streams.stream.dlq import dlq_key, dlq_record
from streams.stream.enrich import Wired, enrich_wire
from streams.stream.poison import InflightMarks
from streams.stream.sink import DOCS_BETWEEN_YIELDS, ClickHouseSink, FlushResult, PendingDoc

log = logging.getLogger("newsetl.stream")

#: ``send(topic, key, value)`` → the broker's record metadata once it acknowledged the message.
SendFn = Callable[[str, bytes | None, bytes], Awaitable[Any]]
#: ``start(topic, key, value)`` → once the producer took the message: an awaitable of its metadata.
StartFn = Callable[[str, bytes | None, bytes], Awaitable[Awaitable[Any]]]


class MessageLike(Protocol):
    """What the steps read of a consumed message (Faust ``Message``, aiokafka ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Message:
    """A message built by hand (tests, replay's own sink over what it published)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class DeliveryRefused(Exception):
    """Kafka refused a message for good (not worth retrying)."""


@dataclass(slots=True)
class Outcome:
    """What became of one raw message: ``published`` (with the enriched record's position),
    ``dlq`` (a DLQ record was delivered) or ``skipped`` (refused, and the DLQ record is not ours
    to write again: see :meth:`Steps.enrich_and_publish`)."""

    status: Literal["published", "dlq", "skipped"]
    kind: str = ""
    payload: bytes = b""
    partition: int = -1
    offset: int = -1


@dataclass(slots=True)
class Publishing:
    """A raw message's result on its way: the send in flight (None: not started, or an error to
    DLQ) for the value of ``wired``."""

    message: MessageLike
    wired: Wired
    sent: Awaitable[Any] | None = None


def _refusal(exc: BaseException) -> BaseException | None:
    """The underlying error when ``exc`` is a permanent Kafka refusal, else None (retry it)."""
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    return None if getattr(cause, "retriable", False) else cause


class Steps:
    """The steps of the path, bound to one sender, one pipeline and the settings."""

    def __init__(self, settings: Settings, send: SendFn, pipeline: Pipeline | None = None,
                 backoff: Backoff | None = None, marks: InflightMarks | None = None,
                 process: AnalysisProcess | None = None, start: StartFn | None = None) -> None:
        self.settings = settings
        self._send = send
        self._start = start
        self.pipeline = pipeline
        self.process = process
        self._backoff = backoff or Backoff(start=0.5, cap=30.0)
        self.marks = marks
        # Batches may be analysed while the previous ones are (queued in the analysis process);
        # a partition's batch mark names the offsets of all of them in it, and of the messages a
        # dead worker left behind that were not analysed alone yet (read once per partition). A
        # message analysed alone (its mark counts deaths) waits until no batch is in flight.
        self._batches: list[dict[tuple[str, int], list[int]]] = []
        self._suspects: dict[tuple[str, int], set[int]] = {}
        self._exclusive = asyncio.Condition()
        self._in_thread = asyncio.Lock()  # without the analysis process: one analysis at a time

    async def deliver(self, topic: str, key: bytes | None, value: bytes) -> Any:
        """Send and wait for the broker's ack, retrying retriable errors for as long as it takes
        (an error escaping an agent's loop could let Faust ack the message being handled).
        A permanent refusal (e.g. a message over max.message.bytes) raises DeliveryRefused."""
        delays = self._backoff.delays()
        while True:
            try:
                return await self._send(topic, key, value)
            except (KafkaError, ProducerSendError) as exc:
                refused = _refusal(exc)
                if refused is not None:
                    raise DeliveryRefused(f"{type(refused).__name__}: {refused}") from exc
                delay = next(delays)
                log.warning("kafka send failed, retrying", extra={"topic": topic, "error": str(exc), "backoff_s": delay})
                await asyncio.sleep(delay)

    async def send_dlq(self, kind: str, detail: str, message: MessageLike, doc_id: str | None = None) -> None:
        """Deliver a DLQ record for ``message`` (returns once the broker has it)."""
        record = dlq_record(kind, detail, topic=message.topic, partition=message.partition, offset=message.offset,
                            payload=message.value, doc_id=doc_id)
        key = dlq_key(doc_id, message.key)
        try:
            await self.deliver(self.settings.dlq_topic, key, record.model_dump_json().encode())
        except DeliveryRefused as exc:
            # Only the payload can make a record too large: keep its head, say so, send again.
            record.payload = record.payload[: self.settings.max_message_bytes // 8]
            record.detail = f"{record.detail} [payload truncated: {exc}]"[:2000]
            await self.deliver(self.settings.dlq_topic, key, record.model_dump_json().encode())
        DLQ.labels(kind=kind).inc()
        log.warning("dlq", extra={"kind": kind, "detail": detail[:200], "topic": message.topic,
                                   "partition": message.partition, "offset": message.offset})

    async def _publish_value(self, doc_id: str, payload: bytes, message: MessageLike,
                             sent: Awaitable[Any] | None = None) -> Outcome:
        meta = None
        if sent is not None:
            try:
                meta = await sent
            except (KafkaError, ProducerSendError):
                meta = None  # delivered again below: retried, or refused for good
        if meta is None:
            try:
                meta = await self.deliver(self.settings.enriched_topic, doc_id.encode("utf-8"), payload)
            except DeliveryRefused as exc:
                await self.send_dlq(intake.OUTPUT_REJECTED, f"news.enriched refused the result: {exc}", message,
                                    doc_id)
                return Outcome("dlq", intake.OUTPUT_REJECTED)
        ENRICHED.inc()
        return Outcome("published", payload=payload, partition=getattr(meta, "partition", -1),
                       offset=getattr(meta, "offset", -1))

    async def enrich_many(self, messages: list[MessageLike]) -> list[Wired]:
        """Validate and analyse ``news.raw`` messages, in one batch off the event loop; each result
        in order. Calls may overlap. With marks, a message a dead worker was analysing is analysed
        alone first (only alone can a death count against it: see :mod:`streams.stream.poison`);
        the marks cover the analysis only, so a send in flight cannot be taken for the culprit."""
        results: dict[int, Wired] = {}
        alone: list[int] = []
        if self.marks is not None and len(messages) == 1:
            alone = [0]
        elif self.marks is not None:
            for m in messages:
                tp = (m.topic, m.partition)
                if tp not in self._suspects:  # at first sight: before our own marks replace them
                    self._suspects[tp] = self.marks.left_alone(*tp) | self.marks.left_in_batches(*tp)
            alone = [i for i, m in enumerate(messages) if m.offset in self._suspects[(m.topic, m.partition)]]
        if alone:
            async with self._exclusive:
                await self._exclusive.wait_for(lambda: not self._batches)
                for i in alone:
                    m = messages[i]
                    try:
                        results[i] = await self._analyse_marked(m)
                    except intake.IntakeError as exc:
                        results[i] = Wired(exc.doc_id, None, exc.kind, exc.detail)
                    self._suspects.get((m.topic, m.partition), set()).discard(m.offset)
        rest = [i for i in range(len(messages)) if i not in results]
        if rest:
            batch = [messages[i] for i in rest]
            partitions: dict[tuple[str, int], list[int]] = {}
            for m in batch:
                partitions.setdefault((m.topic, m.partition), []).append(m.offset)
            async with self._exclusive:
                self._batches.append(partitions)
                self._write_batch_marks(partitions)
            try:
                wired = await self._enrich_batch(batch)
            finally:
                async with self._exclusive:
                    self._batches.remove(partitions)
                    self._write_batch_marks(partitions)
                    self._exclusive.notify_all()
            results.update(zip(rest, wired, strict=True))
        return [results[i] for i in range(len(messages))]

    def _write_batch_marks(self, changed: dict[tuple[str, int], list[int]]) -> None:
        """The batch marks of the partitions in ``changed``: every batch in flight, and the suspects."""
        if self.marks is None:
            return
        for tp in changed:
            offsets = [o for batch in self._batches for o in batch.get(tp, [])]
            self.marks.batches(*tp, [*self._suspects.get(tp, set()), *offsets])

    async def _analyse_marked(self, message: MessageLike) -> Wired:
        assert self.marks is not None
        died = self.marks.begin(message.topic, message.partition, message.offset)
        try:
            if self.marks.is_poison(died):
                raise intake.IntakeError(intake.POISON_MESSAGE, f"the worker died {died} times while analysing "
                                         "this message; it is not analysed again")
            (wired,) = await self._enrich_batch([message])
            return wired
        finally:
            self.marks.done(message.topic, message.partition)

    async def _enrich_batch(self, messages: list[MessageLike]) -> list[Wired]:
        limit = self.settings.max_doc_chars
        if self.process is not None:
            return await self.process.enrich_many([(m.value, m.partition, m.offset) for m in messages],
                                                  max_doc_chars=limit)
        pipeline = self.pipeline
        if pipeline is None:
            raise RuntimeError("these steps were built without a pipeline")
        async with self._in_thread:
            return await asyncio.to_thread(lambda: [
                enrich_wire(pipeline, m.value, max_doc_chars=limit, partition=m.partition, offset=m.offset)
                for m in messages])

    async def begin_publish(self, message: MessageLike, wired: Wired) -> Publishing:
        """Hand ``wired``'s value to the producer (returns once it took it, not once the broker
        acknowledged it); an error result is left for :meth:`finish_publish` to DLQ."""
        publishing = Publishing(message, wired)
        if wired.value is not None and wired.doc_id is not None and self._start is not None:
            try:
                publishing.sent = await self._start(self.settings.enriched_topic, wired.doc_id.encode("utf-8"),
                                                    wired.value)
            except (KafkaError, ProducerSendError):
                publishing.sent = None  # finish_publish delivers it (retrying) or DLQs the refusal
        return publishing

    async def finish_publish(self, publishing: Publishing, *, redo_input_dlq: bool = True) -> Outcome:
        """Wait until the result of :meth:`begin_publish` is durable: published, or its DLQ record
        delivered. With ``redo_input_dlq`` false (replay) input refused when first read is only
        counted, as in :meth:`enrich_and_publish`."""
        wired, message = publishing.wired, publishing.message
        error = wired.error()
        if error is not None:
            if redo_input_dlq or error.kind in intake.ANALYSIS_KINDS or error.kind == intake.POISON_MESSAGE:
                await self.send_dlq(error.kind, error.detail, message, error.doc_id)
                return Outcome("dlq", error.kind)
            return Outcome("skipped", error.kind)
        assert wired.value is not None and wired.doc_id is not None
        return await self._publish_value(wired.doc_id, wired.value, message, publishing.sent)

    async def enrich_and_publish(self, message: MessageLike, *, redo_input_dlq: bool = True) -> Outcome:
        """One ``news.raw`` message → news.enriched, or a DLQ record (replay's path: one message at
        a time). With ``redo_input_dlq`` false (replay), input that was refused when first read is
        only counted: its DLQ record exists already; failures of the analysis itself are always new
        and always DLQ'd."""
        (wired,) = await self.enrich_many([message])
        return await self.finish_publish(await self.begin_publish(message, wired), redo_input_dlq=redo_input_dlq)

    async def to_sink(self, sink: ClickHouseSink, message: MessageLike, ack: Any = None, *,
                      redo_input_dlq: bool = True) -> bool:
        """Buffer a ``news.enriched`` message in the sink; one that is not a valid enriched
        document goes to the DLQ as ``invalid_enriched`` instead (returns False: ack it now).
        With ``redo_input_dlq`` false (replay) it is only refused: the worker DLQ'd it already."""
        (doc,) = await self.read_enriched([message], redo_input_dlq=redo_input_dlq)
        if doc is None:
            return False
        sink.add(PendingDoc.of(doc, message, ack))
        return True

    async def read_enriched(self, messages: list[MessageLike], *,
                            redo_input_dlq: bool = True) -> list[EnrichedDocument | None]:
        """Parse ``news.enriched`` messages (letting the event loop run between a few: it keeps
        feeding the analysis process meanwhile); one that is not a valid enriched document is None, and DLQ'd as
        ``invalid_enriched`` unless ``redo_input_dlq`` is false (replay: the worker DLQ'd it)."""
        docs: list[EnrichedDocument | None] = []
        for i, message in enumerate(messages):
            if i % DOCS_BETWEEN_YIELDS == DOCS_BETWEEN_YIELDS - 1:
                await asyncio.sleep(0)
            doc = _parse_enriched(message.value)
            if isinstance(doc, ValidationError):
                if redo_input_dlq:
                    await self.send_dlq(intake.INVALID_ENRICHED, str(doc.errors()[0])[:500], message)
                doc = None
            docs.append(doc)
        return docs

    async def flush(self, sink: ClickHouseSink) -> FlushResult:
        """Write the sink's batch; what ClickHouse refused for good goes to the DLQ as
        ``sink_rejected``. Every document in the result may be acked when this returns."""
        result = await sink.flush()
        for item, reason in result.rejected:
            await self.send_dlq(intake.SINK_REJECTED, reason, Message(item.topic, item.partition, item.offset,
                                                                       None, item.payload), item.doc.raw.doc_id)
        if result.written or result.rejected:
            BATCH_SECONDS.observe(result.seconds)
            DOCUMENTS.inc(len(result.written))
            METRICS.inc(sum(len(i.doc.analysis.metrics) for i in result.written))
            log.info("batch written", extra={
                "docs": len(result.written), "rejected": len(result.rejected), "rows": result.rows,
                "latency_ms": round(result.seconds * 1000, 1), "attempts": result.attempts,
            })
        return result


def _parse_enriched(value: bytes | None) -> EnrichedDocument | ValidationError:
    try:
        return EnrichedDocument.model_validate_json(value or b"")
    except ValidationError as exc:
        return exc
