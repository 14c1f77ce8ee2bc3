"""Leftmost-longest term scans: the same matches as the prefix-tree regex they replace."""

import pickle

import pytest

from streams.pipeline.lexicon import trie_pattern
from streams.pipeline.scan import LongestTerms

TERMS = ["养殖", "养殖场", "生猪养殖", "合作社", "社保", "技能培训", "培训", "就业", "就业帮扶车间", "帮扶"]
TEXTS = [
    "柳塘镇新建生猪养殖场3个，带动脱贫户务工。",
    "村合作社保底分红，就业帮扶车间吸纳120人就业。",
    "开展技能培训和培训后跟踪服务，培训就业两不误。",
    "没有任何词。",
    "",
]


def test_longest_term_wins_at_the_leftmost_start() -> None:
    scan = LongestTerms(TERMS)
    assert scan.findall("新建生猪养殖场和养殖场") == ["生猪养殖", "养殖场"]
    assert scan.findall("合作社保底") == ["合作社"]  # 社保 overlaps the match before: not found
    assert scan.spans("𠀀就业帮扶车间") == [("就业帮扶车间", 1, 7)]  # code-point offsets


@pytest.mark.parametrize("text", TEXTS)
def test_same_matches_as_the_trie_regex(text: str) -> None:
    scan, regex = LongestTerms(TERMS), trie_pattern(TERMS)
    assert scan.findall(text) == regex.findall(text)
    assert scan.spans(text) == [(m.group(), m.start(), m.end()) for m in regex.finditer(text)]


def test_an_empty_term_is_refused() -> None:
    with pytest.raises(ValueError, match="empty term"):
        LongestTerms(["就业", ""])


def test_a_scan_is_a_value() -> None:
    scan = LongestTerms(TERMS)
    again = pickle.loads(pickle.dumps(scan))
    assert again == scan and hash(again) == hash(scan)
    assert again.findall(TEXTS[1]) == scan.findall(TEXTS[1])
