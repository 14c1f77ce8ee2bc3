"""Small hand-built enriched documents for sink and row tests (no services)."""

from datetime import UTC, datetime

import pytest

from schemas.models import (
    AnalysisResult,
    DocSummary,
    EnrichedDocument,
    MetricResult,
    ParagraphResult,
    RawDocument,
)


def make_enriched(doc_id: str = "doc-1", version: str = "0.1.0+test", offset: int = 0, metrics: int = 2) -> EnrichedDocument:
    text = "全县脱贫3601户8055人。"
    analysis = AnalysisResult(
        doc=DocSummary(doc_id=doc_id, title="标题", script="simplified", regions=["河南省济源市"], topics=["产业"],
                       topic_scores={"产业": 0.8, "健康": 0.0, "教育": 0.0, "就业": 0.1}),
        paragraphs=[ParagraphResult(index=0, text=text, topics=["产业"], scores={"产业": 0.8}, evidence={"产业": ["产业"]})],
        metrics=[
            MetricResult(sentence=text, span=f"{3601 + i}户", char_start=4, char_end=9, value=3601 + i, unit="户",
                         subject="脱贫户", metric="poverty_households", topic="other", region="河南省济源市",
                         year=2019, paragraph_index=0)
            for i in range(metrics)
        ],
        text=text, token_count=6, keywords=["脱贫"], pipeline_version=version,
    )
    raw = RawDocument(doc_id=doc_id, source="test", title="标题", text=text,
                      published_at=datetime(2020, 5, 16, tzinfo=UTC))
    return EnrichedDocument(raw=raw, analysis=analysis, pipeline_version=version,
                            processed_at=datetime(2026, 1, 1, 12, tzinfo=UTC), kafka_partition=0, kafka_offset=offset)


@pytest.fixture
def enriched():
    return make_enriched
