"""The SQL the local dashboard runs, in one place (also timed by ``streams.bench_dashboard``).

Every statement is a constant: user input only ever reaches ClickHouse as server-side query
parameters (``{name:Type}`` placeholders, passed with clickhouse-connect's ``parameters=``). The
only text substituted into SQL is the configured database name (validated as an identifier) and,
for the metrics table, a sort column and direction picked from :data:`SORT_COLUMNS` /
``ASC|DESC`` — never the user's string itself.

Optional filters use the ``({p:String} = '' OR col = {p:String})`` form, so one statement serves
every filter combination (ClickHouse folds the constant branch away before planning).
"""

from __future__ import annotations

import re
from typing import Final

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Sort keys the metrics table accepts (API name → SQL expression over metrics_latest).
SORT_COLUMNS: Final[dict[str, str]] = {
    "value": "value",
    "published_at": "published_at",
    "region": "region",
    "year": "year",
    "metric": "metric",
    "topic": "topic",
    "subject": "subject",
    "unit": "unit",
}
#: Granularities of the topic share chart (API name → (view, date column)).
GRANULARITIES: Final[dict[str, tuple[str, str]]] = {
    "day": ("dash_topic_daily", "day"),
    "week": ("dash_topic_weekly", "week"),
}

# Defaults that mean "no bound" for date range parameters.
MIN_DATE: Final = "1970-01-01"
MAX_DATE: Final = "2149-06-06"

TOPIC_SERIES: Final = """
SELECT {col} AS period, topic, sum(documents) AS documents
FROM {db}.{view}
WHERE {col} BETWEEN {date_from:Date} AND {date_to:Date}
GROUP BY period, topic
ORDER BY period, topic
"""

METRIC_FILTER: Final = """
    ({topic:String} = '' OR topic = {topic:String})
    AND ({metric:String} = '' OR metric = {metric:String})
    AND ({unit:String} = '' OR unit = {unit:String})
    AND ({region:String} = '' OR region = {region:String})
    AND ({year:UInt16} = 0 OR year = {year:UInt16})
"""

METRIC_CHOICES: Final = """
SELECT metric, unit, sum(mentions) AS mentions
FROM {db}.dash_metric_totals
WHERE ({topic:String} = '' OR topic = {topic:String})
GROUP BY metric, unit
ORDER BY metric = 'other', mentions DESC, metric, unit
LIMIT 300
"""

FACET_TOPICS: Final = """
SELECT topic, sum(mentions) AS mentions FROM {db}.dash_metric_totals GROUP BY topic ORDER BY mentions DESC, topic
"""
FACET_REGIONS: Final = """
SELECT region, sum(mentions) AS mentions FROM {db}.dash_metric_totals
WHERE region != '' GROUP BY region ORDER BY mentions DESC, region LIMIT 500
"""
FACET_YEARS: Final = """
SELECT assumeNotNull(year) AS y, sum(mentions) AS mentions FROM {db}.dash_metric_totals
WHERE year IS NOT NULL GROUP BY y ORDER BY y
"""

BY_REGION: Final = """
SELECT if(region = '', '(未知)', region) AS label, sum(total) AS total, sum(mentions) AS mentions,
       argMax(latest_value, latest_key) AS latest
FROM {db}.dash_metric_totals
WHERE """ + METRIC_FILTER + """
GROUP BY label
ORDER BY total DESC, label
LIMIT 30
"""

# Charted by reference year (the year a figure is filed under: written, 今年/去年 resolved, the
# title's or the publication year); the ``year`` filter stays the written year, as on the rows.
BY_YEAR: Final = """
SELECT assumeNotNull(ref_year) AS label, sum(total) AS total, sum(mentions) AS mentions,
       argMax(latest_value, latest_key) AS latest
FROM {db}.dash_metric_totals
WHERE ref_year IS NOT NULL AND """ + METRIC_FILTER + """
GROUP BY label
ORDER BY label
"""

METRIC_ROWS: Final = """
SELECT doc_id, paragraph_index, sentence, span, char_start, char_end, value, value_low, value_high,
       unit, qualifier, subject, metric, topic, region, year, published_at
FROM {db}.metrics_latest
WHERE """ + METRIC_FILTER + """
ORDER BY {sort} {direction}, doc_id, char_start
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
"""

METRIC_COUNT: Final = """
SELECT count() FROM {db}.metrics_latest WHERE """ + METRIC_FILTER

# Without filters the count is the sum of the documents' metric counts (same rows, far cheaper).
METRIC_COUNT_ALL: Final = """
SELECT sum(metrics) FROM {db}.dash_documents_daily
"""

TITLES: Final = """
SELECT doc_id, title FROM {db}.documents_latest WHERE doc_id IN {ids:Array(String)}
"""

DOCUMENT: Final = """
SELECT doc_id, title, url, source, published_at, ingested_at, script, topics, topic_scores, regions,
       keywords, text, char_count, pipeline_version
FROM {db}.documents_latest
WHERE doc_id = {doc_id:String}
"""

DOCUMENT_SPANS: Final = """
SELECT char_start, char_end, span, value, unit, qualifier, metric, topic, subject, region, year,
       paragraph_index, sentence
FROM {db}.dash_document_metrics(doc_id = {doc_id:String})
ORDER BY char_start, char_end
"""

DOCUMENT_LIST: Final = """
SELECT doc_id, title, coalesce(published_at, ingested_at) AS date, topics, metric_count
FROM {db}.documents_latest
ORDER BY date DESC, doc_id
LIMIT {limit:UInt32}
"""

SUBJECTS: Final = """
SELECT subject, mentions, documents, topics, metrics
FROM {db}.dash_top_subjects
ORDER BY mentions DESC, subject
LIMIT {limit:UInt32}
"""

DLQ_SERIES: Final = """
SELECT day, kind, messages
FROM {db}.dash_dlq_daily
WHERE day BETWEEN {date_from:Date} AND {date_to:Date}
ORDER BY day, kind
"""

SUMMARY: Final = """
SELECT
    (SELECT sum(documents) FROM {db}.dash_documents_daily) AS documents,
    (SELECT sum(metrics) FROM {db}.dash_documents_daily) AS metrics,
    (SELECT sum(messages) FROM {db}.dash_dlq_daily) AS dlq,
    (SELECT min(day) FROM {db}.dash_documents_daily) AS first_day,
    (SELECT max(day) FROM {db}.dash_documents_daily) AS last_day
"""


def check_identifier(name: str) -> str:
    """``name`` if it is a plain SQL identifier (the database name comes from settings)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def render(template: str, db: str, **identifiers: str) -> str:
    """A statement with ``{db}`` and whitelisted identifiers (``{sort}``, ``{direction}``,
    ``{view}``, ``{col}``) filled in by plain replacement; ``{name:Type}`` parameter placeholders
    are left for ClickHouse. Only :data:`SORT_COLUMNS` values, ``ASC``/``DESC`` and the view and
    column names of :data:`GRANULARITIES` are accepted as identifiers.
    """
    allowed = set(SORT_COLUMNS.values()) | {"ASC", "DESC"}
    for view, col in GRANULARITIES.values():
        allowed |= {view, col}
    sql = template.replace("{db}", check_identifier(db))
    for key, value in identifiers.items():
        if value not in allowed:
            raise ValueError(f"{key}={value!r} is not a whitelisted identifier")
        sql = sql.replace("{" + key + "}", value)
    leftover = re.findall(r"\{(\w+)\}", sql)
    if leftover:
        raise ValueError(f"unfilled identifiers in query: {leftover}")
    return sql
