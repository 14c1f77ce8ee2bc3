"""normalize(): width folding, script conversion, pinyin removal, paragraphs and sentences."""

from __future__ import annotations

from streams.pipeline.normalize import normalize, normalize_fragment


def _check_offsets(doc) -> None:
    for p in doc.paragraphs:
        assert doc.text[p.start : p.end] == p.text
    for s in doc.sentences:
        assert doc.text[s.start : s.end] == s.text


def test_full_width_digits_and_percent_fold_but_chinese_punctuation_stays() -> None:
    doc = normalize("２０２２年，收入增长８．６％；人数１２３人。")
    assert doc.text == "2022年，收入增长8.6%；人数123人。"
    assert doc.script == "simplified"


def test_traditional_is_converted_and_pinyin_removed() -> None:
    doc = normalize("西平縣師靈鎮(zhèn)在縣委的領(lǐng)導(dǎo)下，堅決打好脫貧攻堅戰(zhàn)。")
    assert doc.script == "traditional"
    assert doc.text == "西平县师灵镇在县委的领导下，坚决打好脱贫攻坚战。"


def test_broken_question_marks_do_not_split_sentences() -> None:
    doc = normalize("全鎮總面積63.5km2,總?cè)丝?.4萬人,轄14個行政村。")
    assert len(doc.sentences) == 1


def test_real_question_mark_splits() -> None:
    doc = normalize("如何帮扶?怎样增收?")
    assert [s.text for s in doc.sentences] == ["如何帮扶?", "怎样增收?"]


def test_carriage_returns_and_indents() -> None:
    doc = normalize("\u3000\u3000第一段。\r\n\r\n\u3000\u3000第二段。\r\n")
    assert [p.text for p in doc.paragraphs] == ["第一段。", "第二段。"]
    _check_offsets(doc)


def test_epaper_lines_are_joined_inside_a_sentence() -> None:
    raw = "　　2023年，全县3.62\n万户脱贫，新建茶园3,200\n亩，校舍3.2万平方\n米。2023\n年，产值58.3亿\n元。\n\n　　下一段。"
    doc = normalize(raw)
    assert doc.paragraphs[0].text == "2023年，全县3.62万户脱贫，新建茶园3,200亩，校舍3.2万平方米。2023年，产值58.3亿元。"
    assert doc.paragraphs[1].text == "下一段。"
    _check_offsets(doc)


def test_an_epaper_layout_that_indents_every_line_still_joins_its_sentences() -> None:
    raw = ("\u3000\u3000今年以来，青岚县新栽核桃2,460\n\u3000\u3000亩，带动脱贫户1,035\n\u3000\u3000户增收，户均增收"
           "4,800\n\u3000\u3000元。\n\u3000\u3000全县还新建村级\n\u3000\u3000光伏电站27座。")
    doc = normalize(raw)
    assert [p.text for p in doc.paragraphs] == [
        "今年以来，青岚县新栽核桃2,460亩，带动脱贫户1,035户增收，户均增收4,800元。", "全县还新建村级光伏电站27座。"]
    _check_offsets(doc)


def test_indents_still_mark_paragraphs_where_only_some_lines_have_them() -> None:
    raw = "  石门县召开产业推进会，部署\n秋冬种植工作\n  会议要求各乡镇\n抓好落实\n  次日起开展督查"
    doc = normalize(raw)
    assert [p.text for p in doc.paragraphs] == ["石门县召开产业推进会，部署秋冬种植工作", "会议要求各乡镇抓好落实",
                                                "次日起开展督查"]


def test_a_number_is_joined_to_its_unit_on_an_indented_line() -> None:
    raw = "  柳川县今年新建高标准农田3,200\n  亩。\n  全县完成造林1.5\n  万亩。\n新的一段没有缩进，\n也会接上。"
    doc = normalize(raw)
    assert [p.text for p in doc.paragraphs][:2] == ["柳川县今年新建高标准农田3,200亩。", "全县完成造林1.5万亩。"]


def test_sentences_keep_closing_quote_and_ignore_semicolons() -> None:
    doc = normalize("他说：“好。”然后；继续。")
    assert [s.text for s in doc.sentences] == ["他说：“好。”", "然后；继续。"]


def test_one_paragraph_per_line_without_blank_lines() -> None:
    doc = normalize("第一行。\n第二行。\n第三行。")
    assert len(doc.paragraphs) == 3
    _check_offsets(doc)


def test_fragment_normalization_matches_document() -> None:
    assert normalize_fragment("１．６萬農戶", "traditional") == "1.6万农户"


def test_empty_and_odd_input() -> None:
    assert normalize("").text == ""
    doc = normalize("\ufffd\ufffd?\n\n\u0000")
    _check_offsets(doc)


def test_invisible_format_characters_are_removed_so_numbers_read_whole():
    doc = normalize("\ufeff镇里投入3\u200b0万元，惠及1\u200d2\u2060户，\u00ad帮扶\u200e干部6名。")
    assert doc.text == "镇里投入30万元，惠及12户，帮扶干部6名。"
    assert [(s.start, s.end) for s in doc.sentences] == [(0, len(doc.text))]


def test_a_zero_width_joiner_stays_inside_an_emoji_sequence():
    assert normalize("外出务工👷\u200d♀️增收").text == "外出务工👷\u200d♀️增收"


def test_table_rows_stay_lines_of_their_own():
    text = "表3　2024年茶叶生产情况\n项目　数量　单位\n茶园面积　3.6　万亩\n干茶产量\t1280\t吨\n全年茶叶综合产值达到9.2亿元，同比增长6%。\n"
    assert [p.text for p in normalize(text).paragraphs] == [
        "表3 2024年茶叶生产情况", "项目 数量 单位", "茶园面积 3.6 万亩", "干茶产量\t1280\t吨",
        "全年茶叶综合产值达到9.2亿元，同比增长6%。",
    ]



def test_short_blocks_and_numbered_headings_keep_their_breaks_where_every_line_is_indented() -> None:
    two = normalize("\u3000\u3000二、稳岗就业\n\u3000\u3000全县新增就业岗位500个。")
    assert [p.text for p in two.paragraphs] == ["二、稳岗就业", "全县新增就业岗位500个。"]
    titled = normalize("\u3000\u3000桃源县召开产业推进会\n\u3000\u3000今年新修产业路12公里。")
    assert [p.text for p in titled.paragraphs] == ["桃源县召开产业推进会", "今年新修产业路12公里。"]
    long = normalize("\u3000\u3000（一）特色产业\n\u3000\u3000全县新栽茶苗1,200\n\u3000\u3000亩，带动农户\n"
                     "\u3000\u3000340户。\n\u3000\u3000（二）稳岗就业\n\u3000\u3000新增就业860人。")
    assert [p.text for p in long.paragraphs] == ["（一）特色产业", "全县新栽茶苗1,200亩，带动农户340户。",
                                                 "（二）稳岗就业", "新增就业860人。"]
