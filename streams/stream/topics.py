"""Kafka topic administration: the three topics, created with the configured partition count.

``news.raw`` and ``news.enriched`` keep history forever (``retention.ms=-1``) so replays can start
from the earliest offset; the DLQ keeps 30 days. Replication follows the cluster's size
(:meth:`Settings.replication`: min(3, brokers) copies, ``min.insync.replicas`` 2 from three on).
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings
from streams.stream.kafka_clients import with_admin

FOREVER = "-1"
THIRTY_DAYS_MS = str(30 * 24 * 3600 * 1000)
log = logging.getLogger("newsetl.topics")


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    size = {"max.message.bytes": str(settings.max_message_bytes)}
    return {
        settings.raw_topic: {"retention.ms": FOREVER, "retention.bytes": "-1", **size},
        settings.enriched_topic: {"retention.ms": FOREVER, "retention.bytes": "-1", **size},
        settings.dlq_topic: {"retention.ms": THIRTY_DAYS_MS, **size},
    }


async def cluster_replication(admin: AIOKafkaAdminClient) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for the brokers the cluster has registered now."""
    cluster = await admin.describe_cluster()
    return Settings.replication(len(cluster["brokers"]))


async def create_missing(settings: Settings, wanted: dict[str, tuple[int, dict[str, str]]]) -> list[str]:
    """Create the topics of ``wanted`` (name → (partitions, config)) that do not exist yet, with
    the replication of the cluster as it is now; returns the names created now."""

    async def create(admin: AIOKafkaAdminClient) -> list[str]:
        existing = set(await admin.list_topics())
        missing = {name: spec for name, spec in wanted.items() if name not in existing}
        if not missing:
            return []
        registered = len((await admin.describe_cluster())["brokers"])
        factor, min_isr = Settings.replication(registered)
        expected = max(settings.kafka_brokers, len(settings.bootstrap_servers.split(",")))
        if registered < expected:
            # a topic keeps the replication it is created with: say so while a broker is down
            log.warning("creating topics while brokers are missing", extra={
                "topics": list(missing), "replication_factor": factor,
                "registered_brokers": registered, "expected_brokers": expected})
        try:
            await admin.create_topics([
                NewTopic(name, num_partitions=partitions, replication_factor=factor,
                         topic_configs=config | {"min.insync.replicas": str(min_isr)})
                for name, (partitions, config) in missing.items()])
        except TopicAlreadyExistsError:
            pass  # created concurrently by another process
        return list(missing)

    return await with_admin(settings, create)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing newsetl topic; returns the names created now."""
    return await create_missing(settings, {name: (settings.topic_partitions, config)
                                           for name, config in topic_configs(settings).items()})


async def topic_replication(settings: Settings) -> int:
    """The replication factor topics get on the cluster as it is now."""
    return (await with_admin(settings, cluster_replication))[0]
