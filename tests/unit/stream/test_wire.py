"""The news.enriched wire format carries each sentence once and reads back whole; the value the
worker publishes, made without the models, is theirs byte for byte."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.models import EnrichedDocument, RawDocument
from streams.bench.corpus import bench_corpus
from streams.pipeline.types import Analysis, DocInfo, Metric, ParagraphTopics
from streams.stream.analysis import build_pipeline
from streams.stream.convert import to_analysis_result
from streams.stream.enrich import enrich_wire
from streams.stream.wire import enriched_value

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


# --- the value made without the models (streams.stream.wire) ----------------------------------

def _golden_script():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "refresh_analysis_golden.py"
    spec = importlib.util.spec_from_file_location("refresh_analysis_golden", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def _by_the_models(raw: RawDocument, analysis: Analysis, processed_at: datetime, offset: int = 7) -> bytes:
    return EnrichedDocument(raw=raw, analysis=to_analysis_result(analysis, doc_id=raw.doc_id),
                            pipeline_version="9.9.9", processed_at=processed_at, kafka_partition=3,
                            kafka_offset=offset).to_wire()


def _direct(raw: RawDocument, analysis: Analysis, processed_at: datetime, offset: int = 7) -> bytes:
    return enriched_value(raw, analysis, pipeline_version="9.9.9", processed_at=processed_at, partition=3,
                          offset=offset)


def test_the_direct_value_is_the_models_value_byte_for_byte_on_seeds_devset_and_corpus():
    golden = _golden_script()
    pipeline = build_pipeline()
    processed = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)
    docs = [(d.name, d.text, d.title, d.published_at) for d in golden.golden_documents()]
    docs += [(d["doc_id"], d["text"], d.get("title"), None) for d in bench_corpus(200)]
    assert len(docs) > 250
    for i, (name, text, title, published) in enumerate(docs):
        raw = RawDocument(doc_id=f"id-{i}", source="test", title=title, text=text, published_at=published,
                          url="https://example.cn/a", ingested_at=processed)
        analysis = pipeline.analyze(text, title=title, published_at=published)
        assert _direct(raw, analysis, processed, i) == _by_the_models(raw, analysis, processed, i), name


def _metric(**changes) -> Metric:
    base = Metric(sentence="全乡种植花椒1.2万亩。", span="1.2万亩", char_start=6, char_end=11, value=12000.0,
                  value_low=None, value_high=None, unit="亩", qualifier="exact", subject="花椒", metric="area",
                  topic="产业", region="", year=None, paragraph_index=0)
    return replace(base, **changes)


def _analysis(metric: Metric, script: str = "traditional", score: float = 0.25) -> Analysis:
    return Analysis(
        doc=DocInfo(title=None, script=script, regions=["甘肃省定西市"], topics=[],  # type: ignore[arg-type]
                    topic_scores={"产业": 1, "健康": score}, region_codes=["621100"]),
        paragraphs=[ParagraphTopics(index=0, text=metric.sentence, topics=["产业"], scores={"产业": 2},
                                    evidence={"产业": ["花椒"]}),
                    ParagraphTopics(index=1, text="", topics=[], scores={}, evidence={})],
        metrics=[metric, replace(metric, char_start=0), replace(metric, sentence="另一句。")],
        text=metric.sentence, token_count=0, keywords=[], pipeline_version="9.9.9",
    )


@pytest.mark.parametrize("metric", [
    _metric(),
    _metric(value=3600, value_low=3000, value_high=4000, qualifier="approx"),  # ints: floats on the wire
    _metric(value=1e16, value_high=0.1 + 0.2, year=2025, ref_year=2025, year_basis="written"),
    _metric(subject="𠀀村合作社", region="甘肃省定西市", region_code="621100", flags=("share_over_100", "x")),
], ids=["plain", "ints", "floats-years", "astral-flags"])
def test_the_direct_value_matches_the_models_on_handmade_analyses(metric):
    analysis = _analysis(metric)
    eastern = timezone(timedelta(hours=8))
    for raw in (
        RawDocument(doc_id="d", source="s", text="x"),
        RawDocument(doc_id="d", source="s", text="x", title="题", url="u", canonical_url="c",
                    published_at=datetime(2024, 2, 29, 23, 59, tzinfo=eastern), source_region="甘肃省"),
    ):
        for processed in (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 8, tzinfo=eastern)):
            direct = _direct(raw, analysis, processed)
            assert direct == _by_the_models(raw, analysis, processed)
            back = EnrichedDocument.model_validate_json(direct)
            assert [m.sentence for m in back.analysis.metrics] == [metric.sentence, metric.sentence, "另一句。"]


@pytest.mark.parametrize(("analysis", "message"), [
    (_analysis(_metric(value=math.inf)), "the value of '1.2万亩' is not a finite number: \\[inf\\]"),
    (_analysis(_metric(value_low=math.nan, value_high=2.0)), "is not a finite number: \\[12000.0, nan, 2.0\\]"),
    (_analysis(_metric(), score=math.nan), "a document topic score is not a finite number"),
    (_analysis(_metric(qualifier="roughly")), "qualifier 'roughly' of '1.2万亩' is not one of"),  # type: ignore[arg-type]
    (_analysis(_metric(), script="mixed"), "script 'mixed' is not one of \\['simplified', 'traditional'\\]"),
], ids=["inf", "nan-low", "nan-score", "qualifier", "script"])
def test_what_the_models_would_refuse_on_reading_is_refused_before_publishing(analysis, message):
    # the models write inf/NaN as null and reject the literals: the sink could only DLQ the record
    raw = RawDocument(doc_id="d", source="s", text="x")
    with pytest.raises(ValueError, match=message):
        _direct(raw, analysis, datetime(2026, 1, 1, tzinfo=UTC))
    if math.isnan(analysis.metrics[0].value_low or 0.0):  # the models write null: the bound silently lost
        assert EnrichedDocument.model_validate_json(_by_the_models(raw, analysis, datetime(2026, 1, 1, tzinfo=UTC))
                                                    ).analysis.metrics[0].value_low is None
        return
    with pytest.raises(ValidationError):  # the models refuse to build it, or to read back their null
        EnrichedDocument.model_validate_json(_by_the_models(raw, analysis, datetime(2026, 1, 1, tzinfo=UTC)))


def test_an_analysis_the_models_would_refuse_is_dlqd_as_enrich_error_with_the_raw_message():
    class Broken:  # a pipeline whose output breaks the models' literals (a bug in a rule)
        version = "9.9.9"

        def analyze(self, text: str, **_: object) -> Analysis:
            return _analysis(_metric(qualifier="roughly"))  # type: ignore[arg-type]

    payload = RawDocument(doc_id="d-1", source="s", text="全乡种植花椒1.2万亩。").model_dump_json().encode()
    wired = enrich_wire(Broken(), payload, max_doc_chars=1000, partition=0, offset=5)  # type: ignore[arg-type]
    assert (wired.doc_id, wired.value, wired.kind) == ("d-1", None, "enrich_error")
    assert wired.detail.startswith("ValueError: qualifier 'roughly' of '1.2万亩' is not one of")
