"""A figure whose own words name no metric and no topic takes its paragraph's topic (issue 8 item 1)."""

from __future__ import annotations

from streams.pipeline.context import attach_context
from streams.pipeline.figures import find_figures
from streams.pipeline.lexicon import load_metric_lexicon
from streams.pipeline.normalize import normalize
from streams.pipeline.regions import document_regions
from streams.pipeline.rulefiles import rules_files

LEXICON = load_metric_lexicon(rules_files(None)["metrics.json"])


def _topics(text: str, paragraph_topics: list[tuple[str, ...]] | None) -> dict[str, str]:
    doc = normalize(text)
    found = find_figures(doc, LEXICON)
    metrics = attach_context(found, document_regions(doc.text, None), doc.paragraphs, LEXICON, None, paragraph_topics)
    return {m.span: m.topic for m in metrics}


def test_a_bare_count_takes_the_topic_of_its_paragraph():
    text = "白沙镇的香菇大棚里，菌农们正忙着采收。今年新搭了45个，还请来3名师傅。"
    assert _topics(text, [("产业",)]) == {"45个": "产业", "3名": "产业"}


def test_without_paragraph_topics_or_with_two_the_figure_stays_other():
    text = "今年新搭了45个，还请来3名师傅。"
    assert _topics(text, None) == {"45个": "other", "3名": "other"}
    assert _topics(text, [("产业", "就业")]) == {"45个": "other", "3名": "other"}
    assert _topics(text, [()]) == {"45个": "other", "3名": "other"}


def test_a_figure_with_its_own_topic_keeps_it():
    # 务工 names employment in the figure's own clause, whatever the paragraph is about
    text = "村里的茶园扩大后，外出务工人员回流了120人。"
    assert _topics(text, [("产业",)])["120人"] == "就业"


def test_villages_townships_and_resettlement_sites_are_scope_not_topic():
    text = "全县在18个行政村推广稻鱼共养，覆盖9个乡镇和4个集中安置点。"
    assert _topics(text, [("产业",)]) == {"18个": "other", "9个": "other", "4个": "other"}


def test_lengths_are_not_filed_under_the_paragraph_topic():
    text = "为方便茶叶运输，新修机耕道6.5公里。"
    assert _topics(text, [("产业",)]) == {"6.5公里": "other"}


def test_an_area_takes_its_paragraph_topic_unless_it_is_forest_land():
    text = "石门乡今年的烟叶面积达到3200亩。另有1500亩荒山完成造林，600亩纳入生态公益林管护。"
    assert _topics(text, [("产业",)]) == {"3200亩": "产业", "1500亩": "other", "600亩": "other"}


def test_an_investment_is_filed_under_what_it_is_spent_on():
    # the clauses after the money up to the semicolon say what it buys: a clinic is health, a
    # water project no topic, whatever the paragraph is about
    text = "投资460万元，为沿河各村新建标准化卫生室；投资95万元，新修蓄水池；投资1200万元改造乡村公路。"
    assert _topics(text, [("教育",)]) == {"460万元": "健康", "95万元": "other", "1200万元": "other"}


def test_a_total_investment_closing_its_sentence_takes_the_paragraph_topic():
    text = "全县改造薄弱学校19所，新建塑胶跑道8条，总投资3275万元。"
    assert _topics(text, [("教育",)])["3275万元"] == "教育"
    assert _topics(text, [("教育", "健康")])["3275万元"] == "other"


def test_topical_money_and_domain_words_of_the_clause():
    # no paragraph topics: the clause's own words decide
    assert _topics("村民在合作社打零工每天能挣150元。", None) == {"150元": "就业"}
    assert _topics("入股群众年底每户分红1200元。", None) == {"1200元": "产业"}
    assert _topics("土地流转后每亩租金800元。", None) == {"800元": "产业"}
    assert _topics("全县为适龄儿童免费视力筛查3400人次。", None) == {"3400人次": "健康"}
    assert _topics("秋季学期发放助学金52万元。", None) == {"52万元": "教育"}
    assert _topics("沿河新开民宿12家。", None) == {"12家": "产业"}


def _metrics(text: str) -> dict[str, str]:
    doc = normalize(text)
    found = find_figures(doc, LEXICON)
    return {m.span: m.metric for m in attach_context(found, document_regions(doc.text, None), doc.paragraphs, LEXICON)}


def test_tonnage_and_value_added_are_output():
    assert _metrics("今年新收鲜笋860吨。") == {"860吨": "output"}
    assert _metrics("全县农业增加值12.4亿元。") == {"12.4亿元": "output"}


def test_day_labour_pay_is_a_wage_and_hired_hands_are_employed():
    assert _metrics("在茶厂打零工每天180元。") == {"180元": "wage"}
    assert _metrics("加工厂常年雇用村民45人。") == {"45人": "employed"}
    assert _metrics("车间里上班的有62人。") == {"62人": "employed"}


def test_a_percentage_cell_after_a_quantity_in_a_table_row_is_its_change():
    doc_text = "茶叶\t1.26\t万吨\t-1.5%"
    doc = normalize(doc_text)
    found = find_figures(doc, LEXICON)
    rows = [(m.span, m.metric, m.topic) for m in attach_context(found, document_regions(doc.text, None), doc.paragraphs, LEXICON)]
    assert rows == [("1.26\t万吨", "output", "产业"), ("1.5%", "growth_rate", "产业")]
    # in prose a percentage with words of its own is not taken for a change
    assert _metrics("茶叶产量1.26万吨，占全省8%。") == {"1.26万吨": "output", "8%": "other"}
