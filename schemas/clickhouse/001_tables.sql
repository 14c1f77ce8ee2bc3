-- Base tables. Every enrichment run of a document writes one `documents` row and its
-- paragraph/metric rows, all stamped with the run's `processed_at`; redelivered rows are
-- identical and collapse (ReplacingMergeTree + insert dedup), and the *_latest views
-- (002) keep only the newest run per document.
CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.documents
(
    doc_id           String,
    source           LowCardinality(String),
    url              Nullable(String),
    title            String,
    published_at     Nullable(DateTime64(3, 'UTC')),
    ingested_at      DateTime64(3, 'UTC'),
    processed_at     DateTime64(6, 'UTC'),
    pipeline_version LowCardinality(String),
    script           LowCardinality(String),
    text             String CODEC(ZSTD(3)),
    char_count       UInt32,
    token_count      UInt32,
    paragraph_count  UInt32,
    metric_count     UInt32,
    topics           Array(LowCardinality(String)),
    topic_scores     Map(LowCardinality(String), Float32),
    regions          Array(String),
    keywords         Array(String),
    kafka_partition  UInt32,
    kafka_offset     UInt64
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY doc_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.paragraphs
(
    doc_id           String,
    paragraph_index  UInt32,
    text             String CODEC(ZSTD(3)),
    topics           Array(LowCardinality(String)),
    scores           Map(LowCardinality(String), Float32),
    evidence         Map(LowCardinality(String), Array(String)),
    published_at     Nullable(DateTime64(3, 'UTC')),
    pipeline_version LowCardinality(String),
    processed_at     DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY (doc_id, processed_at, paragraph_index)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.metrics
(
    doc_id           String,
    paragraph_index  UInt32,
    sentence         String CODEC(ZSTD(3)),
    span             String,
    char_start       UInt32,
    char_end         UInt32,
    value            Float64,
    value_low        Nullable(Float64),
    value_high       Nullable(Float64),
    unit             LowCardinality(String),
    qualifier        LowCardinality(String),
    subject          String,
    metric           LowCardinality(String),
    topic            LowCardinality(String),
    region           String,
    year             Nullable(UInt16),
    published_at     Nullable(DateTime64(3, 'UTC')),
    pipeline_version LowCardinality(String),
    processed_at     DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY (topic, metric, region, doc_id, processed_at, paragraph_index, char_start, char_end)
SETTINGS non_replicated_deduplication_window = 10000;

-- Copy of news.dlq for dashboards and accounting (one row per DLQ message).
CREATE TABLE IF NOT EXISTS {db}.dlq
(
    error            LowCardinality(String),
    detail           String,
    source_topic     LowCardinality(String),
    source_partition Nullable(Int32),
    source_offset    Nullable(Int64),
    doc_id           Nullable(String),
    payload          String CODEC(ZSTD(3)),
    payload_encoding LowCardinality(String),
    failed_at        DateTime64(3, 'UTC'),
    dlq_partition    UInt32,
    dlq_offset       UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (dlq_partition, dlq_offset)
SETTINGS non_replicated_deduplication_window = 10000;
