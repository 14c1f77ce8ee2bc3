"""Parsing of number words as written in Chinese news (Arabic and Chinese numerals).

``parse_number("2,316")`` → 2316.0, ``parse_number("1.77万")`` → 17700.0,
``parse_number("一万二千")`` → 12000.0, ``parse_number("两千")`` → 2000.0.
``parse_cn_range("三四百")`` → (300.0, 400.0), ``parse_cn_decimal("三点二")`` → 3.2. Text is expected NFKC-folded (ASCII digits).
Everything returns ``None`` rather than raising on text that is not a number.
"""

from __future__ import annotations

import math
import re

CN_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
CN_SMALL_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
CN_BIG_UNITS: dict[str, int] = {"万": 10_000, "亿": 100_000_000}
MULTIPLIERS: dict[str, float] = {
    "万亿": 1e12, "千万": 1e7, "百万": 1e6, "十万": 1e5, "亿": 1e8, "万": 1e4, "千": 1e3, "百": 1e2,
}  # fmt: skip

CN_NUMERAL_CHARS = "".join(CN_DIGITS) + "".join(CN_SMALL_UNITS) + "".join(CN_BIG_UNITS)
_ARABIC = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")
_CN_RANGE = re.compile(r"^([一二两三四五六七八九])([二两三四五六七八九])([十百千万])([万亿]?)$")
_CN_DECIMAL = re.compile(r"^([零〇一二两三四五六七八九十百千万亿]+)点([零〇一二三四五六七八九]+)$")
_CN_DECIMAL_DIGITS = str.maketrans("零〇一二三四五六七八九", "00123456789")


def parse_arabic(text: str) -> float | None:
    """``"3,960"`` → 3960.0, ``"0.42"`` → 0.42; ``None`` unless the whole text is a number."""
    if not _ARABIC.fullmatch(text):
        return None
    value = float(text.replace(",", ""))
    return value if math.isfinite(value) else None


def _parse_cn_section(text: str) -> int | None:
    """A Chinese numeral below 10,000 (``三百零五``, ``十二``, ``两千``)."""
    if not text:
        return 0
    total = 0
    digit: int | None = None
    last_unit = 1
    zero_seen = False
    for char in text:
        if char in CN_DIGITS:
            if digit is not None and digit != 0:
                return None  # two digits in a row: not a plain numeral
            digit = CN_DIGITS[char]
            zero_seen = zero_seen or digit == 0
        elif char in CN_SMALL_UNITS:
            unit = CN_SMALL_UNITS[char]
            if unit >= last_unit and total:
                return None  # 百十 / 十百: units must decrease
            total += (1 if digit is None else digit) * unit
            digit, last_unit, zero_seen = None, unit, False
        else:
            return None
    if digit and last_unit >= 100 and not zero_seen:
        return total + digit * last_unit // 10  # 两千五 = 2500, 一百五 = 150
    return total + (digit or 0)


def parse_cn_integer(text: str) -> int | None:
    """``一万二千`` → 12000, ``三亿五千万`` → 350000000, ``十二`` → 12, ``两千`` → 2000."""
    if not text or any(c not in CN_NUMERAL_CHARS for c in text) or all(c in CN_BIG_UNITS for c in text):
        return None
    total = 0
    rest = text
    for big, factor in (("亿", 100_000_000), ("万", 10_000)):
        if big in rest:
            head, rest = rest.split(big, 1)
            part = parse_cn_integer(head) if head else 1
            if part is None:
                return None
            total += part * factor
    if total and len(rest) == 1 and rest in CN_DIGITS and rest not in "零〇":
        return total + CN_DIGITS[rest] * (1000 if text[-2] == "万" else 10_000_000)  # 一万二 = 12000
    section = _parse_cn_section(rest)
    if section is None:
        return None
    return total + section


def parse_cn_decimal(text: str) -> float | None:
    """``三点二`` → 3.2, ``二十四点八`` → 24.8, ``零点七二`` → 0.72 (traditional 點 is folded to 点
    by normalization); ``None`` otherwise."""
    match = _CN_DECIMAL.match(text)
    if not match:
        return None
    whole = 0 if match.group(1) in ("零", "〇") else parse_cn_integer(match.group(1))
    if whole is None:
        return None
    return float(f"{whole}.{match.group(2).translate(_CN_DECIMAL_DIGITS)}")


def parse_cn_range(text: str) -> tuple[float, float] | None:
    """Adjacent digits before a unit: ``三四百`` → (300, 400), ``二三十`` → (20, 30)."""
    match = _CN_RANGE.match(text)
    if not match:
        return None
    low_digit, high_digit = CN_DIGITS[match.group(1)], CN_DIGITS[match.group(2)]
    if high_digit != low_digit + 1:
        return None
    factor = CN_SMALL_UNITS.get(match.group(3)) or CN_BIG_UNITS[match.group(3)]
    if match.group(4):
        factor *= CN_BIG_UNITS[match.group(4)]
    return float(low_digit * factor), float(high_digit * factor)


def parse_number(text: str) -> float | None:
    """An Arabic number with an optional multiplier, or a Chinese numeral; ``None`` otherwise."""
    text = text.strip()
    if not text:
        return None
    for suffix, factor in MULTIPLIERS.items():
        if text.endswith(suffix) and len(text) > len(suffix):
            base = parse_arabic(text[: -len(suffix)])
            if base is not None:
                return base * factor
    arabic = parse_arabic(text)
    if arabic is not None:
        return arabic
    cn = parse_cn_integer(text)
    return float(cn) if cn is not None else None
