"""The Faust app: topics named once, one agent per concern, wired in one readable place.

    news.raw ──enrich──▶ news.enriched ──sink──▶ ClickHouse (documents, paragraphs, metrics)
        └──(invalid / failed)──▶ news.dlq ──dlq_sink──▶ ClickHouse (dlq)

All agents run with concurrency=1 (faust can commit past an in-flight message otherwise); scale by
partitions and worker processes. Acks: ``enrich`` is acked by faust after its loop body returned,
i.e. after the enriched or DLQ record was acknowledged by the broker; the sinks use
``noack_take`` and ack an event only after ClickHouse acknowledged its rows (or its DLQ record
was delivered), so nothing read is ever lost silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from typing import Any, NoReturn

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from pydantic import ValidationError

from schemas.models import EnrichedDocument
from streams.observability import BATCH_SECONDS, DLQ, DOCUMENTS, ENRICHED, LAG, METRICS
from streams.pipeline.analyzer import get_pipeline
from streams.settings import Settings
from streams.stream import intake
from streams.stream.dlq import dlq_key, dlq_record
from streams.stream.enrich import enrich_payload
from streams.stream.rows import DLQ_COLUMNS, dlq_rows
from streams.stream.sink import ClickHouseSink, PendingDoc, RetryingInserter

log = logging.getLogger("newsetl.worker")


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker_group,
        broker=settings.kafka_broker,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        store="memory://",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=False,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_max_request_size=settings.max_message_bytes,
        producer_compression_type="gzip",
        consumer_max_fetch_size=settings.max_fetch_bytes,
    )
    raw_topic = app.topic(settings.raw_topic, key_serializer="raw", value_serializer="raw")
    enriched_topic = app.topic(settings.enriched_topic, key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")
    pipeline = get_pipeline(settings)

    async def deliver(topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
        """Send and wait for the broker's ack, retrying retriable errors for as long as it takes
        (an exception escaping an agent's loop could let faust ack the message being handled).
        A permanent refusal (e.g. a message over max.message.bytes) raises DeliveryRefused."""
        backoff = 0.5
        while True:
            try:
                future = await topic.send(key=key, value=value)
                await future
                return
            except (KafkaError, ProducerSendError) as exc:
                cause = exc.__cause__ if isinstance(exc, ProducerSendError) else exc
                if not getattr(cause, "retriable", False):
                    raise DeliveryRefused(f"{type(cause).__name__}: {cause}") from exc
                log.warning("kafka send failed, retrying", extra={"topic": topic.get_topic_name(),
                                                                   "error": str(exc), "backoff_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def send_dlq(kind: str, detail: str, message: Any, doc_id: str | None = None) -> None:
        record = dlq_record(
            kind, detail, topic=message.topic, partition=message.partition, offset=message.offset,
            payload=message.value, doc_id=doc_id,
        )
        # delivered before the source message may be acked
        try:
            await deliver(dlq_topic, dlq_key(doc_id, message.key), record.model_dump_json().encode())
        except DeliveryRefused as exc:
            # Only the payload can make a record too large: keep its head, say so, send again.
            record.payload = record.payload[: settings.max_message_bytes // 8]
            record.detail = f"{record.detail} [payload truncated: {exc}]"[:2000]
            await deliver(dlq_topic, dlq_key(doc_id, message.key), record.model_dump_json().encode())
        DLQ.labels(kind=kind).inc()
        log.warning("dlq", extra={"kind": kind, "detail": detail[:200], "partition": message.partition,
                                   "offset": message.offset})

    async def enrich_one(message: Any) -> None:
        try:
            enriched = await asyncio.to_thread(
                enrich_payload, pipeline, message.value, max_doc_chars=settings.max_doc_chars,
                partition=message.partition, offset=message.offset,
            )
        except intake.IntakeError as exc:
            await send_dlq(exc.kind, exc.detail, message, exc.doc_id)
            return
        # the broker has it before faust may ack the raw message
        try:
            await deliver(enriched_topic, enriched.raw.doc_id.encode("utf-8"),
                          enriched.model_dump_json().encode("utf-8"))
        except DeliveryRefused as exc:
            await send_dlq(intake.OUTPUT_REJECTED, f"news.enriched refused the result: {exc}", message,
                           enriched.raw.doc_id)
            return
        ENRICHED.inc()

    @app.agent(raw_topic, concurrency=1)
    async def enrich(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await enrich_one(event.message)
            except Exception as exc:  # noqa: BLE001 - a bug must not let faust ack the message
                try:
                    await send_dlq(intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}", event.message)
                except Exception as dlq_exc:  # noqa: BLE001
                    stop_now(dlq_exc)

    sink = ClickHouseSink(settings)

    async def flush_and_ack(stream: faust.StreamT) -> None:
        result = await sink.flush()
        for item, reason in result.rejected:
            await send_dlq(intake.SINK_REJECTED, reason, item.ack.message, item.doc.raw.doc_id)
        for item in result.written + [item for item, _ in result.rejected]:
            await stream.ack(item.ack)
        if result.written or result.rejected:
            BATCH_SECONDS.observe(result.seconds)
            DOCUMENTS.inc(len(result.written))
            METRICS.inc(sum(len(i.doc.analysis.metrics) for i in result.written))
            log.info("batch written", extra={
                "docs": len(result.written), "rejected": len(result.rejected), "rows": result.rows,
                "latency_ms": round(result.seconds * 1000, 1), "attempts": result.attempts,
            })

    async def sink_events(stream: faust.StreamT, events: list[Any]) -> None:
        for event in events:
            message = event.message
            try:
                doc = EnrichedDocument.model_validate_json(message.value or b"")
            except ValidationError as exc:
                await send_dlq(intake.INVALID_ENRICHED, str(exc.errors()[0])[:500], message)
                await stream.ack(event)
                continue
            sink.add(PendingDoc(doc, message.topic, message.partition, message.offset, message.value, event))
            if sink.rows >= settings.sink_batch_rows:
                await flush_and_ack(stream)
        await flush_and_ack(stream)

    @app.agent(enriched_topic, concurrency=1)
    async def sink_agent(stream: faust.StreamT) -> None:
        # A take yields after sink_batch_docs documents or sink_flush_seconds; within it the
        # buffer is also flushed whenever it reaches sink_batch_rows rows.
        async for events in stream.noack_take(settings.sink_batch_docs, within=settings.sink_flush_seconds):
            try:
                await sink_events(stream, events)
            except Exception as exc:  # noqa: BLE001 - unacked events are redelivered after a restart
                stop_now(exc)

    dlq_inserter = RetryingInserter(settings)

    @app.agent(dlq_topic, concurrency=1)
    async def dlq_sink(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.sink_batch_docs, within=settings.sink_flush_seconds):
            messages = [event.message for event in events]
            token = hashlib.sha256(",".join(f"{m.partition}:{m.offset}" for m in messages).encode()).hexdigest()
            error = await dlq_inserter.insert([("dlq", DLQ_COLUMNS, dlq_rows(messages), token)])
            if error is not None:
                # The record itself is safe in news.dlq; only its table copy is missing.
                log.error("dlq table insert rejected", extra={"error": str(error)[:300], "records": len(messages)})
            for event in events:
                await stream.ack(event)

    @app.timer(interval=2.0)
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, highwater - position))

    return app


def stop_now(exc: BaseException) -> NoReturn:
    """End the worker at once, committing nothing more: whatever was not acked is redelivered to
    the next worker. Used when an agent meets an error it cannot turn into a DLQ record."""
    log.critical("worker stopping on an unexpected error", exc_info=exc)
    for handler in logging.getLogger("newsetl").handlers:
        handler.flush()
    os._exit(70)


class DeliveryRefused(Exception):
    """Kafka refused a message for good (not worth retrying)."""
