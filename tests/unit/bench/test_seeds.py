"""The benchmarks read the repository's seeds wherever they are started from, and say so in one
line when there are none."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streams.bench.corpus import SEEDS_DIR, bench_corpus, seed_files
from streams.cli.main import app
from streams.errors import UserError


def test_seed_files_are_the_checkouts_articles_in_order():
    files = seed_files()
    assert files == sorted(SEEDS_DIR.glob("*.txt")) and len(files) == 5


def test_no_seed_articles_is_one_clear_error(tmp_path):
    (tmp_path / "notes.md").write_text("not an article", encoding="utf-8")
    with pytest.raises(UserError, match=r"^no seed articles \(\*\.txt\) in .+: the benchmarks need a checkout of newsetl$"):
        seed_files(tmp_path)
    with pytest.raises(UserError, match="no seed articles"):
        bench_corpus(10, seeds_dir=tmp_path)


def test_bench_analyze_started_elsewhere_still_reads_the_seeds(tmp_path, monkeypatch):
    # it used to glob ``seeds/`` in the working directory and time nothing ("files": 0)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "analyze", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["files"] == 5
    assert figures["bytes"] == sum(len(p.read_bytes()) for p in seed_files())
