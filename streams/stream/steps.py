"""The steps of the streaming path, shared by the Faust agents and by ``newsetl replay``:

    decode/validate → enrich → publish-or-DLQ → sink (→ DLQ what ClickHouse refuses for good)

:class:`Steps` knows nothing of Faust or of consumers: it is given one ``send`` function (a Faust
topic send in the worker, an aiokafka producer in replay) and works on anything shaped like a
Kafka message (``topic``, ``partition``, ``offset``, ``key``, ``value``: Faust's ``Message`` and
aiokafka's ``ConsumerRecord`` both are). The callers decide only when to ack or commit: a message
may be acked once the step that handled it returned, because every step returns only after its
output (the enriched record, the DLQ record or the ClickHouse rows) is durable.
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
from streams.stream.enrich import enrich_payload
from streams.stream.poison import InflightMarks
from streams.stream.sink import ClickHouseSink, FlushResult, PendingDoc

log = logging.getLogger("newsetl.stream")

#: ``send(topic, key, value)`` → the broker's record metadata once it acknowledged the message.
SendFn = Callable[[str, bytes | None, bytes], Awaitable[Any]]


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
    doc: EnrichedDocument | None = None
    payload: bytes = b""
    partition: int = -1
    offset: int = -1


def _refusal(exc: BaseException) -> BaseException | None:
    """The underlying error when ``exc`` is a permanent Kafka refusal, else None (retry it)."""
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    return None if getattr(cause, "retriable", False) else cause


class Steps:
    """The steps of the path, bound to one sender, one pipeline and the settings."""

    def __init__(self, settings: Settings, send: SendFn, pipeline: Pipeline | None = None,
                 backoff: Backoff | None = None, marks: InflightMarks | None = None,
                 process: AnalysisProcess | None = None) -> None:
        self.settings = settings
        self._send = send
        self.pipeline = pipeline
        self.process = process
        self._backoff = backoff or Backoff(start=0.5, cap=30.0)
        self.marks = marks
        # one analysis at a time (the GIL allows no more anyway): when the process dies, only the
        # message being analysed carries an in-flight mark, even with partitions run side by side
        self._analysing = asyncio.Lock()

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

    async def enrich(self, message: MessageLike) -> EnrichedDocument:
        """Validate and analyse a ``news.raw`` message (off the event loop: in the analysis process
        when there is one, else in a thread); raises IntakeError."""
        if self.process is not None:
            return await self.process.enrich(message.value, max_doc_chars=self.settings.max_doc_chars,
                                             partition=message.partition, offset=message.offset)
        if self.pipeline is None:
            raise RuntimeError("these steps were built without a pipeline")
        return await asyncio.to_thread(enrich_payload, self.pipeline, message.value,
                                       max_doc_chars=self.settings.max_doc_chars,
                                       partition=message.partition, offset=message.offset)

    async def publish(self, doc: EnrichedDocument, message: MessageLike) -> Outcome:
        """Publish an enriched document to news.enriched; a Kafka refusal becomes an
        ``output_rejected`` DLQ record for the source message."""
        payload = doc.to_wire()
        try:
            meta = await self.deliver(self.settings.enriched_topic, doc.raw.doc_id.encode("utf-8"), payload)
        except DeliveryRefused as exc:
            await self.send_dlq(intake.OUTPUT_REJECTED, f"news.enriched refused the result: {exc}", message,
                                doc.raw.doc_id)
            return Outcome("dlq", intake.OUTPUT_REJECTED, doc)
        ENRICHED.inc()
        return Outcome("published", doc=doc, payload=payload, partition=getattr(meta, "partition", -1),
                       offset=getattr(meta, "offset", -1))

    async def enrich_and_publish(self, message: MessageLike, *, redo_input_dlq: bool = True) -> Outcome:
        """One ``news.raw`` message → news.enriched, or a DLQ record. With ``redo_input_dlq``
        false (replay), input that was refused when first read is only counted: its DLQ record
        exists already; failures of the analysis itself are always new and always DLQ'd.
        With marks, a message that killed the process twice while it was analysed is not analysed
        a third time (the mark covers the analysis only: a send in flight cannot be the culprit)."""
        try:
            async with self._analysing:
                doc = await self._analyse(message)
        except intake.IntakeError as exc:
            if redo_input_dlq or exc.kind in intake.ANALYSIS_KINDS or exc.kind == intake.POISON_MESSAGE:
                await self.send_dlq(exc.kind, exc.detail, message, exc.doc_id)
                return Outcome("dlq", exc.kind)
            return Outcome("skipped", exc.kind)
        return await self.publish(doc, message)

    async def _analyse(self, message: MessageLike) -> EnrichedDocument:
        if self.marks is None:
            return await self.enrich(message)
        died = self.marks.begin(message.topic, message.partition, message.offset)
        try:
            if self.marks.is_poison(died):
                raise intake.IntakeError(intake.POISON_MESSAGE, f"the worker died {died} times while analysing "
                                         "this message; it is not analysed again")
            return await self.enrich(message)
        finally:
            self.marks.done(message.topic, message.partition)

    async def to_sink(self, sink: ClickHouseSink, message: MessageLike, ack: Any = None, *,
                      redo_input_dlq: bool = True) -> bool:
        """Buffer a ``news.enriched`` message in the sink; one that is not a valid enriched
        document goes to the DLQ as ``invalid_enriched`` instead (returns False: ack it now).
        With ``redo_input_dlq`` false (replay) it is only refused: the worker DLQ'd it already."""
        try:
            doc = EnrichedDocument.model_validate_json(message.value or b"")
        except ValidationError as exc:
            if redo_input_dlq:
                await self.send_dlq(intake.INVALID_ENRICHED, str(exc.errors()[0])[:500], message)
            return False
        sink.add(PendingDoc(doc, message.topic, message.partition, message.offset, message.value or b"", ack))
        return True

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
