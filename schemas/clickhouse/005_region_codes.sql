-- GB/T 2260 codes of the regions (issue 8): `region_code` of a metric's `region`, and
-- `region_codes` of a document's `regions` (same order). Idempotent on an existing database: the
-- columns are added once (rows written before read '' / [] until a replay brings them to the new
-- pipeline version), and the views that select `*` from metrics or documents are re-created,
-- because a view keeps the columns it was created with.
ALTER TABLE {db}.metrics ADD COLUMN IF NOT EXISTS region_code LowCardinality(String) DEFAULT '';

ALTER TABLE {db}.documents ADD COLUMN IF NOT EXISTS region_codes Array(String);

CREATE OR REPLACE VIEW {db}.documents_latest AS
SELECT * FROM {db}.documents FINAL;

CREATE OR REPLACE VIEW {db}.metrics_latest AS
SELECT * FROM {db}.metrics FINAL
WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {db}.documents GROUP BY doc_id);

CREATE OR REPLACE VIEW {db}.dash_document_metrics AS
SELECT * FROM {db}.metrics FINAL
WHERE doc_id = {doc_id:String}
  AND processed_at = (SELECT max(processed_at) FROM {db}.documents WHERE doc_id = {doc_id:String});
