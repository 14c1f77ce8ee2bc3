"""Regions you can file by (issue 8): short forms, administrative changes, false hits, demotion, codes.

The examples are written for these tests in the style of county news; the county names in them
are real unless a test says otherwise.
"""

from __future__ import annotations

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.regions import (
    admin_changes,
    document_regions,
    find_regions,
    region_code,
    region_codes,
)
from streams.pipeline.types import Metric

PIPELINE = Pipeline(code_version="test")


def run(text: str, title: str | None = None) -> list[Metric]:
    return PIPELINE.analyze(text, title=title).metrics


def test_short_forms_after_a_verb_of_movement_or_place() -> None:
    assert find_regions("考察组一行走进黔南，调研茶产业。") == ["贵州省黔南布依族苗族自治州"]
    assert find_regions("合作社的香菇远销广东。") == ["广东省"]
    assert find_regions("土豆粉条卖到了成都。") == ["四川省成都市"]
    assert find_regions("种植基地位于湘西，海拔八百米。") == ["湖南省湘西土家族苗族自治州"]
    assert find_regions("驻村老师来自湘西。") == ["湖南省湘西土家族苗族自治州"]
    assert find_regions("老李喜欢湘西的山水。") == []  # 喜欢 is no verb of place: 欢湘西 may be a longer name


def test_short_forms_right_after_their_province_or_city() -> None:
    assert find_regions("陕西安康的富硒茶走俏市场。") == ["陕西省安康市"]
    assert find_regions("宁夏西吉县的马铃薯丰收。") == ["宁夏回族自治区固原市西吉县"]
    assert find_regions("她在广东东莞打过工。") == ["广东省东莞市"]
    # a short form after an unrelated place name is still the tail of a longer word
    assert find_regions("江苏安康路") == ["江苏省"]


def test_autonomous_prefectures_and_counties_in_short_form() -> None:
    assert find_regions("凉山州的花椒、恩施州的茶叶、延边州的大米。") == [
        "四川省凉山彝族自治州", "湖北省恩施土家族苗族自治州", "吉林省延边朝鲜族自治州",
    ]
    assert find_regions("石柱县新建中蜂养殖基地。") == ["重庆市石柱土家族自治县"]
    assert find_regions("长阳县的椪柑。") == ["湖北省宜昌市长阳土家族自治县"]


def test_administrative_changes_after_the_gazetteer_snapshot() -> None:
    assert find_regions("滦州市新增就业岗位。") == ["河北省唐山市滦州市"]
    assert find_regions("滦县新增就业岗位。") == ["河北省唐山市滦州市"]  # the old name still finds it
    assert find_regions("彬州市的苹果。") == ["陕西省咸阳市彬州市"]
    assert find_regions("莱芜市的生姜。") == ["山东省济南市莱芜区"]  # the prefecture became a district
    assert (region_code("陕西省榆林市神木市"), region_code("陕西省榆林市神木县")) == ("610881", "")
    changes = admin_changes()
    assert all(len(c.code) == 6 and c.since.isdigit() and 2016 <= int(c.since) <= 2025 for c in changes)
    assert ("513425", "会理县", "513402", "会理市", "2021") in {
        (c.old_code, c.old_name, c.code, c.name, c.since) for c in changes
    }


def test_no_false_hits_inside_longer_words() -> None:
    assert find_regions("把食用菌打造成朝阳产业。") == []
    assert find_regions("乡村旅游是朝阳产业。") == []
    assert find_regions("院子里花木繁茂，四季长春。") == []
    assert find_regions("全县城区新增停车位300个。") == []
    assert find_regions("老城区改造惠及1200户。") == []
    assert find_regions("洛阳市老城区改造惠及1200户。") == ["河南省洛阳市老城区"]
    assert find_regions("县总工会开展安康杯竞赛。") == []
    assert find_regions("中共广东省委调研组。") == ["广东省"]  # an organisation word keeps its place


def test_partners_destinations_venues_and_lists_do_not_decide_the_main_region() -> None:
    text = (
        "今年以来，铜川市宜君县与江苏省常州市开展苏陕协作，争取帮扶资金3200万元。"
        "常州市对口帮扶宜君县建成2个产业园。全县转移到浙江省务工3600人。"
        "苹果销往上海、杭州等地。她在北京一所大学读书。"
    )
    regions = document_regions(text)
    assert regions.main == "陕西省铜川市宜君县"
    # 浙江省 is left out: 杭州 is more specific (most_specific)
    assert regions.names == ["陕西省铜川市宜君县", "江苏省常州市", "上海市", "浙江省杭州市", "北京市"]
    assert regions.codes == ["610222", "320400", "310000", "330100", "110000"]


def test_a_text_that_names_only_partners_has_no_main_region() -> None:
    regions = document_regions("东西部协作资金到位，厦门市援建的扶贫车间投产，外出到广东务工2000人。")
    assert regions.main == ""
    assert regions.names == ["福建省厦门市", "广东省"]


def test_a_list_of_counties_of_one_city_stays_a_mention_of_the_city() -> None:
    assert document_regions("安康市平利县、岚皋县开展消费帮扶。").main == "陕西省安康市"


def test_the_title_and_the_lead_outweigh_a_passing_mention() -> None:
    text = "临夏州积石山县持续推进产业发展。" + "。" * 150 + "兰州市的专家来县讲课。兰州市专家团队指导种植。"
    assert document_regions(text).main == "甘肃省临夏回族自治州积石山保安族东乡族撒拉族自治县"
    assert document_regions("兰州市的专家来县讲课，指导种植。", "临夏州：乡村振兴见成效").main == "甘肃省临夏回族自治州"


def test_region_codes_of_full_names() -> None:
    assert region_codes(["贵州省黔东南苗族侗族自治州", "重庆市", "", "火星"]) == ["522600", "500000", "", ""]


def test_metrics_take_no_region_from_a_partner_and_carry_its_code() -> None:
    text = "岚皋县新建厂房12座。\n\n岚皋县与江苏省常州市开展东西部协作，引进企业5家。"
    got: list[Metric] = run(text, title="安康市：厂房建起来")
    assert [(m.span, m.region, m.region_code) for m in got] == [
        ("12座", "陕西省安康市岚皋县", "610925"), ("5家", "陕西省安康市岚皋县", "610925"),
    ]


def test_document_regions_carry_their_codes_in_the_same_order():
    from streams.pipeline.regions import document_regions, region_codes

    found = document_regions("安康市紫阳县今年新建茶园2万亩。")
    assert found.codes == region_codes(found.names) and found.codes and all(len(c) == 6 for c in found.codes)
    assert region_codes(["陕西省安康市", "火星"]) == ["610900", ""]


def test_the_source_region_files_an_article_that_names_no_place() -> None:
    regions = document_regions("全县今年新建蔬菜大棚120座，带动脱贫户86户。", None, "河北省承德市")
    assert (regions.main, regions.names, regions.codes) == ("河北省承德市", ["河北省承德市"], ["130800"])
    assert document_regions("全县今年新建蔬菜大棚120座。").main == ""  # without it: nothing


def test_the_source_region_is_more_specific_than_the_province_a_text_names() -> None:
    regions = document_regions("河北省下达衔接资金后，全县新建蔬菜大棚120座。", None, "承德市")
    assert (regions.main, regions.names) == ("河北省承德市", ["河北省承德市"])


def test_a_text_about_another_place_or_a_county_inside_keeps_its_own_region() -> None:
    elsewhere = document_regions("安康市平利县今年新建茶园3,200亩。", None, "河北省承德市")
    assert elsewhere.main == "陕西省安康市平利县"
    inside = document_regions("平利县今年新建茶园3,200亩。", None, "陕西省安康市")
    assert inside.main == "陕西省安康市平利县"


def test_a_source_region_is_read_in_short_forms_and_ignored_when_unknown() -> None:
    from streams.pipeline.regions import source_region_of

    assert source_region_of("甘肃定西").full_name == source_region_of("定西市").full_name == "甘肃省定西市"
    assert source_region_of("洮岭县") is None and source_region_of("") is None and source_region_of(None) is None
    assert document_regions("全镇新修产业路8公里。", None, "某某县").main == ""


def test_a_round_up_naming_other_cities_keeps_them_whatever_the_source() -> None:
    from streams.pipeline.analyzer import Pipeline

    text = "河北省今年新建蔬菜大棚5000座，其中张家口市新建120座，保定市新建80座。"
    pipeline = Pipeline(code_version="x")
    hinted = [(m.span, m.region) for m in pipeline.analyze(text, source_region="河北省承德市").metrics]
    assert hinted == [(m.span, m.region) for m in pipeline.analyze(text).metrics]
    assert ("120座", "河北省张家口市") in hinted and not any(r == "河北省承德市" for _, r in hinted)
    assert document_regions(text, None, "河北省承德市").main == "河北省"
