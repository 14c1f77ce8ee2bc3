"""``newsetl bench compare``: the working tree's analysis against a git revision, in turn."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.bench.compare import ROOT, compare_analysis, extract_revision
from streams.cli.main import app
from streams.errors import UserError


def test_a_revision_is_extracted_whole(tmp_path: Path) -> None:
    tree = extract_revision("HEAD", tmp_path)
    head_files = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) == sorted(head_files)


def test_an_unknown_revision_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^cannot read revision 'no-such-rev-0x': ") as err:
        extract_revision("no-such-rev-0x", tmp_path)
    assert "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["bench", "compare", "--against", "no-such-rev-0x"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot read revision 'no-such-rev-0x'") and "Traceback" not in result.output


def test_both_sides_analyse_the_same_documents_in_turn() -> None:
    result = compare_analysis("HEAD", docs=12, rounds=2, chunk=5)
    assert {k: result[k] for k in ("against", "documents", "rounds")} == {"against": "HEAD", "documents": 12, "rounds": 2}
    assert result["base_docs_s"] > 0 and result["work_docs_s"] > 0
    assert result["speedup"] == pytest.approx(result["work_docs_s"] / result["base_docs_s"], rel=0.01)
