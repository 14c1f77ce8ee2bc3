"""Chinese and Arabic number parsing."""

from __future__ import annotations

import pytest

from streams.pipeline.numbers import parse_cn_integer, parse_cn_range, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("两", 2), ("十二", 12), ("二十", 20), ("三百", 300), ("三百零五", 305), ("两千", 2000),
        ("三万", 30000), ("一万二千", 12000), ("一万二", 12000), ("两千五", 2500), ("三亿五千万", 350_000_000),
    ],
)  # fmt: skip
def test_chinese_integers(text: str, value: int) -> None:
    assert parse_cn_integer(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("2,316", 2316), ("0.42", 0.42), ("1.77万", 17700), ("2亿", 200_000_000), ("5,218.6万", 52_186_000), ("3千", 3000)],
)
def test_arabic_with_multiplier(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


def test_ranges() -> None:
    assert parse_cn_range("三四百") == (300, 400)
    assert parse_cn_range("二三十") == (20, 30)
    assert parse_cn_range("三五百") is None


@pytest.mark.parametrize("text", ["", "abc", "一二", "1,2,3", "万"])
def test_not_numbers(text: str) -> None:
    assert parse_number(text) is None
