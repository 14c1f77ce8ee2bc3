-- Count each fact once (issue 13): near-duplicate documents, facts, consistency flags.
--
-- Everything below is computed in views from columns the sink writes (a document's MinHash of
-- its normalized text, a metric's row-level flags), so groups, facts and flags are the same with
-- one worker or several, after a restart and after a replay: no state lives in a process.
-- Idempotent on an existing database; rows written before read with an empty fingerprint (never
-- grouped) and no flags until a replay brings them to the new pipeline version.

ALTER TABLE {db}.documents ADD COLUMN IF NOT EXISTS minhash Array(UInt32) CODEC(ZSTD(1));

ALTER TABLE {db}.metrics ADD COLUMN IF NOT EXISTS flags Array(LowCardinality(String));

-- The consistency rules (streams/pipeline/rules/flags.json), loaded by apply_migrations at every
-- start: the corpus rules below read their parameters here, the dashboard their explanations.
CREATE TABLE IF NOT EXISTS {db}.flag_rules
(
    rule           String,
    scope          LowCardinality(String),
    explanation    String,
    explanation_en String,
    params         String
)
ENGINE = ReplacingMergeTree
ORDER BY rule;

-- Views select `*` from the base tables: re-created so they carry the new columns.
CREATE OR REPLACE VIEW {db}.documents_latest AS
SELECT * FROM {db}.documents FINAL;

CREATE OR REPLACE VIEW {db}.metrics_latest AS
SELECT * FROM {db}.metrics FINAL
WHERE (doc_id, processed_at) IN (SELECT doc_id, max(processed_at) FROM {db}.documents GROUP BY doc_id);

CREATE OR REPLACE VIEW {db}.dash_document_metrics AS
SELECT * FROM {db}.metrics FINAL
WHERE doc_id = {doc_id:String}
  AND processed_at = (SELECT max(processed_at) FROM {db}.documents WHERE doc_id = {doc_id:String});

-- Near-duplicate pairs: (doc_id, other) where `other` is an earlier document (by date, then id)
-- whose estimated Jaccard similarity over 4-character shingles is at least 0.5. Candidates share
-- one of 42 LSH bands of 3 MinHash values (streams/pipeline/fingerprint.py).
CREATE OR REPLACE VIEW {db}.document_links AS
WITH
    fingerprints AS
    (
        SELECT doc_id, coalesce(published_at, ingested_at) AS at, minhash,
               arrayMap(i -> cityHash64(i, arraySlice(minhash, i * 3 + 1, 3)), range(42)) AS bands
        FROM {db}.documents_latest
        WHERE length(minhash) = 128
    ),
    banded AS (SELECT doc_id, at, band FROM fingerprints ARRAY JOIN bands AS band),
    candidates AS
    (
        SELECT DISTINCT a.doc_id AS doc_id, b.doc_id AS other, b.at AS other_at
        FROM banded AS a
        INNER JOIN banded AS b ON a.band = b.band
        WHERE (b.at, b.doc_id) < (a.at, a.doc_id)
    )
SELECT c.doc_id AS doc_id, c.other AS other, c.other_at AS other_at,
       arrayCount((x, y) -> x = y, fa.minhash, fb.minhash) / 128 AS similarity
FROM candidates AS c
INNER JOIN fingerprints AS fa ON fa.doc_id = c.doc_id
INNER JOIN fingerprints AS fb ON fb.doc_id = c.other
WHERE similarity >= 0.5;

-- Every current document with its group: `duplicate_of` is the earliest document of its
-- near-duplicate group ('' when it is that earliest one, or alone), `similarity` its estimated
-- Jaccard similarity to it (0 when ''), `group_id` the group's earliest document (its own id when
-- ''). A document links to the earliest earlier document it is similar to, and that one's own
-- link is followed once more (a chain of reposts of reposts ends at the first).
CREATE OR REPLACE VIEW {db}.document_groups AS
WITH
    first_links AS
    (
        SELECT doc_id, argMin(other, (other_at, other)) AS first_doc
        FROM {db}.document_links
        GROUP BY doc_id
    ),
    roots AS
    (
        SELECT l1.doc_id AS doc_id, if(l2.first_doc != '', l2.first_doc, l1.first_doc) AS root
        FROM first_links AS l1
        LEFT JOIN first_links AS l2 ON l2.doc_id = l1.first_doc
    )
SELECT d.doc_id AS doc_id,
       r.root AS duplicate_of,
       if(r.root = '', 0., arrayCount((x, y) -> x = y, d.minhash, o.minhash) / 128) AS similarity,
       if(r.root = '', d.doc_id, r.root) AS group_id
FROM {db}.documents_latest AS d
LEFT JOIN roots AS r ON r.doc_id = d.doc_id
LEFT JOIN (SELECT doc_id, minhash FROM {db}.documents_latest) AS o ON o.doc_id = r.root
SETTINGS join_use_nulls = 0;

-- Documents as documents_latest, with their group.
CREATE OR REPLACE VIEW {db}.documents_grouped AS
SELECT d.*, g.duplicate_of AS duplicate_of, g.similarity AS similarity, g.group_id AS group_id
FROM {db}.documents_latest AS d
LEFT JOIN {db}.document_groups AS g ON g.doc_id = d.doc_id;

-- Every current metric row with the context of the fact it states. A figure of a near-duplicate
-- that its group's first document also states (same metric, unit and value, and the same subject,
-- a subject containing the other, or the only such figure there) takes that document's region,
-- reference year and subject: a retitled, re-dated or re-led repost adds a mention, not
-- a fact. A figure only the duplicate states (an update's changed figure) keeps its own, except
-- that a region taken from the duplicate's main region and a year from its title or date
-- (year_basis document / published / none) are the first document's.
-- `fact_id` is a stable hex id (cityHash64) of the fact key (region_code, ref_year, metric, unit, value,
-- normalized subject `fact_subject`: no spaces, punctuation or symbols).
CREATE OR REPLACE VIEW {db}.fact_rows AS
WITH
    -- a subject as compared: without spaces, punctuation and symbols
    '[\\s\\p{P}\\p{S}]+' AS not_subject,
    -- only near-duplicates need their group's context: every join below is restricted to them
    -- and to their groups' first documents, so a corpus without reposts costs one pass
    dups AS (SELECT doc_id AS dup_doc, duplicate_of AS dup_root FROM {db}.document_groups WHERE duplicate_of != ''),
    grouped AS
    (
        SELECT m.*, replaceRegexpAll(m.subject, not_subject, '') AS subject_key,
               d.dup_root AS duplicate_of, if(d.dup_root = '', m.doc_id, d.dup_root) AS group_id
        FROM {db}.metrics_latest AS m
        LEFT JOIN dups AS d ON d.dup_doc = m.doc_id
    ),
    doc_context AS
    (
        SELECT doc_id AS d_doc, region_codes[1] AS main_code, regions[1] AS main_region,
               toYear(coalesce(published_at, ingested_at)) AS published_year
        FROM {db}.documents_latest
        WHERE doc_id IN (SELECT arrayJoin([dup_doc, dup_root]) FROM dups)
    ),
    root_rows AS
    (
        SELECT doc_id AS f_doc, metric AS f_metric, unit AS f_unit, value AS f_value, char_start AS f_start,
               ref_year AS f_ref_year, year_basis AS f_basis,
               (region_code, region, ref_year, year_basis,
                replaceRegexpAll(subject, not_subject, '')) AS context
        FROM {db}.metrics_latest
        WHERE doc_id IN (SELECT dup_root FROM dups)
    ),
    title_years AS
    (
        SELECT f_doc AS y_doc, minIf(f_ref_year, f_basis = 'document') AS title_year
        FROM root_rows
        GROUP BY f_doc
    ),
    -- a duplicate's figure and the first document's figures with the same metric, unit and value:
    -- the one with the same subject wins, then one whose subject contains the other's (a retitled
    -- headline: 【关注】… ), then the only one
    candidates AS
    (
        SELECT m.doc_id AS m_doc, m.char_start AS m_start, m.char_end AS m_end, f.context AS context,
               multiIf(context.5 = m.subject_key, 3,
                       m.subject_key != '' AND context.5 != ''
                       AND (position(m.subject_key, context.5) > 0 OR position(context.5, m.subject_key) > 0), 2,
                       1) AS score,
               f.f_start AS f_start
        FROM
        (
            SELECT doc_id, char_start, char_end, metric, unit, value, dup_root,
                   replaceRegexpAll(subject, not_subject, '') AS subject_key
            FROM {db}.metrics_latest
            INNER JOIN dups ON dup_doc = doc_id
        ) AS m
        INNER JOIN root_rows AS f
            ON f.f_doc = m.dup_root AND f.f_metric = m.metric AND f.f_unit = m.unit AND f.f_value = m.value
    ),
    matches AS
    (
        SELECT m_doc, m_start, m_end, argMax(context, (score, -toInt64(f_start))) AS first_context,
               max(score) AS best, count() AS found
        FROM candidates
        GROUP BY m_doc, m_start, m_end
        HAVING best >= 2 OR found = 1
    ),
    resolved AS
    (
        SELECT m.*, mt.m_doc != '' AS stated_by_first, mt.first_context AS first_context,
               r.main_code AS first_main_code, r.main_region AS first_main_region,
               coalesce(ry.title_year, r.published_year) AS first_year, own.main_code AS own_main_code
        FROM grouped AS m
        LEFT JOIN matches AS mt ON mt.m_doc = m.doc_id AND mt.m_start = m.char_start AND mt.m_end = m.char_end
        LEFT JOIN doc_context AS r ON r.d_doc = m.duplicate_of
        LEFT JOIN title_years AS ry ON ry.y_doc = m.duplicate_of
        LEFT JOIN doc_context AS own ON own.d_doc = m.doc_id
    )
SELECT
    *,
    multiIf(duplicate_of = '', region_code,
            stated_by_first, first_context.1,
            region_code = own_main_code AND first_main_code != '', first_main_code,
            region_code) AS fact_region_code,
    multiIf(duplicate_of = '', region,
            stated_by_first, first_context.2,
            region_code = own_main_code AND first_main_code != '', first_main_region,
            region) AS fact_region,
    multiIf(duplicate_of = '', ref_year,
            stated_by_first, first_context.3,
            year_basis IN ('document', 'published', 'none'), first_year,
            ref_year) AS fact_ref_year,
    if(duplicate_of != '' AND stated_by_first, first_context.5, subject_key) AS fact_subject,
    lower(hex(cityHash64(fact_region_code, ifNull(fact_ref_year, 0), isNull(fact_ref_year),
                         CAST(metric, 'String'), CAST(unit, 'String'), value, fact_subject))) AS fact_id
FROM resolved
SETTINGS join_use_nulls = 0;

-- Facts before the corpus rules (internal: read facts_latest): one row per fact_id. A fact's
-- first mention (earliest published, then doc_id, then position) gives its region name, topic,
-- sentence and document.
CREATE OR REPLACE VIEW {db}.fact_table AS
SELECT
    fact_id,
    any(r_region_code) AS region_code,
    argMin(r_region, first_key) AS region,
    any(r_ref_year) AS ref_year,
    any(r_metric) AS metric,
    any(r_unit) AS unit,
    any(r_value) AS value,
    any(r_subject) AS subject,
    argMin(r_topic, first_key) AS topic,
    count() AS mentions,
    uniqExact(r_doc_id) AS documents,
    min(r_published_at) AS first_published,
    max(r_published_at) AS last_published,
    argMin(r_sentence, first_key) AS sentence,
    argMin(r_doc_id, first_key) AS doc_id,
    arraySort(arrayDistinct(arrayFlatten(groupArray(r_flags)))) AS row_flags
FROM
(
    SELECT fact_id, fact_region_code AS r_region_code, fact_region AS r_region, fact_ref_year AS r_ref_year,
           CAST(metric, 'String') AS r_metric, CAST(unit, 'String') AS r_unit, value AS r_value,
           fact_subject AS r_subject, CAST(topic, 'String') AS r_topic, doc_id AS r_doc_id,
           published_at AS r_published_at, sentence AS r_sentence, CAST(flags, 'Array(String)') AS r_flags,
           (ifNull(published_at, toDateTime64('2149-01-01', 3, 'UTC')), doc_id, char_start) AS first_key
    FROM {db}.fact_rows
)
GROUP BY fact_id;

-- One row per fact: (region_code, ref_year, metric, unit, value, normalized subject) across
-- near-duplicate documents and repeated paragraphs, with how often and how long it was reported,
-- one source sentence, and the flags of its rows and of the corpus rules (scope "corpus" in
-- flags.json, parameters from flag_rules):
-- median_outlier: a fact of one of `metrics` (quantities a region has one value of in a year, such
--   as per-capita income or a poverty rate) more than `factor`× above or below the median of the
--   facts with the same region, metric, unit, reference year and subject (the same quantity
--   reported with different values), when there are at least `min_facts` of them;
-- poverty_rate_after_exit: a poverty incidence (`metric`) of a region for a year after the year an
--   article whose main region it is says it left poverty (a year written before one of `exit_words` in
--   the same sentence), above the region's lowest rate for an earlier year since then.
CREATE OR REPLACE VIEW {db}.facts_latest AS
WITH
    ifNull((SELECT any(params) FROM {db}.flag_rules FINAL WHERE rule = 'median_outlier'), '') AS outlier_params,
    ifNull((SELECT any(params) FROM {db}.flag_rules FINAL WHERE rule = 'poverty_rate_after_exit'), '') AS exit_params,
    JSONExtractFloat(outlier_params, 'factor') AS factor,
    JSONExtractUInt(outlier_params, 'min_facts') AS min_facts,
    JSONExtract(outlier_params, 'metrics', 'Array(String)') AS outlier_metrics,
    JSONExtractString(exit_params, 'metric') AS poverty_metric,
    concat('(\\d{4})年[^。；！？]{0,24}?(?:',
           arrayStringConcat(JSONExtract(exit_params, 'exit_words', 'Array(String)'), '|'), ')') AS exit_pattern,
    exits AS
    (
        SELECT region_code AS e_region, min(year) AS exit_year
        FROM
        (
            SELECT d.region_codes[1] AS region_code, toUInt16(y) AS year
            FROM {db}.paragraphs_latest AS p
            INNER JOIN {db}.documents_latest AS d ON d.doc_id = p.doc_id
            ARRAY JOIN extractAll(p.text, exit_pattern) AS y
            WHERE poverty_metric != '' AND length(d.region_codes) > 0
        )
        GROUP BY region_code
    ),
    windowed AS
    (
        SELECT
            t.*,
            e.exit_year AS exit_year,
            count() OVER same_quantity AS peers,
            medianExact(t.value) OVER same_quantity AS middle,
            minIf(t.value, ifNull(t.ref_year, 0) >= e.exit_year) OVER earlier_years AS lowest_since_exit
        FROM {db}.fact_table AS t
        LEFT JOIN exits AS e ON e.e_region = t.region_code
        WINDOW
            same_quantity AS (PARTITION BY t.region_code, t.metric, t.unit, t.ref_year, t.subject),
            earlier_years AS (PARTITION BY t.region_code, t.metric, t.unit ORDER BY ifNull(t.ref_year, 0)
                              RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    )
SELECT
    fact_id, region_code, region, ref_year, metric, unit, value, subject, topic, mentions, documents,
    first_published, last_published, sentence, doc_id,
    arraySort(arrayDistinct(arrayConcat(row_flags, arrayFilter(x -> x != '', [
        if(factor > 1 AND has(outlier_metrics, metric) AND region_code != '' AND ref_year IS NOT NULL AND peers >= min_facts AND middle > 0
           AND (value > middle * factor OR value * factor < middle), 'median_outlier', ''),
        if(metric = poverty_metric AND region_code != '' AND exit_year > 0 AND ifNull(ref_year, 0) > exit_year
           AND lowest_since_exit > 0 AND value > lowest_since_exit, 'poverty_rate_after_exit', '')
    ])))) AS flags
FROM windowed
SETTINGS join_use_nulls = 0;

-- Every mention of a fact (the dashboard opens a fact's source sentences with it).
CREATE OR REPLACE VIEW {db}.fact_mentions AS
SELECT r.fact_id AS fact_id, r.doc_id AS doc_id, d.title AS title, r.published_at AS published_at,
       r.paragraph_index AS paragraph_index, r.char_start AS char_start, r.sentence AS sentence,
       r.duplicate_of AS duplicate_of
FROM {db}.fact_rows AS r
LEFT JOIN (SELECT doc_id, title FROM {db}.documents_latest) AS d ON d.doc_id = r.doc_id
SETTINGS join_use_nulls = 0;

-- One row per (current metric row, flag): the row's own flags and those of its fact.
CREATE OR REPLACE VIEW {db}.flagged_metrics AS
SELECT
    r.doc_id AS doc_id, d.title AS title, r.published_at AS published_at,
    r.paragraph_index AS paragraph_index, r.char_start AS char_start, r.char_end AS char_end,
    r.sentence AS sentence, r.span AS span, r.value AS value, CAST(r.unit, 'String') AS unit,
    CAST(r.metric, 'String') AS metric, CAST(r.topic, 'String') AS topic, r.fact_region AS region,
    r.fact_region_code AS region_code, r.fact_ref_year AS ref_year, r.fact_id AS fact_id,
    r.flag AS flag, ifNull(fr.explanation, '') AS explanation
FROM
(
    SELECT rows.*, arrayJoin(arrayDistinct(arrayConcat(CAST(rows.flags, 'Array(String)'), c.fact_flags))) AS flag
    FROM {db}.fact_rows AS rows
    LEFT JOIN (SELECT fact_id AS c_fact, flags AS fact_flags FROM {db}.facts_latest) AS c ON c.c_fact = rows.fact_id
) AS r
LEFT JOIN (SELECT doc_id, title FROM {db}.documents_latest) AS d ON d.doc_id = r.doc_id
LEFT JOIN (SELECT rule, explanation FROM {db}.flag_rules FINAL) AS fr ON fr.rule = r.flag
SETTINGS join_use_nulls = 0;

-- Fact totals at the dashboard's grain (region × reference year × topic × metric × unit): every
-- fact counted once, whatever the number of documents that repeat it.
CREATE OR REPLACE VIEW {db}.dash_fact_totals AS
SELECT
    region, region_code, ref_year, topic, metric, unit,
    count() AS facts,
    sum(mentions) AS mentions,
    sum(documents) AS documents,
    sum(value) AS total,
    avg(value) AS average,
    min(value) AS minimum,
    max(value) AS maximum,
    argMax(value, (ifNull(last_published, toDateTime64(0, 3, 'UTC')), fact_id)) AS latest_value,
    max(last_published) AS latest_published_at
FROM {db}.facts_latest
GROUP BY region, region_code, ref_year, topic, metric, unit;
