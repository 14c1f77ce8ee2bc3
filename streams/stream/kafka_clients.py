"""The Kafka clients of the project, built in one place with the settings every caller needs.

Producers wait for all in-sync replicas (``acks=all``) and are idempotent; every client allows
messages up to ``NEWSETL_MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError

from streams.settings import Settings


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer (not started) that waits for every replica's ack."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers, "acks": "all", "enable_idempotence": True,
        "linger_ms": 5, "max_request_size": settings.max_message_bytes, "compression_type": "gzip",
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
ADMIN_ATTEMPTS = 5


async def with_admin(settings: Settings, work: Callable[[AIOKafkaAdminClient], Awaitable[T]],
                     attempts: int = ADMIN_ATTEMPTS) -> T:
    """``work(admin)`` on a started admin client, on a new client again when a broker it picked
    is down. aiokafka's admin client sends its start-up and its requests to a random broker of
    the metadata it has, which for a few seconds after a broker dies still lists that broker."""
    for attempt in range(attempts):
        admin = make_admin(settings)
        try:
            await admin.start()
            return await work(admin)
        except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError):
            if attempt == attempts - 1:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.2 * (attempt + 1))  # backoff before the next client
    raise AssertionError("unreachable")
