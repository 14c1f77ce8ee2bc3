"""Benchmark of the dashboard views: generated rows in a scratch database, each query timed.

:func:`bench_dashboard` creates a scratch database next to the configured one (same DDL, applied
with :func:`streams.store.clickhouse.apply_migrations` on a copy of the settings), fills it server-side
with ``INSERT … SELECT … FROM numbers()`` — ``rows`` current metric rows over ``rows / 20``
documents (5 paragraphs each), plus an older pipeline run of every tenth document (its metrics and
paragraphs included) so that the *_latest views have stale rows to drop, and DLQ rows — then
times every view and every query the
dashboard runs (median of 3 runs, wall clock including the HTTP round trip) and drops the scratch
database, also when something fails.

``newsetl bench`` prints the returned ``{query name: seconds}``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.dashboard import queries as q
from streams.dashboard.cache import build_generation, cache_database
from streams.settings import Settings
from streams.store.clickhouse import apply_migrations, make_client

METRICS_PER_DOC = 20
RUNS = 3

# (canonical metric, unit, topic) of the generated metrics.
CATALOG: tuple[tuple[str, str, str], ...] = (
    ("脱贫人口", "人", "other"), ("脱贫户数", "户", "other"), ("贫困发生率", "%", "other"),
    ("扶贫资金", "元", "other"), ("危房改造", "户", "other"), ("农村公路", "公里", "other"),
    ("产业产值", "元", "产业"), ("种植面积", "亩", "产业"), ("合作社", "家", "产业"),
    ("光伏装机", "千瓦", "产业"), ("光伏发电", "千瓦时", "产业"), ("分红金额", "元", "产业"),
    ("旅游人次", "人次", "产业"), ("参保人数", "人", "健康"), ("签约医生", "人", "健康"),
    ("健康体检", "人次", "健康"), ("医疗报销", "元", "健康"), ("资助学生", "人", "教育"),
    ("学校", "所", "教育"), ("教师", "人", "教育"), ("助学金", "元", "教育"),
    ("转移就业", "人", "就业"), ("公益岗位", "个", "就业"), ("技能培训", "人次", "就业"),
)
REGIONS: tuple[str, ...] = (
    "贵州省", "遵义市", "毕节市", "铜仁市", "黔东南苗族侗族自治州", "云南省", "昭通市", "怒江傈僳族自治州",
    "四川省", "凉山彝族自治州", "甘肃省", "定西市", "临夏回族自治州", "宁夏回族自治区", "西吉县",
    "河北省", "阜平县", "湖南省", "湘西土家族苗族自治州", "十八洞村", "广西壮族自治区", "百色市",
    "河池市", "江西省", "井冈山市", "陕西省", "延安市", "山西省", "吕梁市", "",
)
SUBJECTS: tuple[str, ...] = (
    "贫困人口", "贫困户", "建档立卡贫困户", "贫困村", "合作社", "龙头企业", "光伏电站", "易地扶贫搬迁群众",
    "贫困学生", "乡村教师", "家庭医生", "贫困劳动力", "公益性岗位", "扶贫车间", "茶园", "中药材",
    "农村公路", "安全饮水", "危房", "电商", "乡村旅游", "扶贫资金", "小额信贷", "产业基地",
)
# The run of document bench-10 (current_run below, d = 10): its spans are the ones the dashboard reads.
_BENCH_10_RUN = dt.datetime(2024, 6, 1, 0, 0, 10, tzinfo=dt.UTC)
DLQ_KINDS: tuple[str, ...] = ("invalid_json", "invalid_document", "too_large", "enrich_error", "sink_rejected")


def _array(values: tuple[str, ...]) -> str:
    """A ClickHouse array literal of constant strings (our own constants, never user input)."""
    return "[" + ", ".join("'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" for value in values) + "]"


def _fill_sql(db: str, rows: int) -> list[str]:
    """INSERT … SELECT statements that generate the benchmark data in ``db``."""
    docs = max(1, -(-rows // METRICS_PER_DOC))
    catalog = "[" + ", ".join(f"('{m}', '{u}', '{t}')" for m, u, t in CATALOG) + "]"
    # Per document d: published time (every 20th has none: ingested_at is the fallback), the
    # processed_at of its current run, a topic bitmask and a region.
    published = ("if({d} % 20 = 0, NULL, toDateTime64('2018-01-01 00:00:00', 3, 'UTC') "
                 "+ toIntervalSecond(intHash32({d}) % (4 * 365 * 86400)))")
    ingested = "toDateTime64('2022-01-01 00:00:00', 3, 'UTC') + toIntervalSecond({d} % (365 * 86400))"
    current_run = "toDateTime64('2024-06-01 00:00:00', 6, 'UTC') + toIntervalSecond({d} % 1000)"
    stale_run = "toDateTime64('2024-01-01 00:00:00', 6, 'UTC') + toIntervalSecond({d} % 1000)"
    region = f"arrayElement({_array(REGIONS)}, 1 + intHash32({{d}} + 7) % {len(REGIONS)})"
    # A 6-digit GB/T 2260-shaped code (30 provinces × 10 prefectures × 20 counties) for the map.
    region_code = ("toString(110000 + (intHash32({d} + 7) % 30) * 10000 + (intHash32({d} + 9) % 10) * 100 "
                   "+ intHash32({d} + 13) % 20)")

    def documents(run: str, version: str, where: str) -> str:
        d = "number"
        return f"""
INSERT INTO {db}.documents (doc_id, source, url, title, published_at, ingested_at, processed_at,
    pipeline_version, script, text, char_count, token_count, paragraph_count, metric_count, topics,
    topic_scores, regions, keywords, kafka_partition, kafka_offset)
SELECT concat('bench-', toString({d})), 'bench', NULL, concat('基准文档 ', toString({d})),
    {published.format(d=d)}, {ingested.format(d=d)}, {run.format(d=d)}, '{version}', 'simplified',
    repeat('全县建档立卡贫困户2.06万户，脱贫人口941名。', 20), 460, 200, 5, {METRICS_PER_DOC},
    arrayFilter((t, i) -> bitTest(intHash32({d} + 3) % 16, i), ['产业', '健康', '教育', '就业'], [0, 1, 2, 3]),
    map('产业', 0.4, '健康', 0.1, '教育', 0.2, '就业', 0.3), [{region.format(d=d)}], ['脱贫', '产业'],
    {d} % 4, {d}
FROM numbers({docs}) {where}"""

    def paragraphs(run: str, version: str, where: str) -> str:
        d = "intDiv(number, 5)"
        return f"""
INSERT INTO {db}.paragraphs (doc_id, paragraph_index, text, topics, scores, evidence, published_at,
    pipeline_version, processed_at)
SELECT concat('bench-', toString({d})), number % 5,
    repeat('全县建档立卡贫困户2.06万户，脱贫人口941名。', 1 + number % 7),
    arrayFilter((t, i) -> bitTest(intHash32(number + 11) % 16, i), ['产业', '健康', '教育', '就业'], [0, 1, 2, 3]),
    map('产业', 0.4), map('产业', ['产业']), {published.format(d=d)}, '{version}', {run.format(d=d)}
FROM numbers({docs * 5}) {where}"""

    def metrics(run: str, version: str, where: str) -> str:
        d = f"intDiv(number, {METRICS_PER_DOC})"
        entry = f"arrayElement({catalog}, 1 + intHash32(number) % {len(CATALOG)})"
        return f"""
INSERT INTO {db}.metrics (doc_id, paragraph_index, sentence, span, char_start, char_end, value,
    value_low, value_high, unit, qualifier, subject, metric, topic, region, year, published_at,
    pipeline_version, processed_at, region_code, ref_year)
SELECT concat('bench-', toString({d})), (number % {METRICS_PER_DOC}) % 5,
    '全县建档立卡贫困户2.06万户，脱贫人口941名。', '2.06万户', (number % {METRICS_PER_DOC}) * 23,
    (number % {METRICS_PER_DOC}) * 23 + 6, (intHash32(number + 1) % 1000000) / 10.0, NULL, NULL,
    tupleElement({entry}, 2), if(number % 7 = 0, 'approx', 'exact'),
    arrayElement({_array(SUBJECTS)}, 1 + intHash32(number + 2) % {len(SUBJECTS)}),
    tupleElement({entry}, 1), tupleElement({entry}, 3), {region.format(d=d)},
    if(intHash32(number + 5) % 10 = 0, NULL, toUInt16(2014 + intHash32(number + 5) % 8)),
    {published.format(d=d)}, '{version}', {run.format(d=d)}, {region_code.format(d=d)},
    if(intHash32(number + 5) % 10 = 0, NULL, toUInt16(2014 + intHash32(number + 5) % 8))
FROM numbers({docs * METRICS_PER_DOC}) WHERE number < {rows} {where}"""

    return [
        documents(stale_run, "bench+r0", "WHERE number % 10 = 0"),
        paragraphs(stale_run, "bench+r0", "WHERE intDiv(number, 5) % 10 = 0"),
        metrics(stale_run, "bench+r0", f"AND intDiv(number, {METRICS_PER_DOC}) % 10 = 0"),
        documents(current_run, "bench+r1", ""),
        paragraphs(current_run, "bench+r1", ""),
        metrics(current_run, "bench+r1", ""),
        f"""
INSERT INTO {db}.dlq (error, detail, source_topic, source_partition, source_offset, doc_id, payload,
    payload_encoding, failed_at, dlq_partition, dlq_offset)
SELECT arrayElement({_array(DLQ_KINDS)}, 1 + number % {len(DLQ_KINDS)}), 'generated', 'news.raw',
    toInt32(number % 4), toInt64(number), if(number % 3 = 0, NULL, concat('bench-', toString(number))),
    '{{}}', 'text', toDateTime64('2024-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number * 97 % (180 * 86400)),
    number % 4, intDiv(number, 4)
FROM numbers({max(1, rows // 100)})""",
    ]


def dashboard_queries(db: str, tables: dict[str, str] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Name → (SQL, parameters) of every view read in full and of every dashboard query, the
    queries reading ``tables`` (a cache generation's; the views themselves when None) as the
    dashboard does."""
    dates = {"date_from": q.MIN_DATE, "date_to": q.MAX_DATE}
    no_filter = {"topic": "", "metric": "", "unit": "", "region": "", "year": 0, "ref_year": 0, **dates}
    one_metric = {**no_filter, "metric": CATALOG[0][0], "unit": CATALOG[0][1]}
    no_fact_filter = {"topic": "", "metric": "", "unit": "", "region": "", "ref_year": 0, "flag": "", **dates}
    one_fact_metric = {**no_fact_filter, "metric": CATALOG[0][0], "unit": CATALOG[0][1]}
    one_year = {"date_from": "2019-01-01", "date_to": "2019-12-31"}
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for view in ("dash_topic_daily", "dash_topic_weekly", "dash_documents_daily", "dash_metric_totals",
                 "dash_top_subjects", "dash_dlq_daily", "dash_topic_shares_daily", "dash_topic_shares_weekly",
                 "facts_latest", "dash_fact_totals", "flagged_metrics"):  # dash_document_metrics: api:document_spans
        found[f"view:{view}"] = (f"SELECT * FROM {q.check_identifier(db)}.{view}", {})
    topics = {
        f"api:topics_{measure}_{granularity}": (
            q.render(q.TOPIC_SERIES, db, tables, series=series, col=col, measure=q.TOPIC_MEASURES[measure]), dates)
        for granularity, (series, col) in q.GRANULARITIES.items() for measure in q.TOPIC_MEASURES
    }
    found.update(topics)
    found.update({
        "api:topics_day": topics["api:topics_documents_day"],
        "api:topics_week": topics["api:topics_documents_week"],
        "api:summary": (q.render(q.SUMMARY, db, tables), {}),
        "api:metric_choices": (q.render(q.METRIC_CHOICES_ALL if tables else q.METRIC_CHOICES, db, tables),
                               {"topic": "", **dates}),
        "api:metric_choices_one_year": (q.render(q.METRIC_CHOICES, db, tables), {"topic": "", **one_year}),
        "api:facets": (q.render(q.FACETS_ALL if tables else q.FACETS, db, tables), dates),
        "api:facets_one_year": (q.render(q.FACETS, db, tables), one_year),
        "api:by_region": (q.render(q.BY_REGION, db, tables), one_fact_metric),
        "api:by_year": (q.render(q.BY_YEAR, db, tables), one_fact_metric),
        "api:by_region_one_year": (q.render(q.BY_REGION, db, tables), {**one_fact_metric, **one_year}),
        "api:map_province": (q.render(q.MAP_TOTALS, db, tables, division=q.DIVISIONS["province"],
                                      scope=q.DIVISION_SCOPE["province"]), one_fact_metric),
        "api:map_prefecture": (q.render(q.MAP_TOTALS, db, tables, division=q.DIVISIONS["prefecture"],
                                        scope=q.DIVISION_SCOPE["prefecture"]), one_fact_metric),
        "api:facts": (q.render(q.FACT_ROWS, db, tables, sort="mentions", direction="DESC"),
                      {**no_fact_filter, "limit": 50, "offset": 0}),
        "api:facts_filtered": (q.render(q.FACT_ROWS, db, tables, sort="last_published", direction="DESC"),
                               {**one_fact_metric, **one_year, "limit": 50, "offset": 0}),
        "api:fact_count": (q.render(q.FACT_COUNT, db, tables), no_fact_filter),
        "api:fact_mentions": (q.render(q.FACT_MENTIONS, db, tables), {"fact_id": "0" * 32}),
        "api:flags": (q.render(q.FLAG_ROWS, db, tables), {"rule": "", **dates, "limit": 50, "offset": 0}),
        "api:flag_counts": (q.render(q.FLAG_COUNTS, db, tables), dates),
        "api:flag_rules": (q.render(q.FLAG_RULES, db, tables), {}),
        "api:subjects_dated": (q.render(q.SUBJECTS_DATED, db, tables), {"limit": 20, **one_year}),
        "api:metric_rows": (q.render(q.METRIC_ROWS, db, tables, sort="value", direction="DESC"),
                            {**no_filter, "limit": 50, "offset": 0}),
        "api:metric_rows_filtered": (q.render(q.METRIC_ROWS, db, tables, sort="published_at", direction="DESC"),
                                     {**one_metric, "region": REGIONS[0], "limit": 50, "offset": 0}),
        "api:metric_rows_one_year": (q.render(q.METRIC_ROWS, db, tables, sort="value", direction="DESC"),
                                     {**no_filter, **one_year, "limit": 50, "offset": 0}),
        "api:metric_count": (q.render(q.METRIC_COUNT, db, tables), {**no_filter, "topic": CATALOG[0][2]}),
        "api:metric_count_all": (q.render(q.METRIC_COUNT_ALL, db, tables), {}),
        "api:document": (q.render(q.DOCUMENT, db, tables), {"doc_id": "bench-10"}),
        "api:document_spans": (q.render(q.DOCUMENT_SPANS_CACHED, db, tables) if tables
                               else q.render(q.DOCUMENT_SPANS, db), {"doc_id": "bench-10", "processed_at": _BENCH_10_RUN}),
        "api:document_list": (q.render(q.DOCUMENT_LIST, db, tables), {"limit": 200}),
        "api:subjects": (q.render(q.SUBJECTS, db, tables), {"limit": 20}),
        "api:dlq": (q.render(q.DLQ_SERIES, db, tables), dates),
    })
    return found


def _median_seconds(run: Callable[[], object], runs: int = RUNS) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def fill(client: Client, db: str, rows: int) -> dict[str, int]:
    """Generate the benchmark data in ``db`` (already migrated); returns row counts per table."""
    for statement in _fill_sql(db, rows):
        client.command(statement, settings={"insert_deduplicate": 0})
    return {
        table: int(client.command(f"SELECT count() FROM {db}.{table}"))  # type: ignore[arg-type]
        for table in ("documents", "paragraphs", "metrics", "dlq")
    }


def bench_dashboard(settings: Settings, rows: int = 1_000_000, *, runs: int = RUNS,
                    on_progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """Fill a scratch database with ``rows`` metric rows, time each dashboard query (median of 3
    runs, seconds) and drop the scratch database. Keys: ``view:<name>`` (the whole view read) and
    ``api:<name>`` (the dashboard's own queries, read from a cache generation as the dashboard
    reads them), plus ``fill:seconds`` for the data generation and ``cache:build_seconds`` for
    building that generation (what the dashboard pays, in the background, after data changed)."""
    if rows < 1 or runs < 1:
        raise ValueError("rows and runs must be at least 1")
    scratch = q.check_identifier(f"{settings.clickhouse_database}_bench_{uuid.uuid4().hex[:8]}")
    scratch_settings = settings.model_copy(update={"clickhouse_database": scratch})
    client = make_client(scratch_settings, send_receive_timeout=600)
    say = on_progress or (lambda _msg: None)
    try:
        say(f"creating scratch database {scratch}")
        apply_migrations(scratch_settings, client)
        say(f"generating {rows:,} metric rows")
        started = time.perf_counter()
        fill(client, scratch, rows)
        results: dict[str, float] = {"fill:seconds": time.perf_counter() - started}
        say("building the dashboard's cache generation")
        generation = build_generation(client, scratch, "0be9c4e0", 1)
        results["cache:build_seconds"] = generation.build_seconds
        views = {name: query for name, query in dashboard_queries(scratch).items() if name.startswith("view:")}
        cached = {name: query for name, query in dashboard_queries(scratch, generation.tables).items()
                  if name.startswith("api:")}
        for name, (sql, params) in {**views, **cached}.items():
            say(f"timing {name}")
            client.query(sql, parameters=params)  # warm-up, not counted
            results[name] = _median_seconds(lambda sql=sql, params=params: client.query(sql, parameters=params), runs)
        return results
    finally:
        try:
            client.command(f"DROP DATABASE IF EXISTS {scratch}")
            client.command(f"DROP DATABASE IF EXISTS {cache_database(scratch)}")
        finally:
            client.close()
