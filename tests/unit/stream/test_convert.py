"""``to_analysis_result``: the pipeline's dataclasses as the wire models, every field copied as is."""

from __future__ import annotations

import dataclasses

from schemas.models import AnalysisResult, DocSummary, MetricResult, ParagraphResult, doc_id_for
from streams.pipeline.types import Analysis, DocInfo, Metric, ParagraphTopics
from streams.stream.convert import to_analysis_result

METRIC = Metric(
    sentence="投入2亿余元。", span="2亿余元", char_start=2, char_end=6, value=200_000_000.0, value_low=None,
    value_high=None, unit="元", qualifier="approx", subject="投入", metric="investment", topic="产业",
    region="河南省鹤壁市淇县", year=None, paragraph_index=0, ref_year=2021, year_basis="relative",
    region_code="410622",
)
ANALYSIS = Analysis(
    doc=DocInfo(title="淇县", script="simplified", regions=["河南省鹤壁市淇县"], topics=["产业"],
                topic_scores={"产业": 0.6, "健康": 0.0}, region_codes=["410622"]),
    paragraphs=[ParagraphTopics(index=0, text="投入2亿余元。", topics=["产业"], scores={"产业": 0.6},
                                evidence={"产业": ["投入"]})],
    metrics=[METRIC],
    text="投入2亿余元。",
    token_count=4,
    keywords=["投入"],
    pipeline_version="0.1.0+r0000abcd",
)


def test_every_field_is_copied():
    assert to_analysis_result(ANALYSIS, doc_id="d1") == AnalysisResult(
        doc=DocSummary(doc_id="d1", title="淇县", script="simplified", regions=["河南省鹤壁市淇县"],
                       region_codes=["410622"], topics=["产业"], topic_scores={"产业": 0.6, "健康": 0.0}),
        paragraphs=[ParagraphResult(index=0, text="投入2亿余元。", topics=["产业"], scores={"产业": 0.6},
                                    evidence={"产业": ["投入"]})],
        metrics=[MetricResult(**dataclasses.asdict(METRIC))],
        text="投入2亿余元。", token_count=4, keywords=["投入"], pipeline_version="0.1.0+r0000abcd",
    )


def test_doc_id_defaults_to_the_hash_of_the_normalized_text():
    assert to_analysis_result(ANALYSIS).doc.doc_id == "4338c57717d67702a371aa676921439c" == doc_id_for(ANALYSIS.text)


def test_the_dataclasses_have_exactly_the_wire_fields():
    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    # sentence_index and sentences exist only on the wire (each sentence once on news.enriched)
    assert names(Metric) | {"sentence_index"} == set(MetricResult.model_fields)
    assert names(ParagraphTopics) == set(ParagraphResult.model_fields)
    assert names(DocInfo) | {"doc_id"} == set(DocSummary.model_fields)
    assert names(Analysis) | {"sentences"} == set(AnalysisResult.model_fields)
