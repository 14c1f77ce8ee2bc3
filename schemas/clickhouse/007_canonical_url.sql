-- The publisher's own address of an article (issue 15): `newsetl follow` fetches a page under one
-- URL and files it under its canonical one. Idempotent on an existing database: the column is
-- added once (NULL for rows written before), and documents_latest, which selects `*`, is
-- re-created, because a view keeps the columns it was created with.
ALTER TABLE {db}.documents ADD COLUMN IF NOT EXISTS canonical_url Nullable(String);

CREATE OR REPLACE VIEW {db}.documents_latest AS
SELECT * FROM {db}.documents FINAL;
