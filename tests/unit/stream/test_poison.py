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




def test_a_batch_mark_names_the_partitions_offsets_and_counts_no_death(tmp_path):
    marks = InflightMarks(tmp_path / "g")
    marks.batches("news.raw", 1, [32, 30, 31])  # ... and the worker dies
    marks.batches("news.raw", 3, [7])
    assert marks.left_in_batches("news.raw", 1) == {30, 31, 32}
    assert marks.left_in_batches("news.raw", 3) == {7}
    assert marks.left_in_batches("news.raw", 2) == set() and marks.left_alone("news.raw", 1) == set()
    # the next worker analyses each alone: a death in a batch counts against none of them
    assert marks.begin("news.raw", 1, 31) == 0
    assert marks.left_alone("news.raw", 1) == {31}
    marks.done("news.raw", 1)
    assert marks.left_alone("news.raw", 1) == set()
    marks.batches("news.raw", 1, [])
    marks.batches("news.raw", 3, [])
    assert list((tmp_path / "g").iterdir()) == []


def test_only_deaths_alone_make_a_message_poison(tmp_path):
    marks = InflightMarks(tmp_path / "g")
    marks.batches("news.raw", 0, [5, 6])  # dies in a batch
    assert marks.begin("news.raw", 0, 6) == 0  # dies alone
    assert marks.begin("news.raw", 0, 6) == 1  # dies alone again
    died = marks.begin("news.raw", 0, 6)
    assert died == 2 and marks.is_poison(died)


def test_workers_sharing_the_folder_never_write_one_file(tmp_path):
    """Workers of one group on one machine share the folder: each writes only its partitions' files,
    through a temporary file of its own (three workers writing one shared file crashed one)."""
    import subprocess
    import sys

    code = ("import sys; from streams.stream.poison import InflightMarks as M\n"
            "m = M(__import__('pathlib').Path(sys.argv[1])); p = int(sys.argv[2])\n"
            "for i in range(300):\n    m.batches('news.raw', p, [i, i + 1])\n    m.batches('news.raw', p, [])\n"
            "m.batches('news.raw', p, [p])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(p)]) for p in range(3)]
    assert [proc.wait(60) for proc in procs] == [0, 0, 0]
    marks = InflightMarks(tmp_path)
    assert [marks.left_in_batches("news.raw", p) for p in range(3)] == [{0}, {1}, {2}]
    assert sorted(f.name for f in tmp_path.iterdir()) == [f"news.raw-{p}.batches.json" for p in range(3)]
