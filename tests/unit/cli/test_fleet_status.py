"""``newsetl status``'s worker tables: members with their partitions, lag per partition."""

from __future__ import annotations

from rich.console import Console

from streams.cli.fleet import _ranges, fleet_tables
from streams.stream.fleet import GroupReport, Member, PartitionLag


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
