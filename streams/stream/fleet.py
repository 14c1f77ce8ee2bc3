"""The worker fleet as Kafka sees it: the group's members, the partitions each owns, and the lag
of every partition (its end offset less the group's committed offset).

Read with aiokafka's admin client (DescribeGroups, OffsetFetch) and a group-less consumer for the
end offsets; nothing here joins the group, so asking never triggers a rebalance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from streams.settings import Settings
from streams.stream.kafka_clients import make_consumer, with_admin


@dataclass(frozen=True)
class Member:
    """One consumer of the group: a worker process."""

    member_id: str
    client_id: str
    host: str
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PartitionLag:
    """One partition of a topic the group reads."""

    topic: str
    partition: int
    committed: int | None
    end: int
    owner: str | None  # member_id, None while unassigned

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


@dataclass
class GroupReport:
    """What :func:`describe_group` found."""

    group: str
    state: str
    members: list[Member] = field(default_factory=list)
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def owner_of(self, topic: str, partition: int) -> str | None:
        for member in self.members:
            if (topic, partition) in member.partitions:
                return member.member_id
        return None


def decode_assignment(raw: bytes) -> tuple[tuple[str, int], ...]:
    """The (topic, partition) pairs of a member's assignment (Kafka's consumer protocol, which
    faust's assignor uses too; its own data rides in ``user_data``)."""
    if not raw:
        return ()
    assignment = ConsumerProtocolMemberAssignment.decode(raw)
    return tuple(sorted((topic, partition) for topic, partitions in assignment.assignment for partition in partitions))


def members_of(description: object) -> tuple[str, list[Member]]:
    """(state, members) of the first group in a DescribeGroups response."""
    groups = getattr(description, "groups", [])
    if not groups:
        return "Unknown", []
    group = groups[0]
    # v0-v3: (error, group, state, protocol_type, protocol, members[, ops]); members are
    # (id, client_id, host, metadata, assignment), with group_instance_id after the id from v4
    state, members = group[2], group[5]
    found = []
    for entry in members:
        member_id, client_id, host = entry[0], entry[-4], entry[-3]
        found.append(Member(member_id, client_id, host, decode_assignment(entry[-1])))
    return state, found


async def describe_group(settings: Settings, group: str | None = None, topics: list[str] | None = None) -> GroupReport:
    """Members, assignments and per-partition lag of ``group`` (default: the workers' group) on
    ``topics`` (default: the ones it has committed offsets for, else news.raw and news.enriched)."""
    group = group or settings.worker_group

    async def ask(admin: AIOKafkaAdminClient) -> tuple[object, dict]:
        descriptions = await admin.describe_consumer_groups([group])
        return (descriptions[0] if descriptions else None), await admin.list_consumer_group_offsets(group)

    description, committed = await with_admin(settings, ask)
    state, members = members_of(description) if description is not None else ("Unknown", [])
    wanted = topics or sorted({tp.topic for tp in committed} | {t for m in members for t, _ in m.partitions}) \
        or [settings.raw_topic, settings.enriched_topic]
    consumer = make_consumer(settings, None)
    await consumer.start()
    try:

        def partitions() -> list[TopicPartition]:
            return [TopicPartition(topic, p) for topic in wanted for p in sorted(consumer.partitions_for_topic(topic) or ())]

        tps = partitions()
        if not tps:
            await consumer.topics()  # fetches the metadata of every topic
            tps = partitions()
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
    report = GroupReport(group, state, members)
    for tp in tps:
        offset = committed.get(tp)
        report.partitions.append(PartitionLag(
            tp.topic, tp.partition, offset.offset if offset is not None and offset.offset >= 0 else None,
            ends.get(tp, 0), report.owner_of(tp.topic, tp.partition)))
    return report


@dataclass(frozen=True)
class PartitionReplicas:
    """Leader, replicas and in-sync replicas of one partition."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


async def describe_replicas(settings: Settings, topics: list[str] | None = None) -> list[PartitionReplicas]:
    """Leader, replicas and ISR of every partition of ``topics`` (default: the three newsetl topics)."""
    names = topics or [settings.raw_topic, settings.enriched_topic, settings.dlq_topic]
    described = await with_admin(settings, lambda admin: admin.describe_topics(names))
    found = []
    for topic in described:
        if topic.get("error_code"):
            continue
        for part in topic["partitions"]:
            found.append(PartitionReplicas(topic["topic"], part["partition"], part["leader"],
                                           tuple(part["replicas"]), tuple(part["isr"])))
    return sorted(found, key=lambda p: (p.topic, p.partition))
