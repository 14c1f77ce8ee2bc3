"""The pipeline's :class:`~streams.pipeline.types.Analysis` as the wire model ``AnalysisResult``.

The one conversion from the pure pipeline's dataclasses to ``schemas.models``, used by the
enrich step, ``newsetl analyze`` and the test and bench callers. It copies every field as is;
only the document id comes from the caller (the raw message's, or the hash of the normalized
text when there is none).
"""

from __future__ import annotations

from schemas.models import AnalysisResult, DocSummary, MetricResult, ParagraphResult, doc_id_for
from streams.pipeline.types import Analysis


def to_analysis_result(analysis: Analysis, doc_id: str | None = None) -> AnalysisResult:
    """``analysis`` as the contract's ``AnalysisResult`` (``doc_id``: default ``doc_id_for(text)``)."""
    doc = analysis.doc
    return AnalysisResult(
        doc=DocSummary(
            doc_id=doc_id or doc_id_for(analysis.text), title=doc.title, script=doc.script,
            regions=doc.regions, region_codes=doc.region_codes, topics=doc.topics,
            topic_scores=doc.topic_scores,
        ),
        paragraphs=[
            ParagraphResult(index=p.index, text=p.text, topics=p.topics, scores=p.scores, evidence=p.evidence)
            for p in analysis.paragraphs
        ],
        metrics=[
            MetricResult(
                sentence=m.sentence, span=m.span, char_start=m.char_start, char_end=m.char_end, value=m.value,
                value_low=m.value_low, value_high=m.value_high, unit=m.unit, qualifier=m.qualifier,
                subject=m.subject, metric=m.metric, topic=m.topic, region=m.region,
                region_code=m.region_code, year=m.year,
                paragraph_index=m.paragraph_index, ref_year=m.ref_year, year_basis=m.year_basis,
                flags=list(m.flags),
            )
            for m in analysis.metrics
        ],
        text=analysis.text,
        token_count=analysis.token_count,
        keywords=analysis.keywords,
        pipeline_version=analysis.pipeline_version,
    )
