"""``newsetl produce``: validate articles and publish them to ``news.raw`` keyed by doc_id.

A file that cannot be read or validated is reported and skipped, never half-sent: every record
of a file is validated before the first one of that file is sent.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from schemas.models import RawDocument
from streams.ingest.articles import Loaded, expand_paths, read_data, read_path
from streams.settings import Settings
from streams.stream.kafka_clients import make_producer
from streams.stream.topics import ensure_topics

STDIN = "-"


class RateColumn(ProgressColumn):
    """Items per second of a task."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} docs/s", style="progress.data.speed")


@dataclass(slots=True)
class ProduceSummary:
    sent: int = 0
    doc_ids: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    seconds: float = 0.0


def _stdin_records(max_doc_chars: int) -> list[Loaded]:
    """Standard input as JSON Lines when it starts with ``{``, else as one text article."""
    data = sys.stdin.buffer.read()
    suffix = ".jsonl" if data.lstrip().startswith(b"{") else ".txt"
    return list(read_data(data, Path("stdin"), max_doc_chars, suffix))


def collect(inputs: list[str], settings: Settings) -> tuple[list[RawDocument], list[tuple[str, str]]]:
    """All documents to send, and what was skipped with reasons (a file with any error is skipped whole)."""
    documents: list[RawDocument] = []
    skipped: list[tuple[str, str]] = []
    names = [i for i in inputs if i != STDIN]
    files, missing = expand_paths(names)
    skipped.extend((name, "no such file or no matching articles") for name in missing)
    groups: list[list[Loaded]] = [list(read_path(path, settings.max_doc_chars)) for path in files]
    if STDIN in inputs:
        groups.append(_stdin_records(settings.max_doc_chars))
    for loaded in groups:
        errors = [item for item in loaded if item.error]
        if errors:
            for item in errors:
                where = f"{item.path}:{item.line}" if item.line else str(item.path)
                skipped.append((where, item.error or "invalid"))
            continue
        documents.extend(item.document for item in loaded if item.document is not None)
    return documents, skipped


async def send_documents(documents: list[RawDocument], settings: Settings, progress: Progress | None = None) -> int:
    """Publish documents to news.raw (key doc_id), waiting for every broker ack."""
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    task = progress.add_task("producing", total=len(documents)) if progress else None
    try:
        futures = []
        for doc in documents:
            futures.append(await producer.send(
                settings.raw_topic, key=doc.doc_id.encode("utf-8"), value=doc.model_dump_json().encode("utf-8"),
            ))
            if progress is not None and task is not None:
                progress.advance(task)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(documents)


def produce(inputs: list[str], settings: Settings, console: Console | None = None) -> ProduceSummary:
    """Validate and send; shows a progress bar with docs/s when a console is given."""
    started = time.monotonic()
    documents, skipped = collect(inputs, settings)
    summary = ProduceSummary(skipped=skipped, doc_ids=[d.doc_id for d in documents])
    if documents:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(), console=console, disable=console is None, transient=False,
        )
        with progress:
            summary.sent = asyncio.run(send_documents(documents, settings, progress))
    summary.seconds = time.monotonic() - started
    return summary
