"""The SQL the local dashboard runs, in one place (also timed by ``streams.bench_dashboard``).

Every statement is a constant: user input only ever reaches ClickHouse as server-side query
parameters (``{name:Type}`` placeholders, passed with clickhouse-connect's ``parameters=``). The
only text substituted into SQL is the configured database name (validated as an identifier) and,
for the metrics table, a sort column and direction picked from :data:`SORT_COLUMNS` /
``ASC|DESC`` — never the user's string itself.

Optional filters use the ``({p:String} = '' OR col = {p:String})`` form, so one statement serves
every filter combination (ClickHouse folds the constant branch away before planning).

Dates: every chart and table takes a date range (``{date_from:Date}``, ``{date_to:Date}``; the
defaults :data:`MIN_DATE` / :data:`MAX_DATE` mean "no bound"). A metric row is dated by its
document's ``published_at``, a fact by its ``first_published``; an undated row reads as
:data:`MIN_DATE`, so it shows as long as no start date is set.

Totals (by region, by year, the map, the metric choices) count facts (``facts_latest``: a figure
repeated by several documents counts once), not metric rows.

Tables: a query names what it reads by key (``{facts}``, ``{metrics}``, …). The dashboard fills
them with the tables of a cache generation (:mod:`streams.dashboard.cache`: the views copied into
the dashboard's own database, milliseconds a query at a million rows); without one,
:data:`LIVE_TABLES` names the views themselves (exact, slower). ``facet_totals`` exists only in a
generation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A table of the dashboard's cache generations (streams.dashboard.cache), unqualified.
CACHE_TABLE_NAME: Final = r"dash_cache_[0-9a-f]{8}_\d+_[a-z_]+"
_CACHE_TABLE = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]*\.{CACHE_TABLE_NAME}$")

#: What each table key of the queries reads without a cache generation: the views themselves.
LIVE_TABLES: Final[dict[str, str]] = {
    "facts": "facts_latest",
    "mentions": "fact_mentions",
    "flagged": "flagged_metrics",
    "metrics": "metrics_latest",
    "documents": "documents_latest",
    "topic_shares_daily": "dash_topic_shares_daily",
    "topic_shares_weekly": "dash_topic_shares_weekly",
    "top_subjects": "dash_top_subjects",
    "documents_daily": "dash_documents_daily",
}

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
#: Sort keys the facts table accepts (API name → column of facts_latest).
FACT_SORT_COLUMNS: Final[dict[str, str]] = {
    "mentions": "mentions",
    "documents": "documents",
    "value": "value",
    "first_published": "first_published",
    "last_published": "last_published",
    "region": "region",
    "ref_year": "ref_year",
    "metric": "metric",
    "unit": "unit",
    "subject": "subject",
}
#: Granularities of the topic share chart (API name → (table key, date column)).
GRANULARITIES: Final[dict[str, tuple[str, str]]] = {
    "day": ("topic_shares_daily", "day"),
    "week": ("topic_shares_weekly", "week"),
}
#: What the topic share chart counts (API name → column of the dash_topic_shares_* views):
#: paragraph characters (the default: a paragraph weighs its length), paragraphs, figures, documents.
TOPIC_MEASURES: Final[dict[str, str]] = {
    "chars": "chars",
    "paragraphs": "paragraphs",
    "figures": "figures",
    "documents": "documents",
}
#: Map levels (API name → SQL expression of the division code of a 6-digit GB/T 2260 ``region_code``).
#: A province is the first 2 digits + '0000'. A prefecture is the first 4 + '00', except for the
#: municipalities, Taiwan, Hong Kong and Macau (one division each: the province code) and for the
#: county-level units directly under a province (xx90xx, e.g. 济源 419001: their own code).
WHOLE_PROVINCES: Final = ("11", "12", "31", "50", "71", "81", "82")
_WHOLE = "(" + ", ".join(f"'{p}'" for p in WHOLE_PROVINCES) + ")"
DIVISIONS: Final[dict[str, str]] = {
    "province": "concat(substring(region_code, 1, 2), '0000')",
    "prefecture": (f"multiIf(substring(region_code, 1, 2) IN {_WHOLE}, concat(substring(region_code, 1, 2), '0000'), "
                   "substring(region_code, 3, 2) = '90', region_code, concat(substring(region_code, 1, 4), '00'))"),
}
#: Which facts a level can place: any with a code for provinces; below province level for prefectures.
DIVISION_SCOPE: Final[dict[str, str]] = {
    "province": "1",
    "prefecture": f"(substring(region_code, 3, 4) != '0000' OR substring(region_code, 1, 2) IN {_WHOLE})",
}

# Defaults that mean "no bound" for date range parameters.
MIN_DATE: Final = "1970-01-01"
MAX_DATE: Final = "2149-06-06"

# The {col} / {measure} identifiers and the {series} table key come from GRANULARITIES and
# TOPIC_MEASURES only.
TOPIC_SERIES: Final = """
SELECT {col} AS period, topic, sum({measure}) AS value
FROM {series}
WHERE {col} BETWEEN {date_from:Date} AND {date_to:Date}
GROUP BY period, topic
HAVING value > 0
ORDER BY period, topic
"""

#: A metric row's date: its document's publication date (undated: MIN_DATE); a fact's: the first
#: publication of any of its mentions. A cache generation has them as a ``day`` column.
LIVE_DAYS: Final[dict[str, str]] = {
    "row_day": "toDate(ifNull(published_at, toDateTime64(0, 3, 'UTC')))",
    "fact_day": "toDate(ifNull(first_published, toDateTime64(0, 3, 'UTC')))",
}
ROW_DATES: Final = """
    {row_day} BETWEEN {date_from:Date} AND {date_to:Date}
"""
FACT_DATES: Final = """
    {fact_day} BETWEEN {date_from:Date} AND {date_to:Date}
"""

# The filters metric rows and facts share (an empty choice is no filter).
_WHAT_AND_WHERE: Final = """
    ({topic:String} = '' OR topic = {topic:String})
    AND ({metric:String} = '' OR metric = {metric:String})
    AND ({unit:String} = '' OR unit = {unit:String})
    AND ({region:String} = '' OR region = {region:String})"""

# ``year`` is the written year of a row, ``ref_year`` the year it is filed under.
METRIC_FILTER: Final = _WHAT_AND_WHERE + """
    AND ({year:UInt16} = 0 OR year = {year:UInt16})
    AND ({ref_year:UInt16} = 0 OR ref_year = {ref_year:UInt16})
    AND """ + ROW_DATES

# Facts have no written year: the year filter of the totals is the reference year.
FACT_FILTER: Final = _WHAT_AND_WHERE + """
    AND ({ref_year:UInt16} = 0 OR ref_year = {ref_year:UInt16})
    AND ({flag:String} = '' OR has(flags, {flag:String}))
    AND """ + FACT_DATES

METRIC_CHOICES: Final = """
SELECT metric, unit, count() AS facts, sum(mentions) AS mentions
FROM {facts}
WHERE ({topic:String} = '' OR topic = {topic:String}) AND """ + FACT_DATES + """
GROUP BY metric, unit
ORDER BY metric = 'other', facts DESC, mentions DESC, metric, unit
LIMIT 300
"""

# The same without a date range, from the generation's pre-aggregated facet totals.
METRIC_CHOICES_ALL: Final = """
SELECT metric, unit, sum(facts) AS facts, sum(mentions) AS mentions
FROM {facet_totals}
WHERE ({topic:String} = '' OR topic = {topic:String})
GROUP BY metric, unit
ORDER BY metric = 'other', facts DESC, mentions DESC, metric, unit
LIMIT 300
"""

# Every filter choice in one pass over the facts (facts_latest is a deep view: read it once):
# facts and mentions per topic × region × reference year × metric × unit in the date range; the
# server derives the topic, region, year and metric·unit lists from it.
FACETS: Final = """
SELECT topic, region, ref_year, metric, unit, count() AS facts, sum(mentions) AS mentions
FROM {facts}
WHERE """ + FACT_DATES + """
GROUP BY topic, region, ref_year, metric, unit
"""

FACETS_ALL: Final = """
SELECT topic, region, ref_year, metric, unit, facts, mentions FROM {facet_totals}
"""

# The latest value of a group is the value of the fact last published (ties: highest fact_id).
_LATEST = "argMax(value, (ifNull(last_published, toDateTime64(0, 3, 'UTC')), fact_id))"

BY_REGION: Final = """
SELECT if(region = '', '(未知)', region) AS label, sum(value) AS total, count() AS facts,
       sum(mentions) AS mentions, """ + _LATEST + """ AS latest
FROM {facts}
WHERE """ + FACT_FILTER + """
GROUP BY label
ORDER BY total DESC, label
LIMIT 30
"""

# Charted by reference year (the year a figure is filed under: written, 今年/去年 resolved, the
# title's or the publication year).
BY_YEAR: Final = """
SELECT assumeNotNull(ref_year) AS label, sum(value) AS total, count() AS facts,
       sum(mentions) AS mentions, """ + _LATEST + """ AS latest
FROM {facts}
WHERE ref_year IS NOT NULL AND """ + FACT_FILTER + """
GROUP BY label
ORDER BY label
"""

# The {division} / {scope} expressions come from DIVISIONS and DIVISION_SCOPE only.
MAP_TOTALS: Final = """
SELECT {division} AS code, sum(value) AS total, count() AS facts, sum(mentions) AS mentions,
       sum(documents) AS documents
FROM {facts}
WHERE length(region_code) = 6 AND match(region_code, '^[0-9]+$') AND {scope} AND """ + FACT_FILTER + """
GROUP BY code
ORDER BY total DESC, code
"""

# A page of facts; FACT_COUNT (run beside it) is the number the filters match.
FACT_ROWS: Final = """
SELECT fact_id, region, region_code, ref_year, metric, unit, value, subject, topic, mentions, documents,
       first_published, last_published, flags, sentence, doc_id
FROM {facts}
WHERE """ + FACT_FILTER + """
ORDER BY {sort} {direction}, fact_id
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
"""

FACT_COUNT: Final = """
SELECT count() FROM {facts} WHERE """ + FACT_FILTER

FACT_MENTIONS: Final = """
SELECT doc_id, title, published_at, paragraph_index, char_start, sentence, duplicate_of
FROM {mentions}
WHERE fact_id = {fact_id:String}
ORDER BY ifNull(published_at, toDateTime64(0, 3, 'UTC')), doc_id, paragraph_index, char_start
LIMIT 1000
"""

FLAG_FILTER: Final = """
    ({rule:String} = '' OR flag = {rule:String}) AND """ + ROW_DATES

FLAG_ROWS: Final = """
SELECT flag, explanation, doc_id, title, published_at, paragraph_index, char_start, char_end, sentence, span,
       value, unit, metric, topic, region, region_code, ref_year
FROM {flagged}
WHERE """ + FLAG_FILTER + """
ORDER BY published_at DESC NULLS LAST, doc_id, char_start, flag
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
"""

# The rules (with their explanations) and how many rows each flags in the date range.
FLAG_RULES: Final = """
SELECT rule, scope, explanation FROM {db}.flag_rules FINAL ORDER BY rule
"""
FLAG_COUNTS: Final = """
SELECT flag, count() AS flagged FROM {flagged} WHERE """ + ROW_DATES + """ GROUP BY flag
"""

METRIC_ROWS: Final = """
SELECT doc_id, paragraph_index, sentence, span, char_start, char_end, value, value_low, value_high,
       unit, qualifier, subject, metric, topic, region, year, published_at
FROM {metrics}
WHERE """ + METRIC_FILTER + """
ORDER BY {sort} {direction}, doc_id, char_start
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
"""

METRIC_COUNT: Final = """
SELECT count() FROM {metrics} WHERE """ + METRIC_FILTER

# Without filters the count is the sum of the documents' metric counts (same rows, far cheaper).
METRIC_COUNT_ALL: Final = """
SELECT sum(metrics) FROM {documents_daily}
"""

TITLES: Final = """
SELECT doc_id, title FROM {documents} WHERE doc_id IN {ids:Array(String)}
"""

# One document, always read live (its text is not cached): with its run, to pair it with spans.
DOCUMENT: Final = """
SELECT doc_id, title, url, source, published_at, ingested_at, script, topics, topic_scores, regions,
       keywords, text, char_count, pipeline_version, processed_at, metric_count
FROM {db}.documents_latest
WHERE doc_id = {doc_id:String}
"""

_SPAN_COLUMNS = """char_start, char_end, span, value, unit, qualifier, metric, topic, subject, region, year,
       paragraph_index, sentence"""

# The spans of that run from the cache; when the cache holds another run (or not all of its
# spans), DOCUMENT_SPANS reads them live.
DOCUMENT_SPANS_CACHED: Final = """
SELECT """ + _SPAN_COLUMNS + """
FROM {metrics}
WHERE doc_id = {doc_id:String} AND processed_at = {processed_at:DateTime64(6, 'UTC')}
ORDER BY char_start, char_end
"""

DOCUMENT_SPANS: Final = """
SELECT """ + _SPAN_COLUMNS + """
FROM {db}.dash_document_metrics(doc_id = {doc_id:String})
ORDER BY char_start, char_end
"""

DOCUMENT_LIST: Final = """
SELECT doc_id, title, coalesce(published_at, ingested_at) AS date, topics, metric_count
FROM {documents}
ORDER BY date DESC, doc_id
LIMIT {limit:UInt32}
"""

SUBJECTS: Final = """
SELECT subject, mentions, documents, topics, metrics
FROM {top_subjects}
ORDER BY mentions DESC, subject
LIMIT {limit:UInt32}
"""

# dash_top_subjects restricted to a date range (same columns, read from metrics_latest).
SUBJECTS_DATED: Final = """
SELECT subject, count() AS mentions, uniqExact(doc_id) AS documents,
       arraySort(groupUniqArray(CAST(topic, 'String'))) AS topics,
       arraySort(groupUniqArray(8)(CAST(metric, 'String'))) AS metrics
FROM {metrics}
WHERE subject != '' AND """ + ROW_DATES + """
GROUP BY subject
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
    (SELECT sum(documents) FROM {documents_daily}) AS documents,
    (SELECT sum(metrics) FROM {documents_daily}) AS metrics,
    (SELECT sum(messages) FROM {db}.dash_dlq_daily) AS dlq,
    (SELECT min(day) FROM {documents_daily}) AS first_day,
    (SELECT max(day) FROM {documents_daily}) AS last_day
"""


def check_identifier(name: str) -> str:
    """``name`` if it is a plain SQL identifier (the database name comes from settings)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def render(template: str, db: str, tables: Mapping[str, str] | None = None, **identifiers: str) -> str:
    """A statement with ``{db}``, its tables and whitelisted identifiers (``{sort}``,
    ``{direction}``, ``{col}``, ``{measure}``, ``{division}``, ``{scope}``) filled in by plain
    replacement; ``{name:Type}`` parameter placeholders are left for ClickHouse.

    ``tables`` maps table keys (``facts``, ``metrics``, …) to a cache generation's tables (names
    of the cache's form only); keys it lacks read :data:`LIVE_TABLES`. ``{series}`` is the table
    key of a :data:`GRANULARITIES` entry. Only the values of :data:`SORT_COLUMNS`,
    :data:`FACT_SORT_COLUMNS`, :data:`TOPIC_MEASURES`, :data:`DIVISIONS`, :data:`DIVISION_SCOPE`,
    ``ASC``/``DESC`` and the date columns of :data:`GRANULARITIES` are accepted as identifiers.
    """
    allowed = (set(SORT_COLUMNS.values()) | set(FACT_SORT_COLUMNS.values()) | set(TOPIC_MEASURES.values())
               | set(DIVISIONS.values()) | set(DIVISION_SCOPE.values()) | {"ASC", "DESC"})
    for _key, col in GRANULARITIES.values():
        allowed.add(col)
    db = check_identifier(db)
    names = {**{key: f"{db}.{view}" for key, view in LIVE_TABLES.items()}, **(tables or {})}
    for key, name in (tables or {}).items():
        if not _CACHE_TABLE.match(name):
            raise ValueError(f"{key}={name!r} is not a cache table")
    series = identifiers.pop("series", None)
    if series is not None:
        if series not in {key for key, _col in GRANULARITIES.values()}:
            raise ValueError(f"series={series!r} is not a topic series")
        template = template.replace("{series}", "{" + series + "}")
    sql = template.replace("{db}", db)
    for key, name in names.items():
        sql = sql.replace("{" + key + "}", name)
    for key, expression in LIVE_DAYS.items():
        sql = sql.replace("{" + key + "}", "day" if tables else expression)
    for key, value in identifiers.items():
        if value not in allowed:
            raise ValueError(f"{key}={value!r} is not a whitelisted identifier")
        sql = sql.replace("{" + key + "}", value)
    leftover = re.findall(r"\{(\w+)\}", sql)
    if leftover:
        raise ValueError(f"unfilled identifiers in query: {leftover}")
    return sql
