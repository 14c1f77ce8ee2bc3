-- Dashboard views (issue 5): what the local dashboard (streams/dashboard) and the Grafana
-- dashboard (deploy/grafana) query directly. All of them read the *_latest views, so a replay or a
-- redelivered batch never counts a document, paragraph or metric twice, and a stale pipeline run
-- never shows. Plain (non-materialized) views: always consistent with the tables; measured by
-- `newsetl bench` (streams/bench_dashboard.py) at well under a second on a million metric rows.
--
-- A document's date is published_at, falling back to ingested_at when the article has none.
-- A document without any topic is counted under 'other' (like a metric's topic).

-- Documents per day and topic (a document with two topics counts once in each).
CREATE VIEW IF NOT EXISTS {db}.dash_topic_daily AS
SELECT
    toDate(coalesce(published_at, ingested_at)) AS day,
    topic,
    count() AS documents
FROM {db}.documents_latest
ARRAY JOIN if(empty(topics), ['other'], CAST(topics, 'Array(String)')) AS topic
GROUP BY day, topic;

-- Documents per ISO week (Monday) and topic.
CREATE VIEW IF NOT EXISTS {db}.dash_topic_weekly AS
SELECT
    toMonday(coalesce(published_at, ingested_at)) AS week,
    topic,
    count() AS documents
FROM {db}.documents_latest
ARRAY JOIN if(empty(topics), ['other'], CAST(topics, 'Array(String)')) AS topic
GROUP BY week, topic;

-- Documents and extracted metrics per day (the denominator for topic shares, and volume).
CREATE VIEW IF NOT EXISTS {db}.dash_documents_daily AS
SELECT
    toDate(coalesce(published_at, ingested_at)) AS day,
    count() AS documents,
    sum(metric_count) AS metrics,
    sum(char_count) AS chars
FROM {db}.documents_latest
GROUP BY day;

-- Metric totals at the finest dashboard grain: region × year × topic × canonical metric × unit
-- (values in different units are never added up). `latest_value` is the value reported by the most
-- recently published document (ties: highest doc_id, then last position in the text); re-aggregate
-- it with argMax(latest_value, latest_key). `region` is '' and `year` NULL when unknown.
-- 004_ref_year.sql re-creates this view charted by `ref_year` (and the views selecting `*` from
-- metrics, so they see its new columns); the definition here is the one of databases before it.
CREATE VIEW IF NOT EXISTS {db}.dash_metric_totals AS
SELECT
    region, year, topic, metric, unit, mentions, documents, total, average, minimum, maximum,
    latest.1 AS latest_value,
    latest.2 AS latest_doc_id,
    latest.3 AS latest_key,
    latest_published_at
FROM
(
    SELECT
        region,
        year,
        topic,
        metric,
        unit,
        count() AS mentions,
        uniqExact(doc_id) AS documents,
        sum(value) AS total,
        avg(value) AS average,
        min(value) AS minimum,
        max(value) AS maximum,
        -- one argMax over a tuple is cheaper than three aggregates over the same key
        argMax(
            (value, doc_id, (ifNull(published_at, toDateTime64(0, 3, 'UTC')), doc_id, char_start)),
            (ifNull(published_at, toDateTime64(0, 3, 'UTC')), doc_id, char_start)
        ) AS latest,
        max(published_at) AS latest_published_at
    FROM {db}.metrics_latest
    GROUP BY region, year, topic, metric, unit
);

-- Subjects (the counted noun phrase, e.g. 贫困人口) by how often metrics mention them.
CREATE VIEW IF NOT EXISTS {db}.dash_top_subjects AS
SELECT
    subject,
    count() AS mentions,
    uniqExact(doc_id) AS documents,
    arraySort(groupUniqArray(CAST(topic, 'String'))) AS topics,
    arraySort(groupUniqArray(8)(CAST(metric, 'String'))) AS metrics,
    max(published_at) AS latest_published_at
FROM {db}.metrics_latest
WHERE subject != ''
GROUP BY subject;

-- Dead-letter volume per day and kind (dlq.error); FINAL folds redelivered DLQ copies.
CREATE VIEW IF NOT EXISTS {db}.dash_dlq_daily AS
SELECT
    toDate(failed_at) AS day,
    CAST(error, 'String') AS kind,
    count() AS messages,
    uniqExact(doc_id) AS documents
FROM {db}.dlq FINAL
GROUP BY day, kind;

-- The current run's metrics of ONE document, for the document view (a parameterized view:
-- `SELECT … FROM dash_document_metrics(doc_id = 'x')`). Same rows as metrics_latest filtered on
-- doc_id, but the run is looked up for that document only, instead of for every document.
CREATE VIEW IF NOT EXISTS {db}.dash_document_metrics AS
SELECT * FROM {db}.metrics FINAL
WHERE doc_id = {doc_id:String}
  AND processed_at = (SELECT max(processed_at) FROM {db}.documents WHERE doc_id = {doc_id:String});
