"""The metrics of ``Pipeline.analyze`` (figures, then their context) on small sentences in the style
of the seeds and the devset conventions."""

from __future__ import annotations

import pytest

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import Metric

PIPELINE = Pipeline(code_version="test")


def run(text: str, title: str | None = None) -> list[Metric]:
    analysis = PIPELINE.analyze(text, title=title)
    for m in analysis.metrics:
        assert analysis.text[m.char_start : m.char_end] == m.span
    return analysis.metrics


def brief(metrics: list[Metric]) -> list[tuple[str, float, str, str]]:
    return [(m.span, m.value, m.unit, m.qualifier) for m in metrics]


def test_households_and_people_are_two_metrics() -> None:
    assert brief(run("贫困人口3601户8055人，贫困发生率为6.2%。")) == [
        ("3601户", 3601, "户", "exact"), ("8055人", 8055, "人", "exact"), ("6.2%", 6.2, "%", "exact"),
    ]  # fmt: skip


def test_multipliers_and_base_units() -> None:
    got = brief(run("总投资6592.11万元，总规模5.6兆瓦，每年可发电672万度，耕地0.48万hm2。"))
    assert got == [
        ("6592.11万元", 65_921_100, "元", "exact"),
        ("5.6兆瓦", 5600, "千瓦", "exact"),
        ("672万度", 6_720_000, "千瓦时", "exact"),
        ("0.48万hm2", 4800, "公顷", "exact"),
    ]


def test_qualifiers_and_chinese_numerals() -> None:
    got = brief(run("剩余三百多户900余人，投入2亿余元，培训两千余人，月工资2000元以上，不足3000元，约1,900万元。"))
    assert got == [
        ("三百多户", 300, "户", "approx"), ("900余人", 900, "人", "approx"), ("2亿余元", 200_000_000, "元", "approx"),
        ("两千余人", 2000, "人", "approx"), ("2000元以上", 2000, "元", "at_least"), ("不足3000元", 3000, "元", "at_most"),
        ("约1,900万元", 19_000_000, "元", "approx"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "span", "value", "low", "high"),
    [
        ("提供3至5万元的小额信贷。", "3至5万元", 40000, 30000, 50000),
        ("人均月收入在1,800元至2,600元之间。", "1,800元至2,600元", 2200, 1800, 2600),
        ("每支队伍20—30人。", "20—30人", 25, 20, 30),
        ("常年用工三四百人。", "三四百人", 350, 300, 400),
    ],
)
def test_ranges_are_one_metric(text: str, span: str, value: float, low: float, high: float) -> None:
    (m,) = run(text)
    assert (m.span, m.value, m.value_low, m.value_high, m.qualifier) == (span, value, low, high, "approx")


def test_change_is_two_metrics_with_years() -> None:
    ms = run("贫困发生率由2014年的30.96%降至2019年底的0.42%。")
    assert [(m.value, m.year, m.metric) for m in ms] == [
        (30.96, 2014, "poverty_incidence"), (0.42, 2019, "poverty_incidence"),
    ]  # fmt: skip
    ms = run("农村低保标准从每人每年3,960元提高到4,680元。")
    assert [m.value for m in ms] == [3960, 4680]


def test_bare_wan_count_takes_the_noun_unit() -> None:
    assert brief(run("全县还有1.77万贫困人口尚未脱贫，带动1.6万农户增收。")) == [
        ("1.77万贫困人口", 17700, "人", "exact"), ("1.6万农户", 16000, "户", "exact"),
    ]  # fmt: skip


def test_shared_and_distant_qualifiers() -> None:
    ms = run("个人年度自付费用分别不超过0.3万元、0.5万元和1万元。")
    assert [(m.span, m.qualifier) for m in ms] == [("不超过0.3万元", "at_most"), ("0.5万元", "at_most"), ("1万元", "at_most")]
    (m,) = run("每个村卫生室至少配备1名合格乡村医生。")
    assert (m.span, m.qualifier, m.metric) == ("1名", "at_least", "doctors")


@pytest.mark.parametrize(
    "text",
    [
        "2021年3月5日，会议召开。",
        "1至7月，1—7月份。",
        "65岁以上老人，两个多小时，五年多，近三年。",
        "第一书记，第3版，十九大，十三五，二十大，4A级景区，“3+3+N”模式。",
        "电话：0377-62813300，举报电话12317。",
        "《平溪县2020年脱贫攻坚工作方案》印发。",
        "师生比达到1:13.5。",
        "饲养量24.6万头，1.6亿袋，112期，9种，5亿美元。",
        "落实“四个不摘”，“一户一码”，“两不愁三保障”，“健康帮扶进万家”。",
        "没有一名学生失学。",
        "总?cè)丝?.4萬人。",
    ],
)
def test_not_metrics(text: str) -> None:
    assert run(text) == []


def test_traditional_full_width_text() -> None:
    ms = run("全縣柑橘種植面積達到２８．６萬畝，花椒種植面積15萬畝以上。")
    assert brief(ms) == [("28.6万亩", 286000, "亩", "exact"), ("15万亩以上", 150000, "亩", "at_least")]
    assert {m.metric for m in ms} == {"area"} and {m.topic for m in ms} == {"产业"}


def test_epaper_number_split_across_lines() -> None:
    ms = run("新建高标准生态茶园3,200\n亩，全县3.62\n万户脱贫户。")
    assert brief(ms) == [("3,200亩", 3200, "亩", "exact"), ("3.62万户", 36200, "户", "exact")]


def test_subject_metric_topic() -> None:
    (m,) = run("全县开发乡村公益性岗位5,120个。")
    assert (m.metric, m.topic) == ("jobs_created", "就业")
    assert "公益性岗位" in m.subject
    (m,) = run("贫困人口基本医疗保险参保率达到100%。")
    assert (m.metric, m.topic) == ("insured", "健康")


def test_growth_rate_inherits_topic() -> None:
    ms = run("茶产业综合产值8.7亿元，同比增长14.3%。")
    assert [(m.metric, m.topic) for m in ms] == [("output", "产业"), ("growth_rate", "产业")]


def test_year_rules() -> None:
    ms = run("2022年，全县输出劳动力5.23万人，较2021年增加1860人。")
    assert [m.year for m in ms] == [2022, 2022]
    ms = run("开发区已入驻企业83家，2020年实现工业总产值42.6亿元。")
    assert [m.year for m in ms] == [None, 2020]
    ms = run("今年以来，全县新增就业1,260人。")
    assert [m.year for m in ms] == [None]


def test_region_from_document_and_province() -> None:
    text = "陕西省安康市平溪县退出贫困县序列。\n\n贫困发生率降至0.42%，低于全省0.75%的平均水平。"
    ms = run(text)
    assert [m.region for m in ms] == ["陕西省安康市", "陕西省"]
    assert run("新建公路12公里。", title="重庆市")[0].region == "重庆市"
    assert run("黔东南州清岚县新建公路12公里。")[0].region == "贵州省黔东南苗族侗族自治州"


def test_approx_between_number_and_multiplier() -> None:
    assert brief(run("撬动银行7300余万元的信贷资金，投资15余万元，带动二十多万人。")) == [
        ("7300余万元", 73_000_000, "元", "approx"), ("15余万元", 150_000, "元", "approx"),
        ("二十多万人", 200_000, "人", "approx"),
    ]  # fmt: skip


def test_bare_wan_count_after_a_people_noun() -> None:
    assert brief(run("全县总人口16.5万，农业人口13万，面积300万。")) == [
        ("16.5万", 165_000, "人", "exact"), ("13万", 130_000, "人", "exact"),
    ]  # fmt: skip


def test_single_chinese_digit_summing_up_an_enumeration() -> None:
    assert brief(run("阳光兔业、瑞星牧业、丰之源三家重点龙头企业已恢复生产。")) == [("三家", 3, "家", "exact")]
    assert brief(run("在聂河、油房张、王寨三个原贫困村发展光伏。")) == [("三个", 3, "个", "exact")]
    assert brief(run("建立动态监测、常态化排查、部门协作等五项机制。")) == [("五项", 5, "项", "exact")]
    assert brief(run("推出了两项文化扶贫活动——油菜花风车节和香椿节。")) == [("两项", 2, "项", "exact")]
    assert run("落实两项补贴，引入三家劳务中介机构，建成甲、乙三个基地。") == []


def test_names_quotes_and_category_qualifiers() -> None:
    assert run("完成五十亩、南村、长岭背等村的改造。") == []
    assert run("确定了“突出重点，推进7项重点工作”的总体思路。") == []
    assert brief(run("俺就卖了3000多块钱。")) == [("3000多块钱", 3000, "元", "approx")]  # spoken 块 is 元
    assert brief(run("缺资金23户36人，自身发展动力不足6户22人，人均年收入不足4000元。")) == [
        ("23户", 23, "户", "exact"), ("36人", 36, "人", "exact"), ("6户", 6, "户", "exact"),
        ("22人", 22, "人", "exact"), ("不足4000元", 4000, "元", "at_most"),
    ]  # fmt: skip


def keys(text: str) -> list[tuple[str, str]]:
    return [(m.span, m.metric) for m in run(text)]


def test_breakdown_after_qizhong_keeps_the_parent_metric() -> None:
    assert keys("完成105户345人的搬迁任务，其中，贫困人口89户309人，非贫困人口16户36人。") == [
        ("105户", "relocated"), ("345人", "relocated"), ("89户", "relocated"), ("309人", "relocated"),
        ("16户", "relocated"), ("36人", "relocated"),
    ]  # fmt: skip
    assert keys("培育龙头企业147家，其中国家级4家、省级27家；注册家庭农场1902家。") == [
        ("147家", "enterprises"), ("4家", "enterprises"), ("27家", "enterprises"), ("1902家", "enterprises"),
    ]  # fmt: skip
    assert keys("带动贫困户193户，其中2016年实现脱贫47户。") == [("193户", "other"), ("47户", "poverty_households")]


def test_lead_in_clause_gives_the_key_of_an_enumeration() -> None:
    got = keys("按致贫原因分为：因病致贫403户1030人，缺劳力23户43人，自身发展动力不足6户22人。")
    assert {metric for _, metric in got} == {"poverty_households", "poverty_population"}
    assert keys("按贫困户属性分为：低保贫困户456户1178人。") == [("456户", "poverty_households"), ("1178人", "poverty_population")]


def test_the_noun_after_a_count_unit_is_what_is_counted() -> None:
    assert keys("新口服装有限公司是全县56个产业扶贫基地之一。") == [("56个", "other")]
    assert keys("培育了50个产业扶贫基地、3个省级带贫龙头企业。") == [("50个", "other"), ("3个", "enterprises")]
    assert keys("109个村的264名驻村干部坚守岗位。") == [("109个", "other"), ("264名", "other")]
    assert keys("全市13家符合条件的招聘脱贫人口企业减免税收154.91万元。") == [("13家", "enterprises"), ("154.91万元", "fund")]


def test_money_and_people_keys() -> None:
    assert keys("累计投入3790.07万元扶贫资金，投入2亿余元实施全面改薄工程。") == [
        ("3790.07万元", "fund"), ("2亿余元", "investment"),
    ]  # fmt: skip
    assert keys("对人均年收入不足4000元的农户，存量贷款2194户、5704.89万元，月人均补助水平提高到268元。") == [
        ("不足4000元", "per_capita_income"), ("2194户", "microcredit"), ("5704.89万元", "microcredit"), ("268元", "other"),
    ]  # fmt: skip
    assert keys("其中，患大病343人、慢病2160人，义诊义治贫困群众6800余人次，每日安排2名专家到乡镇卫生院坐诊。") == [
        ("343人", "patients"), ("2160人", "patients"), ("6800余人次", "patients"), ("2名", "doctors"),
    ]  # fmt: skip
    assert keys("目前已与47家企业与41个村结成帮扶对子，落实357名帮扶责任人。") == [
        ("47家", "other"), ("41个", "other"), ("357名", "other"),
    ]  # fmt: skip


def test_region_follows_broken_lines_list_items_and_city_scope() -> None:
    text = (
        "鹤壁市各县区推进脱贫攻坚。\n\n浚县49个产业扶贫基地稳步发展，941名贫\n\n困人口实现就业；\n\n"
        "淇县56个产业扶贫基地持续发力。\n\n以淇县为例：\n\n——教育扶贫。累计资助贫困学生2280人次。\n\n"
        "——全市投资建设光伏电站72座。\n\n组织产销对接活动5场，活动在我市浚县举办。\n\n"
        "全市农民收入同比增长7.2%，高于全省平均增速0.8个百分点。"
    )
    got = [(m.span, m.region.removeprefix("河南省鹤壁市") or "市") for m in run(text)]
    assert got == [
        ("49个", "浚县"), ("941名", "浚县"), ("56个", "淇县"), ("2280人次", "淇县"), ("72座", "市"),
        ("5场", "市"), ("7.2%", "市"), ("0.8个百分点", "市"),
    ]  # fmt: skip


def test_cadre_training_and_industry_beneficiaries_topics() -> None:
    ms = run("累计培训扶贫干部2800余人次，带贫人数506人。")
    assert [(m.metric, m.topic) for m in ms] == [("trained", "other"), ("other", "产业")]


def test_a_zero_width_space_inside_a_number_does_not_change_its_value():
    metrics = run("今年镇里共投入产业奖补资金3\u200b0万元。")
    assert [(m.value, m.unit, m.span) for m in metrics] == [(300000, "元", "30万元")]


def subjects(text: str) -> dict[str, str]:
    return {m.span: m.subject for m in run(text)}


def test_households_and_people_counted_as_a_pair_share_their_words_with_their_own_noun() -> None:
    assert subjects("全乡累计减贫1,318户4,062名贫困人口，搬迁群众406户1,530人。") == {
        "1,318户": "减贫贫困户", "4,062名": "减贫贫困人口", "406户": "搬迁户", "1,530人": "搬迁群众",
    }  # fmt: skip
    assert subjects("建档立卡贫困户215户793人。") == {"215户": "建档立卡贫困户", "793人": "建档立卡贫困人口"}


def test_a_household_count_names_households() -> None:
    assert subjects("今年新识别监测对象47户。") == {"47户": "识别监测对象户"}
    assert subjects("已消除返贫风险的有39户。")["39户"].endswith("户")


def test_a_table_cell_is_its_row_label_and_column_name() -> None:
    text = (
        "表3　2024年全镇特色农产品产量\n"
        "品种　产量　单位　比上年增长\n"
        "茶叶　0.86　万吨　6.1%\n"
        "其中：红茶（干茶）　0.41　万吨　2.5%\n"
        "指标　数值　单位\n"
        "食用菌　1.2　万吨\n"
    )
    assert subjects(text) == {
        "0.86 万吨": "茶叶产量", "6.1%": "茶叶比上年增长", "0.41 万吨": "红茶产量", "2.5%": "红茶比上年增长",
        "1.2 万吨": "食用菌",
    }  # fmt: skip


def test_a_subject_does_not_end_with_a_particle_or_a_from() -> None:
    assert subjects("全镇贫困发生率由12.6%降至0.3%。")["12.6%"] == "贫困发生率"
    assert subjects("村里种了80亩。")["80亩"] == "村里种"


def test_a_count_joined_to_the_next_by_he_keeps_its_own_noun() -> None:
    assert subjects("乡里确定了12项帮扶措施和5项考核指标。") == {"12项": "乡里确定帮扶措施", "5项": "考核指标"}
    assert subjects("全年举办7场招聘会及3场直播带岗活动。") == {"7场": "全年举办招聘会", "3场": "直播带岗活动"}
    # an enumeration of nouns after one count stays whole
    assert subjects("为356名高血压、糖尿病患者建立健康档案。")["356名"].startswith("高血压、糖尿病患者")


def test_a_byline_and_a_sentence_with_spaces_are_no_table() -> None:
    # a repost's added lead line (two "cells") above a dateline with a space: prose, not a table
    text = "青山县融媒体中心讯（通讯员 李某）\n本报讯（记者 王某）今年全县蔬菜产值达到3.2亿元，同比增长7.5%。\n"
    got = subjects(text)
    assert got["3.2亿元"].endswith("今年全县蔬菜产值") and got["7.5%"].endswith("今年全县蔬菜产值同比增长")
    assert not any("李某" in subject for subject in got.values())  # nothing from the line above
