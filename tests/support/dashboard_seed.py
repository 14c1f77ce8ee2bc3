"""Load articles into ClickHouse the way the worker does, without Kafka (dashboard tests, demos).

Articles are read with :mod:`streams.ingest.articles`, analyzed by the real pipeline
(:func:`streams.stream.analysis.get_pipeline`), wrapped in :class:`EnrichedDocument` like the
Faust ``enrich`` agent does, and written by the real :class:`~streams.stream.sink.ClickHouseSink`. With
``replay=True`` every document is written a second time as a newer run (a replay) — the dashboard
views must still count it once. DLQ rows can be added to feed the dead-letter chart.

:func:`write_extra_articles` writes two more articles for the fact and flag panels: a short county
news item written for these tests (:data:`FRESH_ARTICLE`, with inconsistent figures: a coverage
rate of 112 % and a part above its total) and a repost of a seed (:data:`REPOST_OF`: the same text
under a new title, a "来源" lead line, published four days later), so that its facts have two
mentions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.models import EnrichedDocument, RawDocument
from streams.ingest.articles import read_path
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client
from streams.stream.analysis import get_pipeline
from streams.stream.convert import to_analysis_result
from streams.stream.dlq import dlq_record
from streams.stream.rows import DLQ_COLUMNS
from streams.stream.sink import ClickHouseSink, PendingDoc

#: A documented fallback date for articles without one, so the time charts have distinct days.
FALLBACK_PUBLISHED = datetime(2018, 3, 1, 8, 0, tzinfo=UTC)

#: A short county news item written for the dashboard tests (not from the seeds or the devset). Its
#: figures include a coverage rate of 112 % (flag ``rate_above_100``) and a part (雨露计划, 1020万元)
#: above the total it belongs to (各类助学资金, 860万元).
FRESH_ARTICLE = """汉阴县扎实推进健康帮扶和教育帮扶

2023年6月12日

今年以来，汉阴县持续巩固拓展脱贫攻坚成果，把健康帮扶和教育帮扶作为防止返贫的重要抓手。

在健康帮扶方面，全县脱贫人口家庭医生签约服务覆盖率达到112%，基本医疗保险参保率达到100%。县卫健局组织医疗队深入10个镇开展义诊，为群众免费体检3200人次。

在教育帮扶方面，全县共资助脱贫家庭学生1.2万人次，发放各类助学资金860万元，其中发放雨露计划补助资金1020万元。全县新建改建乡村学校6所，补充乡村教师85名。

县乡村振兴局负责人表示，下一步将继续做好监测帮扶，确保不发生规模性返贫。
"""
#: The seed reposted (file name under seeds/), its new title and date (four days after the seed's).
REPOST_OF = "002_cd639f095b8a2337.txt"
REPOST_TITLE = "济源全力打赢抗疫脱贫战"
REPOST_DATE = "2020-05-20"


def write_extra_articles(seeds: Path, folder: Path) -> list[Path]:
    """Write :data:`FRESH_ARTICLE` and the repost of :data:`REPOST_OF` as text files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    fresh = folder / "fresh_hanyin.txt"
    fresh.write_text(FRESH_ARTICLE, encoding="utf-8")
    repost = folder / "repost_jiyuan.txt"
    original = (seeds / REPOST_OF).read_text(encoding="utf-8-sig")
    repost.write_text(f"{REPOST_TITLE}\n\n{REPOST_DATE}\n\n来源：某某网\n\n{original}", encoding="utf-8")
    return [fresh, repost]


@dataclass(slots=True)
class Seeded:
    """What :func:`load_articles` wrote: the current run of every document (doc_id → document)."""

    documents: dict[str, EnrichedDocument] = field(default_factory=dict)
    runs: int = 0
    dlq_rows: int = 0

    @property
    def metric_count(self) -> int:
        return sum(len(doc.analysis.metrics) for doc in self.documents.values())


def read_articles(paths: Iterable[Path], settings: Settings) -> list[RawDocument]:
    """RawDocuments of the given files; an article without a date gets a distinct fallback date."""
    docs: list[RawDocument] = []
    for index, path in enumerate(sorted(paths)):
        for loaded in read_path(path, settings.max_doc_chars):
            if loaded.document is None:
                raise ValueError(f"{path}: {loaded.error}")
            doc = loaded.document
            if doc.published_at is None:
                doc = doc.model_copy(update={"published_at": FALLBACK_PUBLISHED + timedelta(days=9 * index)})
            docs.append(doc)
    return docs


async def _write(settings: Settings, docs: list[EnrichedDocument], topic: str, first_offset: int) -> None:
    sink = ClickHouseSink(settings)
    try:
        for offset, doc in enumerate(docs, first_offset):
            sink.add(PendingDoc(doc, topic, doc.kafka_partition, offset, doc.model_dump_json().encode("utf-8")))
        result = await sink.flush()
        if result.rejected:
            raise RuntimeError(f"sink rejected {len(result.rejected)} document(s): {result.rejected[0][1]}")
    finally:
        sink.close()


def load_articles(settings: Settings, paths: Iterable[Path], *, replay: bool = True,
                  dlq_rows: int = 0, extra: Iterable[Path] = ()) -> Seeded:
    """Analyze ``paths`` (and ``extra``, read on their own so that the fallback dates of ``paths``
    do not move) and write them to ``settings.clickhouse_database`` (migrated first)."""
    apply_migrations(settings)
    pipeline = get_pipeline(settings)
    raws = read_articles(paths, settings) + read_articles(extra, settings)
    seeded = Seeded()
    runs = 2 if replay else 1
    for run in range(runs):
        processed_at = datetime.now(UTC) + timedelta(seconds=run)
        batch = []
        for offset, raw in enumerate(raws):
            analysis = to_analysis_result(
                pipeline.analyze(raw.text, title=raw.title, published_at=raw.published_at), doc_id=raw.doc_id
            )
            batch.append(EnrichedDocument(
                raw=raw, analysis=analysis,
                pipeline_version=pipeline.version + ("" if run == runs - 1 else "-previous"),
                processed_at=processed_at, kafka_partition=0, kafka_offset=offset,
            ))
        asyncio.run(_write(settings, batch, settings.enriched_topic, first_offset=run * len(raws)))
        seeded.documents = {doc.raw.doc_id: doc for doc in batch}
        seeded.runs += 1
    if dlq_rows:
        seeded.dlq_rows = insert_dlq_rows(settings, dlq_rows)
    return seeded


def insert_dlq_rows(settings: Settings, count: int) -> int:
    """``count`` DLQ table rows of a few kinds over a few days (as the dlq_sink agent writes them)."""
    kinds = ("invalid_json", "schema_violation", "enrich_error")
    rows = []
    for n in range(count):
        record = dlq_record(kinds[n % len(kinds)], "generated for the dashboard", topic=settings.raw_topic,
                            partition=0, offset=n, payload=b"{not json", doc_id=None)
        failed = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(days=n % 4, minutes=n)
        rows.append([record.error, record.detail, record.topic, record.partition, record.offset, record.doc_id,
                     record.payload, record.payload_encoding, failed.replace(tzinfo=None), 0, n])
    client = make_client(settings)
    try:
        client.insert(f"{settings.clickhouse_database}.dlq", rows, column_names=list(DLQ_COLUMNS))
    finally:
        client.close()
    return count
