"""Number forms of issue 8 item 5 and the devset conventions (d09–d16), on fresh sentences."""

from __future__ import annotations

import pytest

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.normalize import fold_width
from streams.pipeline.numbers import parse_cn_decimal, parse_cn_range

PIPELINE = Pipeline(code_version="test")


def rows(text: str) -> list[tuple[str, float, float | None, float | None, str, str]]:
    return [(m.span, m.value, m.value_low, m.value_high, m.unit, m.qualifier) for m in PIPELINE.analyze(text).metrics]


@pytest.mark.parametrize(
    ("text", "value"),
    [("五点六", 5.6), ("三十七点零五", 37.05), ("零点三", 0.3), ("一百二十点五", 120.5)],
)
def test_chinese_decimals(text, value):
    assert parse_cn_decimal(text) == value


def test_chinese_decimal_needs_digits_after_the_point():
    assert parse_cn_decimal("十点") is None and parse_cn_decimal("两点半") is None


def test_range_with_liang():
    assert parse_cn_range("一两千") == (1000.0, 2000.0)


def test_decimal_with_multiplier_is_one_figure():
    assert rows("全乡今年种植中药材五点六万亩。") == [("五点六万亩", 56000.0, None, None, "亩", "exact")]
    assert rows("县里投入整合资金一点二亿元。") == [("一点二亿元", 120000000.0, None, None, "元", "exact")]


def test_a_clock_time_is_no_decimal():
    assert rows("早上七点二十分，120名志愿者出发。") == [("120名", 120.0, None, None, "人", "exact")]


@pytest.mark.parametrize(
    ("text", "span", "value", "qualifier"),
    [
        ("全村合作医疗参合率达百分之九十九点二。", "百分之九十九点二", 99.2, "exact"),
        ("适龄儿童入学率保持百分之百。", "百分之百", 100.0, "exact"),
        ("返贫率控制在百分之三以内。", "百分之三以内", 3.0, "at_most"),
        ("失学率不到百分之零点五。", "不到百分之零点五", 0.5, "at_most"),
    ],
)
def test_percentages_in_words(text, span, value, qualifier):
    assert rows(text) == [(span, value, None, None, "%", qualifier)]


def test_full_width_comma_between_full_width_digits_groups_thousands():
    assert fold_width("接种２，４５０人次，３，１２") == "接种2,450人次，3，12"
    assert rows("全镇累计接种２，４５０人次。") == [("2,450人次", 2450.0, None, None, "人次", "exact")]


def test_circled_item_numbers_are_not_figures():
    assert rows("②扶贫车间新增3家。") == [("3家", 3.0, None, None, "家", "exact")]
    assert rows("④家门口就业：新建车间12个。") == [("12个", 12.0, None, None, "个", "exact")]


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("镇上的竹编作坊有百来人做工。", "百来人", 100.0),
        ("山货节吸引了５０００来人。", "5000来人", 5000.0),
        ("卖了三头猪，一年多挣万把块。", "万把块", 10000.0),
        ("养蜂一年收入三万多块。", "三万多块", 30000.0),
    ],
)
def test_colloquial_round_numbers_are_approximate(text, span, value):
    unit = "元" if "块" in span else "人"
    assert rows(text) == [(span, value, None, None, unit, "approx")]


def test_spoken_kuai_sums_are_money_and_pieces_are_not():
    # the devset README: colloquial 块 is 元 (issue 8: 八千多块, 千把块); a noun after 块 counts pieces
    assert rows("分到了3块地和两千块钱。") == [("两千块钱", 2000.0, None, None, "元", "exact")]
    assert rows("一年能挣八千多块。") == [("八千多块", 8000.0, None, None, "元", "approx")]
    assert rows("一个月千把块，不多。") == [("千把块", 1000.0, None, None, "元", "approx")]
    assert rows("门口挂了两块牌子，院里码着五百块砖。") == []


def test_range_with_liang_in_text():
    assert rows("旺季要请一两百人采茶。") == [("一两百人", 150.0, 100.0, 200.0, "人", "approx")]


def test_table_cells_separate_number_and_unit():
    assert rows("茶叶产量\t3.25\t万吨\t增长4.1%") == [
        ("3.25\t万吨", 32500.0, None, None, "吨", "exact"),
        ("4.1%", 4.1, None, None, "%", "exact"),
    ]
    assert rows("护林员\t412\t人光伏电站\t16\t座") == [
        ("412\t人", 412.0, None, None, "人", "exact"),
        ("16\t座", 16.0, None, None, "座", "exact"),
    ]


def test_a_number_glued_to_its_label_is_no_cell():
    assert rows("编号A3\t个人信息") == []


def test_hu_ci_is_no_unit():
    assert rows("走访农户3.2万户次。") == []


def test_ascii_digits_grouped_with_full_width_commas():
    # a repost whose commas were all made full-width
    assert rows("今年全镇新增公益性岗位2，150个。") == [("2,150个", 2150.0, None, None, "个", "exact")]
    assert rows("全市农村人口达1，304，600人。") == [("1,304,600人", 1304600.0, None, None, "人", "exact")]
    assert fold_width("种植面积12，400亩") == "种植面积12,400亩"


def test_a_full_width_comma_between_other_digit_runs_stays_a_comma():
    assert fold_width("第1，2，3组") == "第1，2，3组"  # no group of three
    assert fold_width("2019，100户") == "2019，100户"  # four digits before it
    assert fold_width("均价3.5，200元") == "均价3.5，200元"  # a decimal before it


def test_a_half_width_full_stop_after_a_chinese_character_ends_a_sentence():
    assert rows("村里的路修好了.86户群众出行方便了。") == [("86户", 86.0, None, None, "户", "exact")]
    assert rows("版本v3.2个") == []  # after a Latin letter and a digit it is still a decimal point


@pytest.mark.parametrize(("text", "span", "value", "qualifier", "subject"), [
    ("石门县为每名参训学员发放生活补贴1500元/人。", "1500元/人", 1500, "exact", "石门县为每名参训学员发放生活补贴"),
    ("易地搬迁户购房补助标准为2.4万元/户。", "2.4万元/户", 24000, "exact", "每户易地搬迁户购房补助标准"),
    ("公益性岗位补贴按600元/人/月发放。", "600元/人/月", 600, "exact", "每人每月公益性岗位补贴按"),
    ("村集体流转土地租金约为650元/亩。", "650元/亩", 650, "approx", "每亩村集体流转土地租金"),
    ("脐橙收购价4.2元/斤左右。", "4.2元/斤左右", 4.2, "approx", "每斤脐橙收购价"),
    ("脱贫户人均增收2300元/人。", "2300元/人", 2300, "exact", "脱贫户人均增收"),
])
def test_a_per_unit_rate_is_a_figure_in_its_numerators_unit(text, span, value, qualifier, subject):
    [metric] = PIPELINE.analyze(text).metrics
    assert (metric.span, metric.value, metric.unit, metric.qualifier, metric.subject) == (
        span, value, "元", qualifier, subject)


@pytest.mark.parametrize("text", ["全县贫困人口占比约1/5。", "统计时间为2023/12/31。", "网址为www.example.cn/news。"])
def test_fractions_dates_and_paths_are_no_rates(text):
    assert PIPELINE.analyze(text).metrics == []


def test_a_rate_followed_by_a_number_is_no_rate():
    assert [m.span for m in PIPELINE.analyze("收费标准为5元/3小时。").metrics] == []


@pytest.mark.parametrize(("text", "span", "value", "unit"), [
    ("凤鸣镇今年有百余户群众搬进安置小区。", "百余户", 100, "户"),
    ("县人社局全年开展技能培训上千人次。", "上千人次", 1000, "人次"),
    ("松岭县近万名群众喝上了安全水。", "近万名", 10000, "人"),
    ("合作社带动上百户脱贫户稳定增收。", "上百户", 100, "户"),
    ("全乡十余个村建起了村级光伏电站。", "十余个", 10, "个"),
    ("不少务工人员一年能挣上万元。", "上万元", 10000, "元"),
])
def test_bare_round_magnitudes_are_approximate_figures(text, span, value, unit):
    [metric] = PIPELINE.analyze(text).metrics
    assert (metric.span, metric.value, metric.unit, metric.qualifier) == (span, value, unit, "approx")


@pytest.mark.parametrize("text", ["百余年来，这里的百姓靠天吃饭。", "千万不要轻信高息借贷。", "节日里万人空巷。",
                                  "村里十多年没通公路。", "上千万元的项目正在论证。"])
def test_magnitude_words_that_count_nothing_are_no_figures(text):
    assert PIPELINE.analyze(text).metrics == []


def test_a_range_may_begin_with_liang():
    [metric] = PIPELINE.analyze("每户每年可增收两三千元。").metrics
    assert (metric.span, metric.value, metric.value_low, metric.value_high, metric.qualifier) == (
        "两三千元", 2500, 2000, 3000, "approx")


def test_duo_after_a_percentage_makes_it_approximate():
    [rate] = PIPELINE.analyze("今年桃源县蔬菜产值增长了12%多。").metrics
    assert (rate.span, rate.value, rate.qualifier) == ("12%多", 12, "approx")
    [other] = PIPELINE.analyze("占比提高了12%多个季度。").metrics
    assert (other.span, other.qualifier) == ("12%", "exact")


@pytest.mark.parametrize(("text", "span", "value", "unit"), [
    ("云溪县今年新建三个冷链仓储中心。", "三个", 3, "个"),
    ("全镇培育两家农产品加工龙头企业。", "两家", 2, "家"),
    ("澜江县建成五座村级光伏电站。", "五座", 5, "座"),
    ("县里新建两所乡镇幼儿园。", "两所", 2, "所"),
])
def test_a_single_digit_after_a_verb_of_building_counts_its_noun(text, span, value, unit):
    [metric] = PIPELINE.analyze(text).metrics
    assert (metric.span, metric.value, metric.unit, metric.qualifier) == (span, value, unit, "exact")


@pytest.mark.parametrize(("text", "span", "value", "unit"), [
    ("这两笔钱，一笔还了贷款，一笔给孩子交了学费。", "两笔", 2, "笔"),
    ("那三家合作社今年都分了红。", "三家", 3, "家"),
])
def test_a_single_digit_after_zhe_or_na_counts_its_noun(text, span, value, unit):
    [metric] = PIPELINE.analyze(text).metrics
    assert (metric.span, metric.value, metric.unit, metric.qualifier) == (span, value, unit, "exact")


@pytest.mark.parametrize("text", ["这两个月雨水多，茶叶减产。", "这一个村就有好几户。", "这两笔，他记得清清楚楚。"])
def test_zhe_or_na_before_a_duration_an_article_or_no_noun_is_no_figure(text):
    assert PIPELINE.analyze(text).metrics == []


@pytest.mark.parametrize("text", [
    "车间新建两个月后就投产了。",  # a duration
    "镇里要建立“三个一批”工作机制。",  # a slogan in quotes
    "各村建立三个一批帮扶台账。",  # a slogan without quotes
    "全县建立两个机制。",  # no countable thing
    "他一家三口人住进了新房。",  # no verb of building; 口 is no unit
])
def test_single_digits_that_count_no_built_thing_are_no_figures(text):
    assert PIPELINE.analyze(text).metrics == []


@pytest.mark.parametrize("text", [
    "冷库新建三个多月后投入使用。", "厂房建成两个半月后投产。", "合作社新增两个以上。", "要建设两个层面的帮扶体系。",
    "夜晚的县城晚上万家灯火。", "茶园附近万亩林地得到保护。",
])
def test_durations_and_words_ending_in_shang_or_jin_are_no_figures(text):
    assert PIPELINE.analyze(text).metrics == []


def test_shang_ending_a_word_stays_out_of_the_span():
    [metric] = PIPELINE.analyze("直播间线上千余人同时观看。").metrics
    assert (metric.span, metric.value, metric.qualifier) == ("千余人", 1000, "approx")
