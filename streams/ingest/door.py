"""The HTTP door for systems that push: ``POST /documents`` publishes to news.raw (aiohttp).

The body is one JSON document (or a JSON list), or JSON Lines (``Content-Type:
application/x-ndjson``, or any body that is not a single JSON value). Documents are validated
exactly as ``newsetl produce`` validates a ``.json``/``.jsonl`` file (``source`` defaults to
``http``, ``doc_id`` to the hash of the text); all or nothing, as for a file:

- 202 ``{"doc_ids": [...]}`` once Kafka acknowledged every document;
- 400 ``{"error": "...", "errors": [...]}`` naming the line and field of each invalid record;
- 401 without the bearer token (when ``NEWSETL_DOOR_TOKEN`` is set);
- 413 over ``NEWSETL_DOOR_MAX_BYTES``; 503 when Kafka does not accept the documents in time.

``GET /health`` answers 200.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from streams.ingest.articles import read_data
from streams.settings import Settings
from streams.stream.kafka_clients import make_producer
from streams.stream.topics import ensure_topics

log = logging.getLogger("newsetl.door")
REQUESTS = Counter("newsetl_door_requests_total", "POST /documents requests by answer", ["status"])
ACCEPTED = Counter("newsetl_door_documents_total", "Documents accepted by the HTTP door")
PRODUCER: web.AppKey[AIOKafkaProducer] = web.AppKey("producer", AIOKafkaProducer)
SEND_TIMEOUT = 30.0


def _answer(status: int, body: dict[str, object], **headers: str) -> web.Response:
    REQUESTS.labels(str(status)).inc()
    return web.json_response(body, status=status, headers=headers or None,
                             dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def _suffix(body: bytes, content_type: str) -> str:
    if "ndjson" in content_type or "jsonl" in content_type:
        return ".jsonl"
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return ".jsonl"
    return ".json"


def make_door_app(settings: Settings) -> web.Application:
    """The aiohttp application (its producer starts and stops with it)."""
    token = settings.door_token.get_secret_value()

    async def post_documents(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _answer(401, {"error": "missing or wrong bearer token"}, **{"WWW-Authenticate": "Bearer"})
        if (request.content_length or 0) > settings.door_max_bytes:
            return _answer(413, {"error": f"body over {settings.door_max_bytes} bytes"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(413, {"error": f"body over {settings.door_max_bytes} bytes"})
        if not body.strip():
            return _answer(400, {"error": "empty body: send one JSON document or JSON Lines"})
        loaded = list(read_data(body, Path("http"), settings.max_doc_chars, _suffix(body, request.content_type)))
        errors = [f"line {item.line}: {item.error}" if item.line else str(item.error) for item in loaded if item.error]
        if errors:
            return _answer(400, {"error": errors[0], "errors": errors[:100]})
        documents = [item.document for item in loaded if item.document is not None]
        if not documents:
            return _answer(400, {"error": "no documents in the body"})
        producer = request.app[PRODUCER]
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                futures = [await producer.send(settings.raw_topic, key=d.doc_id.encode("utf-8"),
                                               value=d.model_dump_json().encode("utf-8")) for d in documents]
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            log.warning("door could not publish", extra={"error": f"{type(exc).__name__}: {exc}"})
            return _answer(503, {"error": "Kafka did not accept the documents; send them again"},
                           **{"Retry-After": "5"})
        ACCEPTED.inc(len(documents))
        return _answer(202, {"doc_ids": [d.doc_id for d in documents]})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def producer_context(app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        await ensure_topics(settings)
        producer = make_producer(settings, request_timeout_ms=int(SEND_TIMEOUT * 1000))
        await producer.start()
        app[PRODUCER] = producer
        yield
        await producer.stop()

    # Reading the body checks the limit too (a chunked body has no Content-Length); +1 so that
    # exactly door_max_bytes is still accepted.
    app = web.Application(client_max_size=settings.door_max_bytes + 1)
    app.router.add_post("/documents", post_documents)
    app.router.add_get("/health", health)
    app.cleanup_ctx.append(producer_context)
    return app


async def serve_door(settings: Settings, host: str, port: int, stop: asyncio.Event,
                     started: asyncio.Event | None = None) -> None:
    """Serve the door on host:port until ``stop`` is set (``started`` is set once it listens)."""
    runner = web.AppRunner(make_door_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("door listening", extra={"host": host, "port": port})
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        await runner.cleanup()
