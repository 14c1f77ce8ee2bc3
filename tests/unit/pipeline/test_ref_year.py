"""``year``, ``ref_year`` and ``year_basis`` of metrics (devset README, *Year* and *Reference year*)
on fresh county-news sentences: which time expression governs a figure, and what dates the rest."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.context import publication_year, time_marks, title_year
from streams.pipeline.types import Metric

PIPELINE = Pipeline(code_version="test")
PUBLISHED = datetime(2023, 9, 12)


def run(text: str, title: str | None = None, published_at: datetime | None = PUBLISHED) -> list[Metric]:
    return PIPELINE.analyze(text, title=title, published_at=published_at).metrics


def dated(metrics: list[Metric]) -> list[tuple[str, int | None, int | None, str]]:
    return [(m.span, m.year, m.ref_year, m.year_basis) for m in metrics]


def test_a_written_year_wins() -> None:
    assert dated(run("2021年，全镇新建蔬菜大棚320座，带动农户156户增收。")) == [
        ("320座", 2021, 2021, "written"), ("156户", 2021, 2021, "written"),
    ]  # fmt: skip


def test_relative_expressions_count_from_the_publication_year() -> None:
    assert dated(run("去年全县发放扶贫小额信贷1.8亿元。")) == [("1.8亿元", None, 2022, "relative")]
    assert dated(run("前年全乡新修通村道路46公里。")) == [("46公里", None, 2021, "relative")]
    assert dated(run("预计明年全县光伏发电收入达到960万元。")) == [("960万元", None, 2024, "relative")]
    assert dated(run("1至9月，全县接待游客42万人次。")) == [("42万人次", None, 2023, "relative")]
    assert dated(run("一至五月，全镇新增市场主体318家。")) == [("318家", None, 2023, "relative")]
    assert dated(run("前三季度，全县劳务收入达到5.6亿元。")) == [("5.6亿元", None, 2023, "relative")]


def test_relative_without_a_publication_date_has_no_ref_year() -> None:
    assert dated(run("今年全村新栽核桃苗1,500亩。", published_at=None)) == [("1,500亩", None, None, "relative")]


def test_undated_figures_take_the_title_year_then_the_publication_year_then_nothing() -> None:
    text = "全县粮食总产量达到21.4万吨。"
    assert dated(run(text, title="苍岭县2022年国民经济和社会发展统计公报")) == [("21.4万吨", None, 2022, "document")]
    assert dated(run(text, title="回顾２０２１｜苍岭县乡村振兴纪实")) == [("21.4万吨", None, 2021, "document")]
    # two years in the title name no single year
    assert dated(run(text, title="苍岭县2021年至2022年工作回顾")) == [("21.4万吨", None, 2023, "published")]
    assert dated(run(text, title="苍岭县稳粮保供见成效")) == [("21.4万吨", None, 2023, "published")]
    assert dated(run(text, published_at=None)) == [("21.4万吨", None, None, "none")]


def test_status_words_make_later_figures_published() -> None:
    assert dated(run("今年以来，全镇新增监测对象23户71人，目前共有监测对象188户。")) == [
        ("23户", None, 2023, "relative"), ("71人", None, 2023, "relative"), ("188户", None, 2023, "published"),
    ]  # fmt: skip
    assert dated(run("全乡建成冷库12座，今年新增储量3,600吨。")) == [
        ("12座", None, 2023, "published"), ("3,600吨", None, 2023, "relative"),
    ]  # fmt: skip
    assert dated(run("近年来，全县培育家庭农场64家，去年新增22家。")) == [
        ("64家", None, 2023, "published"), ("22家", None, 2022, "relative"),
    ]  # fmt: skip


def test_a_comparison_base_dates_nothing() -> None:
    assert dated(run("今年全镇新增就业岗位420个，比去年多了65个。")) == [
        ("420个", None, 2023, "relative"), ("65个", None, 2023, "relative"),
    ]  # fmt: skip
    assert dated(run("2022年，全村脱贫人口人均纯收入1.26万元，比2021年增加1,380元。")) == [
        ("1.26万元", 2022, 2022, "written"), ("1,380元", 2022, 2022, "written"),
    ]  # fmt: skip
    assert dated(run("全县户籍人口41.2万人，较上年末减少0.3万人。")) == [
        ("41.2万人", None, 2023, "published"), ("0.3万人", None, 2023, "published"),
    ]  # fmt: skip


def test_a_relative_expression_after_a_written_year_cuts_it_off() -> None:
    assert dated(run("2021年，全县茶叶综合产值为5.2亿元；今年预计将突破6亿元。")) == [
        ("5.2亿元", 2021, 2021, "written"), ("突破6亿元", None, 2023, "relative"),
    ]  # fmt: skip


def test_a_year_with_的_dates_only_its_clause() -> None:
    assert dated(run("全村人均纯收入由2016年的3,820元增加到2022年的9,460元，年均增长16.3%。")) == [
        ("3,820元", 2016, 2016, "written"), ("9,460元", 2022, 2022, "written"), ("16.3%", None, 2023, "published"),
    ]  # fmt: skip


def test_parts_of_a_year_continue_the_year_named_before_them() -> None:
    assert dated(run("今年上半年，全县新建厂房6栋，新增岗位380个，力争全年新增岗位超过800个。")) == [
        ("380个", None, 2023, "relative"), ("超过800个", None, 2023, "relative"),
    ]  # fmt: skip
    assert dated(run("一季度，全县销售农产品1.3万吨，全年销售有望突破6万吨。")) == [
        ("1.3万吨", None, 2023, "relative"), ("突破6万吨", None, 2023, "published"),
    ]  # fmt: skip


def test_累计_after_the_figures_of_an_expression_takes_over() -> None:
    assert dated(run("今年以来，全镇新识别监测对象42户，累计帮扶监测对象615户。")) == [
        ("42户", None, 2023, "relative"), ("615户", None, 2023, "published"),
    ]  # fmt: skip
    assert dated(run("2022年，全县累计发放助学金1,260万元，资助学生8,400人次。")) == [
        ("1,260万元", 2022, 2022, "written"), ("8,400人次", 2022, 2022, "written"),
    ]  # fmt: skip
    assert dated(run("2022年累计收购鲜茶叶3.1万吨，累计支付茶款2.4亿元。")) == [
        ("3.1万吨", 2022, 2022, "written"), ("2.4亿元", 2022, 2022, "written"),
    ]  # fmt: skip
    assert dated(run("今年以来累计培训致富带头人240人。")) == [("240人", None, 2023, "relative")]


def test_a_year_range_gives_each_listed_figure_its_year_and_the_total_none() -> None:
    assert dated(run("2019年至2021年，全县新增就业岗位分别为860个、920个和1,050个，三年合计2,830个。")) == [
        ("860个", 2019, 2019, "written"), ("920个", 2020, 2020, "written"), ("1,050个", 2021, 2021, "written"),
        ("2,830个", None, 2023, "published"),
    ]  # fmt: skip


def test_a_year_in_chinese_numerals_is_written() -> None:
    assert dated(run("二〇二一年，全乡新建村级卫生室8个。")) == [("8个", 2021, 2021, "written")]


def test_marks_skip_table_captions_and_meeting_names() -> None:
    assert time_marks("表2 2022年主要农产品产量 小麦 3.2 万吨", [], []) == []
    marks = time_marks("县里召开2023年三级干部会议，部署新建村级光伏电站12座。", [], [])
    assert [(m.kind, m.value, m.until) for m in marks] == [("written", 2023, 15)]


def test_title_and_publication_years() -> None:
    assert title_year("回眸２０２２｜梅岭县：乡村振兴再提速") == 2022
    assert title_year("梅岭县2022年和2023年对比") is None
    assert title_year(None) is None
    # the date as given: article dates are the paper's wall clock, stored as UTC
    assert publication_year(datetime(2023, 12, 31, 18, 30, tzinfo=UTC)) == 2023
    assert publication_year(datetime(2024, 1, 1, 0, 5)) == 2024
    assert publication_year(None) is None
