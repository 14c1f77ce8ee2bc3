-- Exactly one current version per document: the newest run (max processed_at) wins, and
-- FINAL folds redelivered copies that have not been merged yet.
CREATE VIEW IF NOT EXISTS {db}.documents_latest AS
SELECT * FROM {db}.documents FINAL;

CREATE VIEW IF NOT EXISTS {db}.paragraphs_latest AS
SELECT * FROM {db}.paragraphs FINAL
WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {db}.documents GROUP BY doc_id);

CREATE VIEW IF NOT EXISTS {db}.metrics_latest AS
SELECT * FROM {db}.metrics FINAL
WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {db}.documents GROUP BY doc_id);
