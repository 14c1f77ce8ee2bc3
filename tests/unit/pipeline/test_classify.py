"""Topic classification: term evidence, headings, thresholds, document scores, rules as data."""

from __future__ import annotations

import json

import pytest

from streams.pipeline.classify import (
    DEFAULT_TOPICS_PATH,
    classify_document,
    classify_paragraph,
    classify_paragraphs,
    is_heading,
    load_topic_rules,
    parse_topic_rules,
)


@pytest.fixture(scope="module")
def rules():
    return load_topic_rules()


def test_rules_file_is_versioned_data():
    data = json.loads(DEFAULT_TOPICS_PATH.read_text(encoding="utf-8"))
    assert data["version"]
    assert data["labels"] == ["产业", "健康", "教育", "就业"]
    assert set(data["terms"]) == set(data["labels"])
    assert all(len(terms) >= 30 for terms in data["terms"].values())


@pytest.mark.parametrize("text, expected", [
    ("全县建成村级光伏电站186座，总装机容量3.72万千瓦，今年发电3,586万千瓦时，实现收益3,142.6万元。", ["产业"]),
    ("贫困人口基本医疗保险参保率达到100%，家庭医生签约服务率达到99.6%，贫困患者住院11,862人次。", ["健康"]),
    ("累计资助建档立卡家庭学生4.3万人次，新建校舍4.6万平方米，义务教育阶段没有一名学生因贫失学。", ["教育"]),
    ("开发护林员、保洁员等公益性岗位3,260个，组织技能培训，贫困劳动力外出务工2.37万人。", ["就业"]),
    ("农村低保标准从每人每年3,960元提高到4,680元，新建改建农村公路212公里，完成户厕改造4,800户。", []),
])
def test_paragraph_topics(rules, text, expected):
    decision = classify_paragraph(text, rules)
    assert decision.topics == expected
    for topic in expected:
        assert decision.scores[topic] >= 0.5
        assert decision.evidence[topic]


def test_scores_cover_all_labels_and_are_bounded(rules):
    decision = classify_paragraph("茶产业综合产值8.7亿元。", rules)
    assert list(decision.scores) == ["产业", "健康", "教育", "就业"]
    assert all(0.0 <= score < 1.0 for score in decision.scores.values())


def test_evidence_lists_matched_terms(rules):
    decision = classify_paragraph("建成就业帮扶车间64个，吸纳脱贫劳动力就业1,860人，人均月工资2,000元。", rules)
    assert decision.topics == ["就业"]
    assert "就业帮扶车间" in decision.evidence["就业"]  # longest term wins over 就业
    assert "月工资" in decision.evidence["就业"]


def test_passing_word_is_not_a_topic(rules):
    text = "今年以来，全县扎实做好防返贫监测、产业帮扶等重点工作，4.37万名脱贫人口收入持续稳定增长，没有发生规模性返贫。"
    assert classify_paragraph(text, rules).topics == []


@pytest.mark.parametrize("text", ["在健康扶贫上下苦功夫", "产业兴 百姓富", "——教育扶贫。", "病有医 学有教"])
def test_headings_recognized(rules, text):
    assert is_heading(text, rules)


@pytest.mark.parametrize("text", ["本报记者 张宁 摄", "图为楚岭县白岩村茶农在采摘夏茶。", "（上接第一版）",
                                  "全县建成村级光伏电站186座，总装机容量3.72万千瓦，实现收益3,142.6万元。"])
def test_non_headings(rules, text):
    assert not is_heading(text, rules)


def test_heading_carries_to_following_paragraphs(rules):
    texts = [
        "标题",
        "在健康扶贫上下苦功夫",
        "成立课题组，率先制定工作方案，为贫困户建立档案，完善数据库，各项补贴政策及时兑现。",
        "扛稳责任",
        "成立课题组，率先制定工作方案，为贫困户建立档案，完善数据库，各项补贴政策及时兑现。",
    ]
    decisions = classify_paragraphs(texts, rules)
    assert decisions[1].topics == ["健康"]
    assert decisions[1].is_heading
    assert decisions[2].raw["健康"] == pytest.approx(rules.heading.weight)
    assert "heading:在健康扶贫上下苦功夫" in decisions[2].evidence["健康"]
    assert "健康" not in decisions[4].raw  # a heading without cues ends the context


def test_heading_tips_a_weak_paragraph(rules):
    body = "依托景区发展，引导群众参与经营。"  # one weak term on its own
    alone = classify_paragraphs(["标题", body * 3], rules)[1]
    under = classify_paragraphs(["标题", "产业兴 百姓富", body * 3], rules)[2]
    assert alone.topics == []
    assert under.topics == ["产业"]


def test_inline_heading_is_evidence_for_its_paragraph(rules):
    text = "——教育扶贫。累计资助建档立卡贫困学生2280人次，发放资助款112.95万元。"
    decision = classify_paragraph(text, rules)
    assert decision.topics == ["教育"]
    assert "lead:——教育扶贫。" in decision.evidence["教育"]
    lead = classify_paragraph("在健康扶贫方面，全面落实各项政策，群众满意度明显提升。", rules)
    assert lead.topics == ["健康"]


def test_multi_label_paragraph(rules):
    text = ("县职业教育中心开设茶叶加工、电子商务等专业，招收贫困家庭学生1,260人，"
            "毕业生就业率达到96%以上；全县还组织技能培训2,400人次，帮助学员实现务工就业。")
    decision = classify_paragraph(text, rules)
    assert decision.topics == ["教育", "就业"]


def test_document_scores(rules):
    texts = ["产业兴 百姓富", "全县茶园面积达到32.6万亩，茶叶综合产值突破45亿元，培育茶叶加工企业217家，带动脱贫人口增收。",
             "农村低保标准提高到每人每年6,000元。"]
    decisions = classify_paragraphs(texts, rules)
    topics, scores = classify_document(decisions, [len(t) for t in texts], rules)
    assert topics == ["产业"]
    assert scores["产业"] > scores["健康"] == 0.0


def test_thresholds_come_from_data():
    data = json.loads(DEFAULT_TOPICS_PATH.read_text(encoding="utf-8"))
    data["thresholds"]["min_score"] = 100.0
    data["thresholds"]["short_min_score"] = 100.0
    strict = parse_topic_rules(data)
    assert classify_paragraph("贫困人口基本医疗保险参保率达到100%，家庭医生签约服务率达到99.6%。", strict).topics == []


def test_table_captions_and_heads_are_about_nothing():
    from streams.pipeline.classify import classify_paragraphs, load_topic_rules

    rules = load_topic_rules()
    texts = ["表2 2024年就业帮扶主要指标", "指标\t数值\t单位", "公益性岗位\t860\t个", "全年开展技能培训3200人次，转移就业1.2万人。"]
    topics = [d.topics for d in classify_paragraphs(texts, rules)]
    assert topics[:2] == [[], []]
    assert topics[3] == ["就业"]
