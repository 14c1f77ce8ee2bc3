#!/usr/bin/env python3
"""Consistency check for the seed gold files (standard library only).

Adapted from /work/shared/devset/verify.py for the five seed articles in <repo>/seeds/.

Run:  python3 tests/gold/seeds/verify_seeds.py        (from any directory)
      python3 tests/gold/seeds/verify_seeds.py -v     (also list every problem)

Checks
  * every seed <stem>.txt in <repo>/seeds has <stem>.metrics.jsonl and <stem>.topics.jsonl here,
    the row `id` is the stem, and the text has no carriage return.
  * <stem>.metrics.jsonl: every `sentence` and `span` is an exact substring of its article,
    the span lies inside the sentence at char_start/char_end, paragraph_index is the
    non-empty line holding char_start, unit / qualifier / topic / metric come from the
    allowed lists, ranges carry value_low <= value <= value_high with value the midpoint,
    and the value written down agrees with an independent parse of the span
    (a qualifier word inside the span must agree with the row's qualifier).
    Extra units: Latin km / km2 / hm2 / m2 map to 公里 / 平方公里 / 公顷 / 平方米; a bare 万/亿
    count directly after a people noun (总人口16.5万) takes 人.
  * <stem>.topics.jsonl: exactly one row for every non-empty line of >= 15 characters
    (after stripping whitespace, full-width space included), none for other lines,
    paragraph_index counted over non-empty lines, text_start = first 20 characters.

It prints per-file counts and a last line "problems: N".
"""
from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parents[2] / "seeds"
IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))

UNITS = ["元", "人", "户", "人次", "个", "家", "所", "座", "项", "场", "套", "册", "台", "笔",
         "条", "支", "次", "份", "面", "处", "%", "个百分点", "亩", "公顷", "平方米", "平方公里",
         "公里", "千瓦", "千瓦时", "吨"]
QUALIFIERS = ["exact", "approx", "at_least", "at_most"]
TOPICS = ["产业", "健康", "教育", "就业"]
METRIC_TOPICS = TOPICS + ["other"]
METRICS = ["poverty_population", "poverty_households", "poverty_incidence", "per_capita_income",
           "investment", "fund", "jobs_created", "employed", "trained", "students_aided",
           "relocated", "housing_renovated", "microcredit", "pv_capacity", "tourists", "output",
           "area", "enterprises", "patients", "insured", "doctors", "schools", "teachers",
           # extensions used by this set (see README)
           "growth_rate", "coverage_rate", "income", "wage",
           "other"]
PROVINCES = ["北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省",
             "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
             "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
             "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
             "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区"]
METRIC_KEYS = ["id", "sentence", "span", "char_start", "char_end", "paragraph_index", "value",
               "value_low", "value_high", "unit", "qualifier", "subject", "metric", "topic",
               "region", "year"]
TOPIC_KEYS = ["id", "paragraph_index", "text_start", "topics"]
META_KEYS = ["id", "title", "script", "region_main", "published", "note"]

# ---------------------------------------------------------------- span parser
# An independent normalizer used only to cross-check the gold values.

_FW = str.maketrans("０１２３４５６７８９．％，＋", "0123456789.%,+")
_T2S = str.maketrans({"萬": "万", "億": "亿", "餘": "余", "畝": "亩", "戶": "户", "個": "个",
                      "噸": "吨", "項": "项", "場": "场", "臺": "台", "條": "条", "處": "处",
                      "兩": "两", "時": "时", "頃": "顷", "約": "约", "過": "过", "點": "点",
                      "裏": "里", "筆": "笔", "冊": "册", "農": "农", "貧": "贫", "脫": "脱",
                      "羣": "群", "衆": "众", "眾": "众", "勞": "劳", "動": "动",
                      "於": "于", "數": "数"})

# raw unit -> (base unit, factor); longest alternatives first
_UNIT_MAP = {
    "个百分点": ("个百分点", 1), "平方公里": ("平方公里", 1), "平方米": ("平方米", 1),
    "千瓦时": ("千瓦时", 1), "人次": ("人次", 1), "公顷": ("公顷", 1), "公里": ("公里", 1),
    "千瓦": ("千瓦", 1), "兆瓦": ("千瓦", 1000), "度": ("千瓦时", 1),
    "元": ("元", 1), "块钱": ("元", 1), "块": ("元", 1), "人": ("人", 1), "名": ("人", 1), "位": ("人", 1), "户": ("户", 1),
    "个": ("个", 1), "家": ("家", 1), "所": ("所", 1), "座": ("座", 1), "项": ("项", 1),
    "场": ("场", 1), "套": ("套", 1), "册": ("册", 1), "台": ("台", 1), "笔": ("笔", 1),
    "条": ("条", 1), "支": ("支", 1), "次": ("次", 1), "份": ("份", 1), "面": ("面", 1),
    "处": ("处", 1), "%": ("%", 1), "亩": ("亩", 1), "吨": ("吨", 1),
    # Latin area / length symbols (seed 004): km2 = 平方公里, hm2 = 公顷, m2 = 平方米, km = 公里
    "km2": ("平方公里", 1), "hm2": ("公顷", 1), "m2": ("平方米", 1), "km": ("公里", 1),
}
_UNIT_RE = "|".join(sorted(map(re.escape, _UNIT_MAP), key=len, reverse=True))
_MULT = {"万": Decimal(10000), "亿": Decimal(100000000)}
# nouns that carry the unit of a bare 万/亿 count (DESIGN: 0.6万贫困人口 -> 6000 人)
_NOUN_UNITS = {"贫困人口": "人", "脱贫人口": "人", "人口": "人", "群众": "人", "脱贫群众": "人",
               "贫困群众": "人", "劳动力": "人", "农民": "人", "贫困户": "户", "脱贫户": "户",
               "农户": "户", "果农": "户"}
_AR = r"\d[\d,]*(?:\.\d+)?"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10000, "亿": 100000000}
_CN = "[零〇一二两三四五六七八九十百千万亿]+"

LEAD_Q = [("不超过", "at_most"), ("超过", "at_least"), ("突破", "at_least"), ("至少", "at_least"),
          ("不足", "at_most"), ("最高", "at_most"), ("大约", "approx"), ("近", "approx"),
          ("约", "approx"), ("逾", "at_least")]
TRAIL_Q = [("左右", "approx"), ("以上", "at_least"), ("以下", "at_most"), ("以内", "at_most")]


def cn_to_int(s: str) -> int:
    total, section, num = 0, 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            num = _CN_DIGITS[ch]
        elif ch in _CN_SMALL:
            section += (num or 1) * _CN_SMALL[ch]
            num = 0
        elif ch in _CN_BIG:
            total += (section + num) * _CN_BIG[ch]
            section, num = 0, 0
        else:
            raise ValueError(s)
    return total + section + num


def _num(s: str) -> Decimal:
    if re.fullmatch(_AR, s):
        return Decimal(s.replace(",", ""))
    return Decimal(cn_to_int(s))


_PRE_NOUNS = ("总人口", "人口", "總人口")


def parse_span(span: str, before: str = ""):
    """Return (value, low, high, base_unit, qualifier_hint) or raise ValueError.

    `before` is the text just before the span; a bare 万/亿 count such as 总人口16.5万 takes 人
    from the people noun in front of it."""
    bare = re.fullmatch(r"(" + _AR + r")([万亿萬億])", span)
    if bare and before.rstrip("为為是约達达").endswith(_PRE_NOUNS):
        return _num(bare.group(1)) * _MULT[bare.group(2).translate(_T2S)], None, None, "人", "exact"
    s = re.sub(r"\s+", "", span).translate(_FW).translate(_T2S)
    qual = "exact"
    for w, q in LEAD_Q:
        if s.startswith(w):
            s, qual = s[len(w):], q
            break
    for w, q in TRAIL_Q:
        if s.endswith(w):
            s, qual = s[: -len(w)], q
            break
    # Chinese adjacent-digit range: 三四百人
    m = re.fullmatch(r"([一二三四五六七八九])([一二三四五六七八九])([十百千万])(?:余|多)?(" + _UNIT_RE + ")", s)
    if m:
        base, factor = _UNIT_MAP[m.group(4)]
        mul = _CN_SMALL.get(m.group(3)) or _CN_BIG[m.group(3)]
        lo = Decimal(_CN_DIGITS[m.group(1)] * mul * factor)
        hi = Decimal(_CN_DIGITS[m.group(2)] * mul * factor)
        return (lo + hi) / 2, lo, hi, base, "approx"
    # range: 3至5万元, 1,800元至2,600元, 1.4万元至2万元, 20—30人, 1至2名
    num = f"({_AR}|{_CN})"
    m = re.fullmatch(num + r"([万亿])?(" + _UNIT_RE + r")?(?:至|到|—|–|-|~|～)" + num + r"([万亿])?(" + _UNIT_RE + ")", s)
    if m:
        base, factor = _UNIT_MAP[m.group(6)]
        m2 = _MULT.get(m.group(5), Decimal(1))
        m1 = _MULT.get(m.group(2)) if m.group(2) else m2
        lo = _num(m.group(1)) * m1 * factor
        hi = _num(m.group(4)) * m2 * factor
        return (lo + hi) / 2, lo, hi, base, "approx"
    # single Arabic: 2.06万户, 2亿余元, 6,800余个, 672万度, 3,586万千瓦时
    m = re.fullmatch(r"(" + _AR + r")(余|多)?([万亿])?(余|多)?(" + _UNIT_RE + ")", s)
    if m:
        base, factor = _UNIT_MAP[m.group(5)]
        v = _num(m.group(1)) * _MULT.get(m.group(3), Decimal(1)) * factor
        if m.group(2) or m.group(4):
            qual = "approx"
        return v, None, None, base, qual
    # bare 万/亿 count whose noun is people or households: 0.6万贫困人口, 1.6万农户
    m = re.fullmatch(r"(" + _AR + r")([万亿])(余|多)?(" + "|".join(_NOUN_UNITS) + ")", s)
    if m:
        v = _num(m.group(1)) * _MULT[m.group(2)]
        return v, None, None, _NOUN_UNITS[m.group(4)], ("approx" if m.group(3) else qual)
    # single Chinese: 两千余人, 三百多户, 一万二千元, 十二个
    m = re.fullmatch(r"(" + _CN + r")(余|多)?(" + _UNIT_RE + ")", s)
    if m:
        base, factor = _UNIT_MAP[m.group(3)]
        v = Decimal(cn_to_int(m.group(1))) * factor
        if m.group(2):
            qual = "approx"
        return v, None, None, base, qual
    raise ValueError(f"cannot parse span {span!r}")


# ---------------------------------------------------------------- helpers

def nonempty_lines(text: str):
    """[(paragraph_index, line_start_offset, raw_line)] for non-empty lines."""
    out, pos, idx = [], 0, 0
    for raw in text.split("\n"):
        if raw.strip():
            out.append((idx, pos, raw))
            idx += 1
        pos += len(raw) + 1
    return out


def close(a, b) -> bool:
    return abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal("1e-6") * max(Decimal(1), abs(Decimal(str(b))))


def main(argv) -> int:
    verbose = "-v" in argv
    problems: list[str] = []

    def bad(msg: str):
        problems.append(msg)

    texts = {}
    for i in IDS:
        tp = SEEDS / f"{i}.txt"
        texts[i] = tp.read_text(encoding="utf-8")
        if "\r" in texts[i]:
            bad(f"{i}: carriage return in text")
        for suffix in ("metrics", "topics"):
            if not (HERE / f"{i}.{suffix}.jsonl").exists():
                bad(f"{i}: missing {i}.{suffix}.jsonl")

    # ------------------------------------------------------------ metrics
    mlines = []
    for i in IDS:
        mp = HERE / f"{i}.metrics.jsonl"
        if mp.exists():
            mlines += [(f"{i}.metrics", ln, line) for ln, line in
                       enumerate(mp.read_text(encoding="utf-8").splitlines(), 1)]
    mcount = {i: 0 for i in IDS}
    spans_seen: set = set()
    for fname, ln, line in mlines:
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            bad(f"{fname}:{ln}: not JSON: {e}")
            continue
        where = f"{fname}:{ln} {r.get('id')} {r.get('span')!r}"
        if list(r) != METRIC_KEYS:
            bad(f"{where}: keys {list(r)}")
            continue
        t = texts.get(r["id"])
        if t is None:
            bad(f"{where}: unknown id")
            continue
        mcount[r["id"]] += 1
        if not fname.startswith(r["id"] + "."):
            bad(f"{where}: id does not match the file name")
        key = (r["id"], r.get("char_start"), r.get("char_end"))
        if key in spans_seen:
            bad(f"{where}: duplicate row for the same offsets")
        spans_seen.add(key)
        sent, span = r["sentence"], r["span"]
        if not sent or sent not in t:
            bad(f"{where}: sentence not an exact substring")
        if not span or span not in t:
            bad(f"{where}: span not an exact substring")
        if span not in sent:
            bad(f"{where}: span not inside sentence")
        cs, ce = r["char_start"], r["char_end"]
        if not (isinstance(cs, int) and isinstance(ce, int) and t[cs:ce] == span):
            bad(f"{where}: char_start/char_end do not select the span")
        else:
            # the sentence must cover the span at these offsets
            ok = False
            start = t.find(sent)
            while start != -1:
                if start <= cs and ce <= start + len(sent):
                    ok = True
                    break
                start = t.find(sent, start + 1)
            if not ok:
                bad(f"{where}: sentence does not cover the span offsets")
            pidx = [p for p, off, raw in nonempty_lines(t) if off <= cs < off + len(raw) + 1]
            if not pidx or pidx[-1] != r["paragraph_index"]:
                bad(f"{where}: paragraph_index {r['paragraph_index']} (expected {pidx[-1] if pidx else None})")
        if r["unit"] not in UNITS:
            bad(f"{where}: unit {r['unit']!r} not allowed")
        if r["qualifier"] not in QUALIFIERS:
            bad(f"{where}: qualifier {r['qualifier']!r}")
        if r["topic"] not in METRIC_TOPICS:
            bad(f"{where}: topic {r['topic']!r}")
        if r["metric"] not in METRICS:
            bad(f"{where}: metric {r['metric']!r}")
        if not r["subject"]:
            bad(f"{where}: empty subject")
        if not any(str(r["region"]).startswith(p) for p in PROVINCES):
            bad(f"{where}: region {r['region']!r}")
        y = r["year"]
        if y is not None and not (isinstance(y, int) and 1949 <= y <= 2100):
            bad(f"{where}: year {y!r}")
        v, lo, hi = r["value"], r["value_low"], r["value_high"]
        if not isinstance(v, (int, float)):
            bad(f"{where}: value {v!r}")
            continue
        if (lo is None) != (hi is None):
            bad(f"{where}: only one of value_low/value_high")
        if lo is not None:
            if not (lo <= v <= hi) or not close(v, (Decimal(str(lo)) + Decimal(str(hi))) / 2):
                bad(f"{where}: range {lo}..{hi} with value {v}")
            if r["qualifier"] != "approx":
                bad(f"{where}: a range must be approx")
        try:
            pv, plo, phi, punit, pq = parse_span(span, t[max(0, cs - 6):cs] if isinstance(cs, int) else "")
        except ValueError as e:
            bad(f"{where}: {e}")
            continue
        if not close(v, pv):
            bad(f"{where}: value {v} but span parses to {pv}")
        if punit != r["unit"]:
            bad(f"{where}: unit {r['unit']} but span says {punit}")
        if (plo is None) != (lo is None) or (plo is not None and not (close(lo, plo) and close(hi, phi))):
            bad(f"{where}: range bounds {lo}..{hi} but span parses to {plo}..{phi}")
        if pq != "exact" and pq != r["qualifier"]:
            bad(f"{where}: qualifier {r['qualifier']} but span says {pq}")

    # ------------------------------------------------------------ topics
    tlines = []
    for i in IDS:
        tp = HERE / f"{i}.topics.jsonl"
        if tp.exists():
            tlines += [(f"{i}.topics", ln, line) for ln, line in
                       enumerate(tp.read_text(encoding="utf-8").splitlines(), 1)]
    seen: dict[tuple, int] = {}
    tcount = {i: 0 for i in IDS}
    for fname, ln, line in tlines:
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            bad(f"{fname}:{ln}: not JSON: {e}")
            continue
        where = f"{fname}:{ln} {r.get('id')} #{r.get('paragraph_index')}"
        if list(r) != TOPIC_KEYS:
            bad(f"{where}: keys {list(r)}")
            continue
        if r["id"] not in texts:
            bad(f"{where}: unknown id")
            continue
        tcount[r["id"]] += 1
        if not fname.startswith(r["id"] + "."):
            bad(f"{where}: id does not match the file name")
        key = (r["id"], r["paragraph_index"])
        seen[key] = seen.get(key, 0) + 1
        if not isinstance(r["topics"], list) or any(x not in TOPICS for x in r["topics"]) \
                or len(set(r["topics"])) != len(r["topics"]):
            bad(f"{where}: topics {r['topics']!r}")
    for i, t in texts.items():
        for p, _off, raw in nonempty_lines(t):
            s = raw.strip()
            n = seen.get((i, p), 0)
            if len(s) >= 15 and n != 1:
                bad(f"{i} #{p}: {n} topic rows for a line of {len(s)} characters")
            if len(s) < 15 and n:
                bad(f"{i} #{p}: topic row for a line shorter than 15 characters")
    # text_start check
    for fname, ln, line in tlines:
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        t = texts.get(r.get("id"))
        if t is None:
            continue
        lines = {p: raw.strip() for p, off, raw in nonempty_lines(t)}
        s = lines.get(r["paragraph_index"])
        if s is None or s[:20] != r["text_start"]:
            bad(f"{fname}:{ln} {r['id']} #{r['paragraph_index']}: text_start does not match the line")

    for i in IDS:
        print(f"{i}: metrics {mcount[i]:3d}  topic rows {tcount[i]:3d}")
    print(f"total: metrics {sum(mcount.values())}  topic rows {sum(tcount.values())}")
    if verbose or len(problems) <= 30:
        for p in problems:
            print("  -", p)
    print(f"problems: {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
