"""The Kafka clients of the project, built in one place with the settings every caller needs.

Producers wait for all in-sync replicas (``acks=all``) and are idempotent; every client allows
messages up to ``NEWSETL_MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

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
