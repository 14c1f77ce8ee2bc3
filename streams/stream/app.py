"""The Faust app: topics named once, one agent per concern, wired in one readable place.

    news.raw ──enrich──▶ news.enriched ──sink──▶ ClickHouse (documents, paragraphs, metrics)
        └──(invalid / failed)──▶ news.dlq ──dlq_sink──▶ ClickHouse (dlq)

The agents only loop and ack; what happens to a message is in :mod:`streams.stream.steps`, which
replay uses too. All agents run with concurrency=1 (faust can commit past an in-flight message
otherwise); scale by partitions and worker processes. Acks: every agent uses ``noack_take``.
``enrich`` analyses a take in one batch (the next take is queued in the analysis process
meanwhile), hands every result to the producer at once, and acks each message, in order, once its
own enriched or DLQ record was acknowledged by the broker; the sinks ack an event only after ClickHouse acknowledged its rows (or
its DLQ record was delivered), so nothing read is ever lost silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any, NoReturn

import faust
from faust.transport.drivers.aiokafka import Producer as AiokafkaProducer

from streams.observability import LAG
from streams.settings import Settings
from streams.stream import intake
from streams.stream.analysis import get_pipeline, pipeline_limits
from streams.stream.analysis_process import AnalysisProcess
from streams.stream.enrich import Wired
from streams.stream.kafka_clients import PRODUCER_BATCH_BYTES
from streams.stream.poison import InflightMarks
from streams.stream.rows import DLQ_COLUMNS, dlq_rows
from streams.stream.sink import ClickHouseSink, PendingDoc, RetryingInserter
from streams.stream.steps import Publishing, Steps

log = logging.getLogger("newsetl.worker")

#: takes of news.enriched waiting while the previous one is written
SINK_QUEUED = 2
#: takes of news.raw whose results may wait for the broker's acks while the next take is analysed
ENRICH_INFLIGHT = 2


class IdempotentProducer(AiokafkaProducer):
    """faust's producer asks for idempotence only inside transactions; ours always does, so a send
    retried across a leader change is written once (with ``acks=all``, as every producer here)."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class NewsApp(faust.App):
    """The worker's faust app: its producer is idempotent."""

    def _new_producer(self) -> Any:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def create_app(settings: Settings, replication_factor: int = 1) -> faust.App:
    """The worker's app; ``replication_factor`` for the topics faust creates itself (its
    partition-assignor leader topic), the same as ours (see :func:`streams.stream.topics.ensure_topics`)."""
    app = NewsApp(
        settings.worker_group,
        broker=settings.kafka_broker,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=replication_factor,
        # A killed worker's partitions go to the others after the session timeout (faust's
        # default of 60 s left them idle for a minute); a live worker heartbeats every second.
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_seconds,
        # names the process in the group (`newsetl status`, kafka-consumer-groups --members)
        broker_client_id=f"newsetl-worker-{socket.gethostname()}-{os.getpid()}",
        store="memory://",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=False,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_max_request_size=settings.max_message_bytes,
        producer_compression_type="zstd",
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=settings.max_fetch_bytes,
        # faust's default is "<app id>-data" in the working directory
        datadir=str(settings.data_dir / "faust"),
    )
    topics = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
              for name in (settings.raw_topic, settings.enriched_topic, settings.dlq_topic)}

    async def start(topic: str, key: bytes | None, value: bytes) -> Any:
        return await topics[topic].send(key=key, value=value)

    async def send(topic: str, key: bytes | None, value: bytes) -> Any:
        return await (await start(topic, key, value))

    marks = InflightMarks(settings.data_dir / "inflight" / settings.worker_group)
    if settings.analysis_processes:
        process = AnalysisProcess(settings.rules_dir, settings.segmenter, pipeline_limits(settings))
        steps = Steps(settings, send, marks=marks, process=process, start=start)
    else:
        steps = Steps(settings, send, get_pipeline(settings), marks=marks, start=start)
    sink = ClickHouseSink(settings)
    dlq_inserter = RetryingInserter(settings)

    async def ack_in_order(stream: faust.StreamT, inflight: asyncio.Queue[list[tuple[Any, Publishing]]]) -> None:
        # each message acked once its own output (or DLQ record) is durable, in the order taken
        while True:
            batch = await inflight.get()
            for event, publishing in batch:
                try:
                    await steps.finish_publish(publishing)
                except Exception as exc:  # noqa: BLE001 - a bug must not let faust ack the message
                    try:
                        await steps.send_dlq(intake.ENRICH_ERROR, f"{type(exc).__name__}: {exc}", event.message)
                    except Exception as dlq_exc:  # noqa: BLE001
                        stop_now(dlq_exc)
                await stream.ack(event)

    async def publish_in_order(analysed: asyncio.Queue[tuple[list[Any], asyncio.Future[list[Wired]]]],
                               inflight: asyncio.Queue[list[tuple[Any, Publishing]]]) -> None:
        # each take's results handed to the producer at once, as soon as its analysis is done
        while True:
            events, analysis = await analysed.get()
            try:
                results = await analysis
            except Exception as exc:  # noqa: BLE001 - a bug must not let faust ack the messages
                stop_now(exc)
            # side by side: one at a time, each send waited a turn of the loop behind the sink's work
            started = await asyncio.gather(*(steps.begin_publish(event.message, wired)
                                             for event, wired in zip(events, results, strict=True)))
            await inflight.put(list(zip(events, started, strict=True)))

    @app.agent(topics[settings.raw_topic], concurrency=1)
    async def enrich(stream: faust.StreamT) -> None:
        # Three stages, each in the order taken: analysis (the next take goes to the analysis
        # process while the previous one is analysed), hand-over to the producer, and acks as the
        # broker acknowledges; the queues between them bound what is in flight.
        analysed: asyncio.Queue[tuple[list[Any], asyncio.Future[list[Wired]]]] = asyncio.Queue(maxsize=1)
        inflight: asyncio.Queue[list[tuple[Any, Publishing]]] = asyncio.Queue(maxsize=ENRICH_INFLIGHT)
        stages = [asyncio.ensure_future(publish_in_order(analysed, inflight)),
                  asyncio.ensure_future(ack_in_order(stream, inflight))]
        try:
            async for events in stream.noack_take(settings.enrich_batch_docs, within=settings.enrich_batch_seconds):
                for stage in stages:
                    if stage.done():
                        stop_now(stage.exception() or RuntimeError("an enrich stage ended"))
                analysis = asyncio.ensure_future(steps.enrich_many([event.message for event in events]))
                await analysed.put((events, analysis))
        finally:
            for stage in stages:
                stage.cancel()

    async def flush_and_ack(stream: faust.StreamT) -> None:
        result = await steps.flush(sink)
        for item in result.written + [item for item, _ in result.rejected]:
            await stream.ack(item.ack)

    async def sink_in_order(stream: faust.StreamT, takes: asyncio.Queue[list[Any]]) -> None:
        # Each take's documents buffered, flushed (also whenever sink_batch_rows rows are
        # buffered) and acked once ClickHouse has them.
        while True:
            events = await takes.get()
            try:
                docs = await steps.read_enriched([event.message for event in events])
                for event, doc in zip(events, docs, strict=True):
                    if doc is None:
                        await stream.ack(event)
                        continue
                    sink.add(PendingDoc.of(doc, event.message, event))
                    if sink.rows >= settings.sink_batch_rows:
                        await flush_and_ack(stream)
                await flush_and_ack(stream)
            except Exception as exc:  # noqa: BLE001 - unacked events are redelivered after a restart
                stop_now(exc)

    @app.agent(topics[settings.enriched_topic], concurrency=1)
    async def sink_agent(stream: faust.StreamT) -> None:
        # A take yields after sink_batch_docs documents or sink_flush_seconds; it is written by
        # sink_in_order while the next take fills (faust buffers nothing while a take is handled,
        # and its timer starts again only after: writing in the take made every cycle the window
        # plus the write, measured 1.2 s).
        takes: asyncio.Queue[list[Any]] = asyncio.Queue(maxsize=SINK_QUEUED)
        writer = asyncio.ensure_future(sink_in_order(stream, takes))
        try:
            async for events in stream.noack_take(settings.sink_batch_docs, within=settings.sink_flush_seconds):
                if writer.done():
                    stop_now(writer.exception() or RuntimeError("the sink writer ended"))
                await takes.put(events)
        finally:
            writer.cancel()

    @app.agent(topics[settings.dlq_topic], concurrency=1)
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
