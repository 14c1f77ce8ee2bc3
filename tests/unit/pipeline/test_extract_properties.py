"""Property test: any text goes through the pipeline without crashing, with valid metric spans."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.normalize import normalize

PIPELINE = Pipeline(code_version="test")
NEWSY = st.text(
    alphabet=st.sampled_from(list("0123456789０１２３.,，。、；：?！“”《》（）()%％万亿千百十一二两三四五六七八九余多约近超过不足以上左右至到—-人名户元亩个家吨公里平方米兆瓦度年月日第县市省鎮縣\n\u3000 ?\ufffdzhèn")),
    max_size=200,
)


def _check(text: str) -> None:
    doc = normalize(text)
    for sentence in doc.sentences:
        assert doc.text[sentence.start : sentence.end] == sentence.text
    analysis = PIPELINE.analyze(text)
    assert analysis.text == doc.text
    for metric in analysis.metrics:
        assert 0 <= metric.char_start < metric.char_end <= len(doc.text)
        assert doc.text[metric.char_start : metric.char_end] == metric.span
        assert metric.span in metric.sentence
        assert math.isfinite(metric.value)
        for bound in (metric.value_low, metric.value_high):
            assert bound is None or math.isfinite(bound)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None)
@given(NEWSY)
def test_newsy_alphabet(text: str) -> None:
    _check(text)
