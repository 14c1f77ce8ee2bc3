-- Reference year of a metric (issue 8): `ref_year` is the year an analyst files the figure under,
-- `year_basis` how it was found (written | relative | document | published | none; see DESIGN.md).
-- Idempotent on an existing database: the columns are added once (rows written before read as
-- NULL / 'none' until a replay brings them to the new pipeline version), and the views that
-- select `*` from metrics are re-created, because a view keeps the columns it was created with
-- (here, not only in 005: dash_metric_totals below reads ref_year through metrics_latest).
ALTER TABLE {db}.metrics ADD COLUMN IF NOT EXISTS ref_year Nullable(UInt16);

ALTER TABLE {db}.metrics ADD COLUMN IF NOT EXISTS year_basis LowCardinality(String) DEFAULT 'none';

CREATE OR REPLACE VIEW {db}.metrics_latest AS
SELECT * FROM {db}.metrics FINAL
WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {db}.documents GROUP BY doc_id);

CREATE OR REPLACE VIEW {db}.dash_document_metrics AS
SELECT * FROM {db}.metrics FINAL
WHERE doc_id = {doc_id:String}
  AND processed_at = (SELECT max(processed_at) FROM {db}.documents WHERE doc_id = {doc_id:String});

-- dash_metric_totals of 003, charted by reference year: the grain is region × ref_year ×
-- year_basis × topic × canonical metric × unit (`year`, the written year, is kept: it is NULL
-- unless year_basis = 'written', so it adds no rows). `ref_year` is NULL when nothing dates a figure.
CREATE OR REPLACE VIEW {db}.dash_metric_totals AS
SELECT
    region, ref_year, year_basis, year, topic, metric, unit, mentions, documents, total, average,
    minimum, maximum,
    latest.1 AS latest_value,
    latest.2 AS latest_doc_id,
    latest.3 AS latest_key,
    latest_published_at
FROM
(
    SELECT
        region,
        ref_year,
        year_basis,
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
    GROUP BY region, ref_year, year_basis, year, topic, metric, unit
);
