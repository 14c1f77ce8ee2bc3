"""The Kafka clients of the project, built in one place with the settings every caller needs.

Producers wait for all in-sync replicas (``acks=all``) and are idempotent; every client allows
messages up to ``NEWSETL_MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError

from streams.retry import Backoff
from streams.settings import Settings

#: bytes of one partition's batch in a produce request: aiokafka's default, 16 KB, holds one
#: document, so a request carried one document per partition (the worker's producer too)
PRODUCER_BATCH_BYTES = 1 << 20


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer (not started) that waits for every replica's ack."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers, "acks": "all", "enable_idempotence": True,
        "linger_ms": 5, "max_request_size": settings.max_message_bytes, "compression_type": "zstd",
        "max_batch_size": PRODUCER_BATCH_BYTES,
    }
    return AIOKafkaProducer(**(options | overrides))


def make_consumer(settings: Settings, group_id: str | None, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer (not started) that commits only when told to, reading from the earliest offset."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers, "group_id": group_id, "enable_auto_commit": False,
        "auto_offset_reset": "earliest", "max_partition_fetch_bytes": settings.max_fetch_bytes,
    }
    return AIOKafkaConsumer(**(options | overrides))


def make_admin(settings: Settings) -> AIOKafkaAdminClient:
    """An admin client (not started)."""
    return AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=15000)


T = TypeVar("T")
# A broker that died is listed in the metadata until the controller fences it (Kafka's
# broker.session.timeout.ms, 9 s by default): keep trying somewhat longer than that.
ADMIN_PATIENCE_SECONDS = 30.0


async def with_admin(settings: Settings, work: Callable[[AIOKafkaAdminClient], Awaitable[T]],
                     patience: float = ADMIN_PATIENCE_SECONDS) -> T:
    """``work(admin)`` on a started admin client, on a new client again while a broker it picked
    is down (for up to ``patience`` seconds). aiokafka's admin client sends its start-up to the
    first broker of the metadata and its requests to a random one, and the metadata lists a dead
    broker for a few seconds."""
    deadline = time.monotonic() + patience
    for delay in Backoff(start=0.2, cap=2.0, factor=1.5).delays():
        admin = make_admin(settings)
        try:
            await admin.start()
            return await work(admin)
        except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError):
            if time.monotonic() + delay > deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(delay)  # backoff before the next client
    raise AssertionError("unreachable")
