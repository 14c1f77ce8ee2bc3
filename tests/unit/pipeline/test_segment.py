"""Segmentation: rjieba and jieba agree on the seeds; the domain dictionary keeps terms whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.normalize import normalize
from streams.pipeline.segment import (
    DEFAULT_DICT_PATH,
    ENGINES,
    Segmenter,
    boundaries,
    get_segmenter,
    load_user_dict,
    parse_user_dict,
    token_agreement,
)
from streams.settings import Settings
from streams.stream.analysis import get_pipeline

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def seed_texts() -> list[str]:
    assert len(SEEDS) == 5
    return [normalize(path.read_text(encoding="utf-8")).text for path in SEEDS]


def test_dictionary_is_substantial_and_well_formed():
    entries = load_user_dict(DEFAULT_DICT_PATH)
    words = [entry.word for entry in entries]
    assert len(words) >= 200
    assert len(set(words)) == len(words)
    for must in ("建档立卡", "易地扶贫搬迁", "两不愁三保障", "贫困发生率", "扶贫车间", "公益性岗位", "小额信贷",
                 "监测对象", "衔接资金", "雨露计划", "第一书记", "驻村干部", "带贫", "光伏电站"):
        assert must in words
    assert all(entry.freq > 0 for entry in entries)


def test_parse_user_dict_formats():
    entries = parse_user_dict("带贫 500 v\n衔接资金\n\n光伏电站 nz\n")
    assert [(e.word, e.freq, e.tag) for e in entries] == [
        ("带贫", 500, "v"), ("衔接资金", 3000, None), ("光伏电站", 3000, "nz"),
    ]


def test_unknown_engine_is_rejected():
    with pytest.raises(ValueError, match="unknown segmenter"):
        Segmenter("thulac")


@pytest.mark.parametrize("engine", ENGINES)
def test_tokens_cover_text(engine, seed_texts):
    segmenter = get_segmenter(engine)
    for text in seed_texts:
        assert "".join(segmenter.cut(text)) == text
    tokens = segmenter.tokenize("建档立卡贫困户")
    assert tokens == [("建档立卡贫困户", 0, 7)]


def test_engines_agree_on_seeds(seed_texts):
    rjieba_seg, jieba_seg = get_segmenter("rjieba"), get_segmenter("jieba")
    matched = total = 0.0
    for text in seed_texts:
        a, b = rjieba_seg.cut(text), jieba_seg.cut(text)
        agreement = token_agreement(a, b)
        print(f"agreement {agreement:.4f} over {len(a)}/{len(b)} tokens")
        matched += agreement * (len(a) + len(b)) / 2
        total += (len(a) + len(b)) / 2
    assert matched / total >= 0.99


def test_token_agreement_is_by_aligned_boundaries():
    assert token_agreement(["ab", "c"], ["ab", "c"]) == 1.0
    assert token_agreement(["ab", "c"], ["a", "b", "c"]) == pytest.approx(2 * 1 / 5)
    assert boundaries(["ab", "c", "de"]) == {2, 3}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("sentence, term", [
    ("全县建档立卡贫困户全部落实两不愁三保障。", "两不愁三保障"),
    ("完成易地扶贫搬迁1.2万人。", "易地扶贫搬迁"),
    ("贫困发生率降至0.42%。", "贫困发生率"),
    ("建成扶贫车间52家。", "扶贫车间"),
    ("开发公益性岗位3,260个。", "公益性岗位"),
    ("发放小额信贷2亿元。", "小额信贷"),
    ("监测对象全部落实帮扶。", "监测对象"),
    ("下达衔接资金5亿元。", "衔接资金"),
    ("雨露计划补助学生。", "雨露计划"),
    ("驻村干部和第一书记走访。", "驻村干部"),
    ("带贫企业发展。", "带贫企业"),
    ("建成光伏电站12座。", "光伏电站"),
])
def test_dictionary_terms_kept_whole(engine, sentence, term):
    assert term in get_segmenter(engine).cut(sentence)


@pytest.mark.parametrize("engine", ENGINES)
def test_dictionary_terms_kept_whole_in_seeds(engine, seed_texts):
    """Nearly every occurrence of a dictionary term in the seeds lies inside one token.

    The exceptions are overlaps of two dictionary terms (易地扶贫搬迁|后续扶持 inside
    易地扶贫搬迁后续扶持), where only one of them can be whole.
    """
    segmenter = get_segmenter(engine)
    pattern = re.compile("|".join(sorted(map(re.escape, segmenter.words), key=len, reverse=True)))
    whole = total = 0
    for text in seed_texts:
        cuts = boundaries(segmenter.cut(text))
        for match in pattern.finditer(text):
            total += 1
            whole += not any(i in cuts for i in range(match.start() + 1, match.end()))
    assert total > 500
    assert whole / total >= 0.97


def test_settings_select_engine(tmp_path):
    assert get_pipeline(Settings(segmenter="jieba")).segmenter.engine == "jieba"
    assert get_pipeline(Settings()).segmenter.engine == "rjieba"
    assert Pipeline(segmenter="jieba", code_version="test").segmenter.engine == "jieba"


def test_rules_dir_dictionary_overrides(tmp_path):
    (tmp_path / "dict.txt").write_text("脱贫攻坚成效 9000 n\n", encoding="utf-8")
    pipeline = Pipeline(rules_dir=tmp_path, code_version="test")
    assert "脱贫攻坚成效" in pipeline.segmenter.cut("脱贫攻坚成效显著")
    assert pipeline.version != Pipeline(code_version="test").version
