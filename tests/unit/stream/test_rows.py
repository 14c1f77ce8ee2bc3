"""Rows built for ClickHouse match the column lists and the DDL's expectations."""

from datetime import datetime

from streams.stream.rows import DOCUMENT_COLUMNS, METRIC_COLUMNS, PARAGRAPH_COLUMNS, table_rows


def test_rows_align_with_columns(enriched):
    rows = table_rows([enriched(metrics=3), enriched(doc_id="doc-2", metrics=0)])
    assert len(rows["documents"]) == 2
    assert len(rows["metrics"]) == 3
    assert len(rows["paragraphs"]) == 2
    assert all(len(r) == len(DOCUMENT_COLUMNS) for r in rows["documents"])
    assert all(len(r) == len(METRIC_COLUMNS) for r in rows["metrics"])
    assert all(len(r) == len(PARAGRAPH_COLUMNS) for r in rows["paragraphs"])


def test_document_row_values(enriched):
    row = dict(zip(DOCUMENT_COLUMNS, table_rows([enriched(metrics=2)])["documents"][0], strict=True))
    assert row["doc_id"] == "doc-1"
    assert row["metric_count"] == 2
    assert row["char_count"] == len("全县脱贫3601户8055人。")
    assert row["processed_at"] == datetime(2026, 1, 1, 12)  # naive UTC for DateTime64(6, 'UTC')
    assert row["published_at"].tzinfo is None


def test_metric_rows_carry_the_reference_year(enriched):
    doc = enriched(metrics=1)
    doc.analysis.metrics[0] = doc.analysis.metrics[0].model_copy(update={"ref_year": 2019, "year_basis": "written"})
    row = dict(zip(METRIC_COLUMNS, table_rows([doc])["metrics"][0], strict=True))
    assert (row["year"], row["ref_year"], row["year_basis"]) == (2019, 2019, "written")
    # a record enriched before the fields existed reads as undated
    old = dict(zip(METRIC_COLUMNS, table_rows([enriched(metrics=1)])["metrics"][0], strict=True))
    assert (old["ref_year"], old["year_basis"]) == (None, "none")


def test_rows_carry_the_region_codes(enriched):
    doc = enriched(metrics=1)
    doc.analysis.metrics[0] = doc.analysis.metrics[0].model_copy(
        update={"region": "贵州省黔南布依族苗族自治州", "region_code": "522700"})
    doc.analysis.doc = doc.analysis.doc.model_copy(
        update={"regions": ["贵州省黔南布依族苗族自治州", "广东省"], "region_codes": ["522700", "440000"]})
    rows = table_rows([doc])
    metric = dict(zip(METRIC_COLUMNS, rows["metrics"][0], strict=True))
    document = dict(zip(DOCUMENT_COLUMNS, rows["documents"][0], strict=True))
    assert (metric["region"], metric["region_code"]) == ("贵州省黔南布依族苗族自治州", "522700")
    assert (document["regions"], document["region_codes"]) == (["贵州省黔南布依族苗族自治州", "广东省"], ["522700", "440000"])
    # a record enriched before the fields existed has no codes
    old = table_rows([enriched(metrics=1)])
    assert dict(zip(METRIC_COLUMNS, old["metrics"][0], strict=True))["region_code"] == ""
    assert dict(zip(DOCUMENT_COLUMNS, old["documents"][0], strict=True))["region_codes"] == []



def test_the_document_row_carries_the_fingerprint_of_the_normalized_text(enriched):
    from streams.pipeline.fingerprint import fingerprint

    made = dict(zip(DOCUMENT_COLUMNS, table_rows([enriched(metrics=1)])["documents"][0], strict=True))["minhash"]
    assert made == fingerprint("全县脱贫3601户8055人。").minhash and len(made) == 128
