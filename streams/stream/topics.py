"""Kafka topic administration: the three topics, created with the configured partition count.

``news.raw`` and ``news.enriched`` keep history forever (``retention.ms=-1``) so replays can start
from the earliest offset; the DLQ keeps 30 days.
"""

from __future__ import annotations

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings
from streams.stream.kafka_clients import make_admin

FOREVER = "-1"
THIRTY_DAYS_MS = str(30 * 24 * 3600 * 1000)


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    size = {"max.message.bytes": str(settings.max_message_bytes)}
    return {
        settings.raw_topic: {"retention.ms": FOREVER, "retention.bytes": "-1", **size},
        settings.enriched_topic: {"retention.ms": FOREVER, "retention.bytes": "-1", **size},
        settings.dlq_topic: {"retention.ms": THIRTY_DAYS_MS, **size},
    }


async def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing newsetl topic; returns the names created now."""
    admin = make_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1, topic_configs=config)
            for name, config in topic_configs(settings).items()
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
