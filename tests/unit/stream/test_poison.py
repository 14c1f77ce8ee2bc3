"""Marks of the message in flight: what a killed worker leaves behind, and what the next one does."""

from __future__ import annotations

import json

from streams.stream.poison import InflightMarks


def test_a_handled_message_leaves_no_mark(tmp_path):
    marks = InflightMarks(tmp_path / "g")
    assert marks.begin("news.raw", 2, 41) == 0
    marks.done("news.raw", 2)
    assert marks.begin("news.raw", 2, 41) == 0


def test_each_death_on_the_same_offset_counts_and_the_second_makes_it_poison(tmp_path):
    marks = InflightMarks(tmp_path / "g")
    assert marks.begin("news.raw", 0, 7) == 0  # ... and the process dies
    died = marks.begin("news.raw", 0, 7)  # restart, same offset, dies again
    assert died == 1 and not marks.is_poison(died)
    died = marks.begin("news.raw", 0, 7)  # second restart
    assert died == 2 and marks.is_poison(died)
    assert json.loads((tmp_path / "g" / "news.raw-0.json").read_text()) == {"offset": 7, "attempts": 3}


def test_a_mark_of_another_offset_or_partition_does_not_count(tmp_path):
    marks = InflightMarks(tmp_path / "g")
    marks.begin("news.raw", 0, 7)
    assert marks.begin("news.raw", 0, 8) == 0
    assert marks.begin("news.raw", 1, 8) == 0
    (tmp_path / "g" / "news.raw-3.json").write_text("not json")
    assert marks.begin("news.raw", 3, 1) == 0
