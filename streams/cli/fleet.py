"""``newsetl status``'s worker part: the group's members, their partitions and the lag of each."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.table import Table

from streams.settings import Settings
from streams.stream.fleet import GroupReport, PartitionReplicas, describe_group, describe_replicas

TIMEOUT = 15.0


def _short(member_id: str) -> str:
    # faust's member ids are "<client id>-<uuid>": the client id is the same for every worker
    return member_id.rsplit("-", 1)[-1][:8] if member_id else "-"


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``0-2,5``."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def fleet_tables(report: GroupReport) -> list[Table]:
    """The members table and the lag-per-partition table of a group."""
    members = Table("worker", "host", "partitions", "lag",
                    title=f"worker group {report.group}: {report.state}, {len(report.members)} member(s)")
    for member in sorted(report.members, key=lambda m: m.partitions):
        by_topic: dict[str, list[int]] = {}
        for topic, partition in member.partitions:
            if "__assignor" in topic:
                continue  # faust's own leader-election topic: never has messages
            by_topic.setdefault(topic, []).append(partition)
        lag = sum(p.lag for p in report.partitions if p.owner == member.member_id)
        members.add_row(member.client_id or _short(member.member_id), member.host.lstrip("/"),
                        "; ".join(f"{t} {_ranges(ps)}" for t, ps in sorted(by_topic.items())) or "-", str(lag))
    partitions = Table("topic", "partition", "worker", "committed", "end", "lag",
                       title=f"lag per partition (total {report.total_lag})")
    names = {m.member_id: m.client_id or _short(m.member_id) for m in report.members}
    for part in report.partitions:
        if "__assignor" in part.topic:
            continue  # faust's own leader-election topic: never has messages
        partitions.add_row(part.topic, str(part.partition), names.get(part.owner or "", "-"),
                           "-" if part.committed is None else str(part.committed), str(part.end), str(part.lag))
    return [members, partitions]


def replicas_line(replicas: list[PartitionReplicas]) -> str:
    """One line on the topics' replication: partitions, copies, and those short of in-sync copies."""
    if not replicas:
        return "topics: not created yet"
    short = [p for p in replicas if p.under_replicated]
    factors = sorted({len(p.replicas) for p in replicas})
    line = (f"topics: {len(replicas)} partitions, replication factor {'/'.join(map(str, factors))}, "
            f"{len(short)} under-replicated")
    if short:
        line += " (" + ", ".join(f"{p.topic}/{p.partition} in sync {len(p.isr)}/{len(p.replicas)}" for p in short[:5])
        line += ", …)" if len(short) > 5 else ")"
    return line


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def print_fleet(settings: Settings, console: Console) -> None:
    """Print the topics' replication and the worker group; one line each when Kafka cannot say.
    Every node of a local cluster is a bootstrap address, so this works while one is down."""
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    from streams.local.kafka import bootstrap

    settings = settings.model_copy(
        update={"kafka_broker": ";".join(f"kafka://{a}" for a in bootstrap(settings).split(","))})

    try:
        console.print(replicas_line(asyncio.run(asyncio.wait_for(describe_replicas(settings), TIMEOUT))), highlight=False)
    except Exception as exc:  # noqa: BLE001 - status reports, it does not fail on this part
        console.print(f"topics: unknown ({_reason(exc)})", highlight=False)

    try:
        report = asyncio.run(asyncio.wait_for(describe_group(settings), TIMEOUT))
    except GroupCoordinatorNotAvailableError:
        # the offsets topic is created when the first consumer group appears
        console.print(f"worker group {settings.worker_group}: no worker has joined yet", highlight=False)
        return
    except Exception as exc:  # noqa: BLE001 - status reports, it does not fail on this part
        console.print(f"worker group {settings.worker_group}: unknown ({_reason(exc)})", highlight=False)
        return
    for table in fleet_tables(report):
        console.print(table)
