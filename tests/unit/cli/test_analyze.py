"""``run_analyze``: JSON Lines contract, table output, one-line errors per bad file, exit code."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from streams.cli.analyze import run_analyze
from streams.settings import Settings

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds").glob("*.txt"))

DOC_KEYS = ["doc_id", "title", "script", "regions", "region_codes", "topics", "topic_scores"]
PARAGRAPH_KEYS = ["index", "text", "topics", "scores"]
METRIC_KEYS = ["sentence", "span", "char_start", "char_end", "value", "value_low", "value_high", "unit",
               "qualifier", "subject", "metric", "topic", "region", "region_code", "year", "paragraph_index",
               "ref_year", "year_basis", "flags"]


def run(paths: list[Path], fmt: str = "json", jobs: int = 1) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_analyze(paths, fmt, Settings(), out=out, err=err, jobs=jobs)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_json_lines_contract_in_input_order():
    paths = [SEEDS[2], SEEDS[0]]
    code, out, err = run(paths)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert "贫困" in lines[0]  # ensure_ascii=False: Chinese is written as is
    for record in records:
        assert list(record)[:3] == ["doc", "paragraphs", "metrics"]
        assert list(record["doc"]) == DOC_KEYS
        assert set(record["doc"]["topic_scores"]) == {"产业", "健康", "教育", "就业"}
        assert set(record["doc"]["topics"]) <= {"产业", "健康", "教育", "就业"}
        assert record["paragraphs"]
        for para in record["paragraphs"]:
            assert list(para)[:4] == PARAGRAPH_KEYS
        for metric in record["metrics"]:
            assert list(metric) == METRIC_KEYS
    assert records[0]["doc"]["doc_id"] != records[1]["doc"]["doc_id"]


def test_same_input_same_output():
    assert run([SEEDS[1]])[1] == run([SEEDS[1]])[1]


def test_errors_are_one_line_and_others_still_processed(tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("脱贫攻坚".encode("gbk") + b"\xff\xfe")
    missing = tmp_path / "missing.txt"
    paths = [missing, SEEDS[0], tmp_path, bad, SEEDS[3]]
    code, out, err = run(paths)
    assert code != 0
    assert len(out.splitlines()) == 2
    err_lines = err.splitlines()
    assert len(err_lines) == 3
    assert str(missing) in err_lines[0] and "no such file" in err_lines[0]
    assert str(tmp_path) in err_lines[1] and "directory" in err_lines[1]
    assert str(bad) in err_lines[2] and "not UTF-8" in err_lines[2]
    assert "Traceback" not in err


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + SEEDS[0].read_bytes())
    code, out, _ = run([path])
    assert code == 0
    assert json.loads(out)["doc"]["doc_id"] == json.loads(run([SEEDS[0]])[1])["doc"]["doc_id"]


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    code, out, err = run([path])
    assert code == 1 and out == "" and "empty" in err


def test_table_format(tmp_path):
    code, out, err = run([SEEDS[1]], fmt="table")
    assert code == 0 and err == ""
    assert "paragraph topics" in out and "metrics" in out


def test_jobs_give_the_same_output_in_input_order(tmp_path):
    devset = sorted((Path(__file__).resolve().parents[2] / "data" / "devset").glob("d*.txt"))
    missing = tmp_path / "missing.txt"
    paths = [*SEEDS, missing, *devset, SEEDS[0]]
    one = run(paths)
    two = run(paths, jobs=2)
    assert one == two
    code, out, err = two
    assert code == 1 and err == f"newsetl analyze: error: {missing}: no such file\n"
    assert len(out.splitlines()) == len(paths) - 1


def test_jobs_in_table_format(tmp_path):
    assert run([SEEDS[0], SEEDS[1]], fmt="table", jobs=2) == run([SEEDS[0], SEEDS[1]], fmt="table")
