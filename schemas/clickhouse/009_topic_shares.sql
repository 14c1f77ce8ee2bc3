-- Topic shares an analyst can read (issue "count each fact once", dashboard part): per day / ISO
-- week (Monday) and topic, next to the documents of dash_topic_daily, the paragraphs about the
-- topic, their characters (the length weight: lengthUTF8 of the paragraph text) and the figures
-- (metrics) that measure it. Multi-label: a paragraph (or document) with two topics counts in
-- both; a paragraph or document without topic, and a figure whose topic is '' or 'other', count
-- under 'other'. Everything reads the *_latest views, so a replay never counts twice. The date of
-- a paragraph or figure is its document's: toDate(coalesce(published_at, ingested_at)).
-- Idempotent: CREATE OR REPLACE, so a changed definition reaches existing databases.
CREATE OR REPLACE VIEW {db}.dash_topic_shares_daily AS
SELECT
    day,
    topic,
    sum(documents) AS documents,
    sum(paragraphs) AS paragraphs,
    sum(chars) AS chars,
    sum(figures) AS figures
FROM
(
    SELECT
        toDate(coalesce(published_at, ingested_at)) AS day,
        topic,
        count() AS documents,
        toUInt64(0) AS paragraphs,
        toUInt64(0) AS chars,
        toUInt64(0) AS figures
    FROM {db}.documents_latest
    ARRAY JOIN if(empty(topics), ['other'], CAST(topics, 'Array(String)')) AS topic
    GROUP BY day, topic

    UNION ALL

    SELECT d.day AS day, p.topic AS topic, toUInt64(0), count(), sum(p.chars), toUInt64(0)
    FROM
    (
        SELECT doc_id, chars, topic
        FROM
        (
            SELECT doc_id, toUInt64(lengthUTF8(text)) AS chars, topics
            FROM {db}.paragraphs_latest
        )
        ARRAY JOIN if(empty(topics), ['other'], CAST(topics, 'Array(String)')) AS topic
    ) AS p
    INNER JOIN
    (
        SELECT doc_id, toDate(coalesce(published_at, ingested_at)) AS day FROM {db}.documents_latest
    ) AS d ON p.doc_id = d.doc_id
    GROUP BY day, topic

    UNION ALL

    SELECT d.day AS day, m.topic AS topic, toUInt64(0), toUInt64(0), toUInt64(0), count()
    FROM
    (
        SELECT doc_id, if(topic = '', 'other', CAST(topic, 'String')) AS topic FROM {db}.metrics_latest
    ) AS m
    INNER JOIN
    (
        SELECT doc_id, toDate(coalesce(published_at, ingested_at)) AS day FROM {db}.documents_latest
    ) AS d ON m.doc_id = d.doc_id
    GROUP BY day, topic
)
GROUP BY day, topic;

-- The same per ISO week (Monday); a document has one date, so summing its days is exact.
CREATE OR REPLACE VIEW {db}.dash_topic_shares_weekly AS
SELECT
    toMonday(day) AS week,
    topic,
    sum(documents) AS documents,
    sum(paragraphs) AS paragraphs,
    sum(chars) AS chars,
    sum(figures) AS figures
FROM {db}.dash_topic_shares_daily
GROUP BY week, topic;
