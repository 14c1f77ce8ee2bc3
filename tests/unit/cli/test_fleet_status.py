"""``newsetl status``'s worker tables: members with their partitions, lag per partition."""

from __future__ import annotations

from rich.console import Console

from streams.cli.fleet import _ranges, fleet_tables, replicas_line
from streams.stream.fleet import GroupReport, Member, PartitionLag, PartitionReplicas


def test_partition_lists_are_written_as_ranges() -> None:
    assert _ranges([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert _ranges([3]) == "3" and _ranges([]) == ""


def test_members_and_lag_tables() -> None:
    members = [
        Member("m-1", "newsetl-worker-vm-101", "/127.0.0.1",
               (("news.raw", 0), ("news.raw", 1), ("news.enriched", 0), ("g-__assignor-__leader", 0))),
        Member("m-2", "newsetl-worker-vm-102", "/127.0.0.1", (("news.raw", 2),)),
    ]
    report = GroupReport("newsetl-worker", "Stable", members, [
        PartitionLag("news.raw", 0, 10, 15, "m-1"), PartitionLag("news.raw", 1, None, 4, "m-1"),
        PartitionLag("news.raw", 2, 3, 3, "m-2"), PartitionLag("g-__assignor-__leader", 0, None, 0, "m-1"),
    ])
    console = Console(width=160, record=True)
    for table in fleet_tables(report):
        console.print(table)
    text = console.export_text()
    assert "worker group newsetl-worker: Stable, 2 member(s)" in text
    assert "lag per partition (total 9)" in text
    lines = [" ".join(line.replace("│", " ").split()) for line in text.splitlines()]
    assert "newsetl-worker-vm-101 127.0.0.1 news.enriched 0; news.raw 0-1 9" in lines
    assert "newsetl-worker-vm-102 127.0.0.1 news.raw 2 0" in lines
    assert "news.raw 1 newsetl-worker-vm-101 - 4 4" in lines
    assert not any("__assignor" in line for line in lines)


def test_the_replication_line_names_partitions_short_of_copies() -> None:
    healthy = [PartitionReplicas("news.raw", p, 1, (1, 2, 3), (1, 2, 3)) for p in range(3)]
    assert replicas_line(healthy) == "topics: 3 partitions, replication factor 3, 0 under-replicated"
    short = healthy + [PartitionReplicas("news.dlq", 0, 2, (2, 3, 1), (2, 3))]
    assert replicas_line(short) == ("topics: 4 partitions, replication factor 3, 1 under-replicated "
                                    "(news.dlq/0 in sync 2/3)")
    many = [PartitionReplicas("t", p, 1, (1, 2), (1,)) for p in range(7)]
    assert replicas_line(many).endswith("t/4 in sync 1/2, …)") and "7 under-replicated" in replicas_line(many)
    assert replicas_line([]) == "topics: not created yet"
