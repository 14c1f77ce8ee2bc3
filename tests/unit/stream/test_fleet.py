"""Reading the worker group: assignments decoded from DescribeGroups, lag per partition."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError

from streams.settings import Settings
from streams.stream import kafka_clients
from streams.stream.fleet import (
    GroupReport,
    Member,
    PartitionLag,
    PartitionReplicas,
    decode_assignment,
    members_of,
)


def _assignment(parts: list[tuple[str, list[int]]]) -> bytes:
    return ConsumerProtocolMemberAssignment(0, parts, b'{"faust": "user data"}').encode()


def test_an_assignment_decodes_to_sorted_topic_partitions() -> None:
    raw = _assignment([("news.raw", [5, 1]), ("news.dlq", [1])])
    assert decode_assignment(raw) == (("news.dlq", 1), ("news.raw", 1), ("news.raw", 5))
    assert decode_assignment(b"") == ()  # a member that joined and has no assignment yet


def test_members_are_read_from_v0_and_v4_describe_groups_responses() -> None:
    v0_member = ("w-1-aaaa", "newsetl-worker-host-11", "/10.0.0.5", b"meta", _assignment([("news.raw", [0, 1])]))
    v4_member = ("w-2-bbbb", None, "newsetl-worker-host-12", "/10.0.0.6", b"meta", _assignment([("news.raw", [2])]))
    v0 = SimpleNamespace(groups=[(0, "g", "Stable", "consumer", "faust", [v0_member])])
    v4 = SimpleNamespace(groups=[(0, "g", "PreparingRebalance", "consumer", "faust", [v4_member], -2147483648)])
    assert members_of(v0) == ("Stable", [Member("w-1-aaaa", "newsetl-worker-host-11", "/10.0.0.5",
                                                (("news.raw", 0), ("news.raw", 1)))])
    assert members_of(v4) == ("PreparingRebalance", [Member("w-2-bbbb", "newsetl-worker-host-12", "/10.0.0.6",
                                                            (("news.raw", 2),))])
    assert members_of(SimpleNamespace(groups=[])) == ("Unknown", [])


def test_lag_is_end_less_committed_and_never_negative() -> None:
    a = Member("a", "w-a", "h", (("t", 0),))
    report = GroupReport("g", "Stable", [a], [
        PartitionLag("t", 0, 40, 100, "a"),
        PartitionLag("t", 1, None, 7, None),  # nothing committed yet: everything is lag
        PartitionLag("t", 2, 9, 9, None),
    ])
    assert [p.lag for p in report.partitions] == [60, 7, 0]
    assert report.total_lag == 67
    assert report.owner_of("t", 0) == "a" and report.owner_of("t", 1) is None


def test_a_partition_is_under_replicated_while_its_isr_is_short() -> None:
    assert PartitionReplicas("t", 0, 2, (2, 3, 1), (2, 3)).under_replicated
    assert not PartitionReplicas("t", 0, 2, (2, 3, 1), (2, 3, 1)).under_replicated


class _Admin:
    """An admin client whose start or request fails while its broker is down (one function's fake)."""

    def __init__(self, log: list[str], fails: bool, at: str) -> None:
        self.log, self.fails, self.at = log, fails, at

    async def start(self) -> None:
        self.log.append("start")
        if self.fails and self.at == "start":
            raise NodeNotReadyError("node 2")

    async def close(self) -> None:
        self.log.append("close")

    async def ask(self) -> str:
        self.log.append("ask")
        if self.fails:
            raise KafkaConnectionError("node 2 refused")
        return "answer"


@pytest.mark.parametrize("at", ["start", "request"])
async def test_a_dead_broker_is_left_for_a_new_client(monkeypatch: pytest.MonkeyPatch, at: str) -> None:
    log: list[str] = []
    outcomes = iter([True, True, False])
    monkeypatch.setattr(kafka_clients, "make_admin", lambda settings: _Admin(log, next(outcomes), at))
    assert await kafka_clients.with_admin(Settings(), lambda admin: admin.ask()) == "answer"
    failed = ["start", "close"] if at == "start" else ["start", "ask", "close"]
    assert log == failed * 2 + ["start", "ask", "close"]


async def test_a_cluster_that_stays_down_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr(kafka_clients, "make_admin", lambda settings: _Admin(log, True, "request"))
    with pytest.raises(KafkaConnectionError):
        await kafka_clients.with_admin(Settings(), lambda admin: admin.ask(), patience=0.5)
    assert 2 <= log.count("close") <= 4  # tried for half a second with backoff 0.2, 0.3, ...
