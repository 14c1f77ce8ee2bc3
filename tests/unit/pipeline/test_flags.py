"""Consistency flags (rules/flags.json): each rule through the whole pipeline, the pure functions,
and the acceptance bar — no figure that matches a gold row of the seeds or the devset is flagged."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
from pathlib import Path

import pytest
from devset_path import DEVSET, require_devset
from metric_scoring import score_document

from schemas.models import AnalysisResult, MetricResult
from streams.ingest.articles import document_from_text
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.flags import flag_metrics, load_flag_rules, parse_flag_rules, place
from streams.pipeline.normalize import normalize
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.pipeline.types import Metric
from streams.stream.convert import to_analysis_result

REPO = Path(__file__).resolve().parents[3]
FLAGS = json.loads((DEFAULT_RULES_DIR / "flags.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(code_version="test")


def flags_of(pipeline: Pipeline, text: str) -> dict[str, tuple[str, ...]]:
    """span → flags of every figure of ``text`` (spans are unique in these sentences)."""
    metrics = pipeline.analyze(text).metrics
    assert len({m.span for m in metrics}) == len(metrics), [m.span for m in metrics]
    return {m.span: m.flags for m in metrics}


# --- rate_above_100 ---------------------------------------------------------------------------


def test_a_share_or_rate_above_100_is_flagged(pipeline):
    assert flags_of(pipeline, "全镇适龄儿童入学率达到106.5%，家庭医生签约率为98%。") == {
        "106.5%": ("rate_above_100",), "98%": (),
    }
    assert flags_of(pipeline, "青山村农户参加新农合比例达到120%。") == {"120%": ("rate_above_100",)}
    # the change is in its own clause; the level after it is a share
    assert flags_of(pipeline, "全县城镇化率比上年提高1.5个百分点，达到101%。") == {
        "1.5个百分点": (), "101%": ("rate_above_100",),
    }


def test_growth_completion_and_percentage_points_are_not_shares(pipeline):
    assert flags_of(pipeline, "今年以来，全县茶叶销售额同比增长135%，带动增收明显。") == {"135%": ()}
    assert flags_of(pipeline, "全县土鸡出栏量较上年翻了一番，增幅达150%。") == {"150%": ()}
    assert flags_of(pipeline, "该合作社完成年度种植任务的118%。") == {"118%": ()}
    assert flags_of(pipeline, "该县人均寿命达到全省平均水平的103%。") == {"103%": ()}
    assert flags_of(pipeline, "今年蔬菜产量增速比上年加快了102个百分点。") == {"102个百分点": ()}
    assert flags_of(pipeline, "全县脱贫人口参保率100%。") == {"100%": ()}


# --- part_above_total -----------------------------------------------------------------------------


def test_a_part_above_its_total_is_flagged_not_the_total(pipeline):
    assert flags_of(pipeline, "东坪镇共有职工500人，其中女职工620人。") == {"500人": (), "620人": ("part_above_total",)}
    assert flags_of(pipeline, "全乡共有养殖大户48户，其中有肉牛养殖户52户。") == {
        "48户": (), "52户": ("part_above_total",),
    }
    assert flags_of(pipeline, "全县易地搬迁安置1200户4300人，其中脱贫户1260户3100人。") == {
        "1200户": (), "4300人": (), "1260户": ("part_above_total",), "3100人": (),
    }
    # no total in the sentence: the paragraph's sentence before
    assert flags_of(pipeline, "去年村里种植花椒800亩。其中新栽的有950亩。") == {"800亩": (), "950亩": ("part_above_total",)}
    assert flags_of(pipeline, "全村种植花椒800亩。村里修了路。其中新栽的有950亩。")["950亩"] == ("part_above_total",)


def test_several_parts_other_units_and_rates_are_not_flagged(pipeline):
    assert flags_of(pipeline, "东坪镇共有职工500人，其中女职工320人、党员60人。") == {"500人": (), "320人": (), "60人": ()}
    assert flags_of(pipeline, "全村共有36户128人，其中低保户12户30人。") == {"36户": (), "128人": (), "12户": (), "30人": ()}
    # the 其中 breaks down 人次, not the 32名 of the clause before the semicolon
    assert flags_of(pipeline, "为32名留守儿童送去书包；全年资助困难学生1,500人次，其中80名学生考上大学。") == {
        "32名": (), "1,500人次": (), "80名": (),
    }
    # a subgroup's rate is no part of the overall rate; a per-capita wage is no part of a head count
    assert flags_of(pipeline, "全县参保率97.5%，其中脱贫人口参保率100%。") == {"97.5%": (), "100%": ()}
    assert flags_of(pipeline, "合作社吸纳120人务工，其中脱贫群众95人，人均月收入2800元。") == {
        "120人": (), "95人": (), "2800元": (),
    }
    # the total is looked for in the cue's own paragraph only
    assert flags_of(pipeline, "去年村里种植花椒800亩。\n\n其中新栽的有950亩。") == {"800亩": (), "950亩": ()}
    # 500余人 may be 520
    assert flags_of(pipeline, "全县有公益岗位人员500余人，其中脱贫劳动力520人。") == {"500余人": (), "520人": ()}


# --- households_above_people ------------------------------------------------------------------------


def test_more_households_than_people_flags_both(pipeline):
    both = ("households_above_people",)
    assert flags_of(pipeline, "全县共有监测对象1350户980人。") == {"1350户": both, "980人": both}
    assert flags_of(pipeline, "清水村搬迁群众160人（210户）已全部入住。") == {"160人": both, "210户": both}


def test_households_and_people_of_different_groups_or_fewer_households(pipeline):
    assert flags_of(pipeline, "全县脱贫户2.4万户9.1万人。") == {"2.4万户": (), "9.1万人": ()}
    assert flags_of(pipeline, "清水村搬迁群众560人（210户）已全部入住。") == {"560人": (), "210户": ()}
    assert flags_of(pipeline, "全村有种植户120户、务工能手80人。") == {"120户": (), "80人": ()}


# --- per_capita_above_total -------------------------------------------------------------------------


def test_a_per_capita_figure_above_the_total_is_flagged(pipeline):
    assert flags_of(pipeline, "村集体收入12万元，人均收入15万元。") == {"12万元": (), "15万元": ("per_capita_above_total",)}
    assert flags_of(pipeline, "全村累计发放产业奖补资金4万元，户均奖补5万元。") == {
        "4万元": (), "5万元": ("per_capita_above_total",),
    }


def test_per_capita_below_the_total_or_without_a_total_is_not_flagged(pipeline):
    assert flags_of(pipeline, "全村总收入80万元，人均纯收入1.5万元。") == {"80万元": (), "1.5万元": ()}
    assert flags_of(pipeline, "村集体经济收入达8万元，户均分红1200元。") == {"8万元": (), "1200元": ()}
    # a change is no total
    assert flags_of(pipeline, "全县农民人均可支配收入13200元，比上年增加1100元。") == {"13200元": (), "1100元": ()}
    # conservative: 发放补贴资金 names no total
    assert flags_of(pipeline, "全年发放补贴资金3万元，每人每月补贴4万元。") == {"3万元": (), "4万元": ()}


# --- the pure functions and the rules file ---------------------------------------------------------


def _metric(text: str, span: str, value: float, unit: str) -> Metric:
    start = text.index(span)
    return Metric(sentence=text, span=span, char_start=start, char_end=start + len(span), value=value,
                  value_low=None, value_high=None, unit=unit, qualifier="exact", subject="", metric="other",
                  topic="other", region="", year=None, paragraph_index=0)


def test_flag_metrics_on_plain_metrics_and_place():
    text = "全村共有36户20人，其中低保户40户。"
    doc = normalize(text)
    metrics = [_metric(text, "36户", 36, "户"), _metric(text, "20人", 20, "人"), _metric(text, "40户", 40, "户")]
    placed = place(metrics, doc)
    assert [(p.left, p.right) for p in placed] == [("全村共有", "20人"), ("全村共有36户", ""), ("其中低保户", "")]
    flagged = flag_metrics(metrics, doc, load_flag_rules())
    assert [m.flags for m in flagged] == [
        ("households_above_people",), ("households_above_people",), ("part_above_total",),
    ]
    assert [dataclasses.replace(m, flags=()) for m in flagged] == metrics  # nothing else changes
    assert flag_metrics([], doc, load_flag_rules()) == []


def test_corpus_rules_are_skipped_and_a_rule_moved_to_corpus_is_off():
    rules = load_flag_rules()
    assert [(r.id, r.scope) for r in rules.rules] == [
        ("rate_above_100", "row"), ("part_above_total", "document"), ("households_above_people", "document"),
        ("per_capita_above_total", "document"), ("median_outlier", "corpus"), ("poverty_rate_after_exit", "corpus"),
    ]
    assert rules.explanation("part_above_total") == "“其中”所列部分大于其所属总数，请核对原文。"
    assert all(r.explanation and r.explanation_en for r in rules.rules)
    assert rules.rules[4].params == {"factor": 10, "min_facts": 3, "metrics": [
        "per_capita_income", "poverty_incidence", "poverty_population", "poverty_households", "wage"]}
    data = copy.deepcopy(FLAGS)
    data["rules"][0]["scope"] = "corpus"
    text = "青山村农户参加新农合比例达到120%。"
    doc = normalize(text)
    metric = _metric(text, "120%", 120, "%")
    assert flag_metrics([metric], doc, load_flag_rules())[0].flags == ("rate_above_100",)
    assert flag_metrics([metric], doc, parse_flag_rules(data))[0].flags == ()


def test_flags_reach_the_wire_model(pipeline):
    result = to_analysis_result(pipeline.analyze("东坪镇共有职工500人，其中女职工620人。"))
    assert [m.flags for m in result.metrics] == [[], ["part_above_total"]]
    assert AnalysisResult.model_validate_json(result.model_dump_json()) == result
    old = {"span": "500人", "char_start": 0, "char_end": 4, "value": 500, "unit": "人", "paragraph_index": 0}
    assert MetricResult.model_validate(old).flags == []  # records written before the field


# --- acceptance: no gold figure carries a flag ----------------------------------------------------


def _seed_documents() -> list[tuple[str, str, str | None, datetime.datetime | None, list[dict]]]:
    out = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        doc = document_from_text(raw, path)
        gold_path = REPO / "tests" / "gold" / "seeds" / f"{path.stem}.metrics.jsonl"
        gold = [json.loads(line) for line in gold_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out.append((path.stem[:3], raw, doc.title, doc.published_at, gold))
    return out


def _devset_documents() -> list[tuple[str, str, str | None, datetime.datetime | None, list[dict]]]:
    gold: dict[str, list[dict]] = {}
    for line in (DEVSET / "gold_metrics.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            gold.setdefault(row["id"], []).append(row)
    out = []
    for text_path in sorted(DEVSET.glob("d*.txt")):
        meta = json.loads((DEVSET / f"{text_path.stem}.meta.json").read_text(encoding="utf-8"))
        published = datetime.datetime.fromisoformat(meta["published"]) if meta.get("published") else None
        out.append((text_path.stem, text_path.read_text(encoding="utf-8"), meta.get("title"), published,
                    gold.get(text_path.stem, [])))
    return out


@require_devset("gold_metrics.jsonl")
def test_no_gold_figure_of_the_seeds_and_the_devset_is_flagged(pipeline):
    documents = _seed_documents() + _devset_documents()
    assert len(documents) == 21
    flagged_gold, flags = [], []
    for name, raw, title, published, gold in documents:
        metrics = pipeline.analyze(raw, title=title, published_at=published).metrics
        score = score_document(raw, metrics, gold, name=name)
        assert len(score.matches) >= 0.95 * len(gold)
        flagged_gold += [(name, m.predicted.span, m.predicted.flags) for m in score.matches if m.predicted.flags]
        flags += [(name, m.span, rule) for m in metrics for rule in m.flags]
    print(f"\nflags on the seeds and the devset: {len(flags)} {flags}")
    assert flagged_gold == []
