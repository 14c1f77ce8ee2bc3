"""Bounded work per document: a sentence or a document with too many figures is refused early."""

from __future__ import annotations

import pytest

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Limits, TooManyFigures

SMALL = Pipeline(code_version="test", limits=Limits(figures_per_sentence=3, figures_per_document=5))


def test_figures_up_to_the_limits_are_analysed():
    text = "全乡新建冷库3座、烘干房5间、晾晒场2处。\n带动脱贫户120户，户均增收3,600元。"
    assert [m.span for m in SMALL.analyze(text).metrics] == ["3座", "2处", "120户", "3,600元"]


def test_one_sentence_over_its_limit_is_refused():
    with pytest.raises(TooManyFigures, match="more than 3 figures in one sentence"):
        SMALL.analyze("全镇建成冷库3座、车间4个、站点5处、基地6个。")


def test_a_document_over_its_limit_is_refused():
    with pytest.raises(TooManyFigures, match="more than 5 figures in the document"):
        SMALL.analyze("一村投入8万元。\n二村投入9万元。\n三村投入7万元。\n四村投入6万元。\n五村投入5万元。\n六村投入4万元。")


def test_a_pathological_sentence_is_refused_without_analysing_it_all():
    pipeline = Pipeline(code_version="test")  # default limits
    text = "全县" + "、".join(f"{i}户" for i in range(100_000)) + "。"
    with pytest.raises(TooManyFigures, match="more than 500 figures in one sentence"):
        pipeline.analyze(text)
