"""The news.enriched wire format carries each sentence once and reads back whole."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from schemas.models import EnrichedDocument
from streams.stream.analysis import build_pipeline
from streams.stream.convert import to_analysis_result

TEXT = "全镇新建冷库3座、烘干房5间、晾晒场2处，带动脱贫户120户，户均增收3,600元。第二句有8人。"


def test_to_wire_keeps_each_sentence_once_and_reads_back_equal(enriched):
    base = enriched()
    analysis = to_analysis_result(build_pipeline().analyze(TEXT), doc_id=base.raw.doc_id)
    doc = base.model_copy(update={"analysis": analysis})
    wire = doc.to_wire()
    data = json.loads(wire)
    assert data["analysis"]["sentences"] == ["全镇新建冷库3座、烘干房5间、晾晒场2处，带动脱贫户120户，户均增收3,600元。", "第二句有8人。"]
    assert [(m["sentence"], m["sentence_index"]) for m in data["analysis"]["metrics"]] == [
        ("", 0), ("", 0), ("", 0), ("", 0), ("", 1)]
    back = EnrichedDocument.model_validate_json(wire)
    assert [m.sentence for m in back.analysis.metrics] == [m.sentence for m in doc.analysis.metrics]
    assert back.analysis.contract() == doc.analysis.contract()
    assert "sentence_index" not in back.analysis.contract()["metrics"][0]


def test_a_record_with_inline_sentences_still_reads(enriched):
    doc = enriched()
    assert EnrichedDocument.model_validate_json(doc.model_dump_json()) == doc


def test_a_sentence_index_outside_the_table_is_a_validation_error(enriched):
    data = json.loads(enriched().to_wire())
    data["analysis"]["metrics"][0]["sentence_index"] = 7
    with pytest.raises(ValidationError, match="sentence_index 7"):
        EnrichedDocument.model_validate_json(json.dumps(data))


def test_a_sentence_with_many_figures_does_not_grow_the_record_quadratically(enriched):
    def sizes(figures: int) -> tuple[int, int]:
        text = "全县" + "、".join(f"{i}户" for i in range(figures)) + "。"
        analysis = to_analysis_result(build_pipeline().analyze(text), doc_id="d")
        assert len(analysis.metrics) == figures
        doc = enriched().model_copy(update={"analysis": analysis})
        return len(doc.to_wire()), len(doc.model_dump_json().encode())

    (wire_200, inline_200), (wire_400, inline_400) = sizes(200), sizes(400)
    assert inline_400 > 3 * inline_200  # the sentence repeated per figure: quadratic
    assert wire_400 < 2.2 * wire_200  # each sentence once: linear
