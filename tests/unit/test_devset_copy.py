"""``tests/data/devset`` is a whole, faithful copy of ``../shared/devset``, and its refresh script works.

The copy makes a clone self-sufficient; the source stays ``../shared/devset``. Where the source
sits beside the clone the two must be equal byte for byte; where it does not, that comparison
skips on a developer's machine but fails under CI (``CI`` set), which always has ``shared/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
COPY = REPO / "tests" / "data" / "devset"
SOURCE = REPO.parent / "shared" / "devset"
SCRIPT = REPO / "tests" / "data" / "refresh_devset.py"
ARTICLE_IDS = [f"d{number:02d}" for number in range(1, 17)]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_devset", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


def gold_rows(name: str) -> list[dict]:
    lines = (COPY / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_copy_equals_shared_source() -> None:
    if not SOURCE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the devset source {SOURCE} is missing (CI expects ../shared beside the clone)")
        pytest.skip(f"no devset source at {SOURCE} to compare with")
    diff = load_script().compare(SOURCE, COPY)
    listing = "\n".join(diff.lines())
    assert diff.equal, f"tests/data/devset differs from {SOURCE} (run: python tests/data/refresh_devset.py):\n{listing}"


def test_copy_is_complete() -> None:
    expected = {"README.md", "NOTES.md", "verify.py", "gold_metrics.jsonl", "gold_topics.jsonl"}
    expected |= {f"{doc_id}{suffix}" for doc_id in ARTICLE_IDS for suffix in (".txt", ".meta.json")}
    present = {path.name for path in COPY.iterdir() if path.is_file()}
    assert sorted(expected - present) == []


@pytest.mark.parametrize(("name", "pattern"), [
    ("gold_metrics.jsonl", r"`gold_metrics\.jsonl` \| one row per quantity \((\d+) rows"),
    ("gold_topics.jsonl", r"`gold_topics\.jsonl` \| one row per non-empty line .*?\((\d+) rows\)"),
])
def test_gold_row_counts_match_the_readme(name: str, pattern: str) -> None:
    found = re.search(pattern, (COPY / "README.md").read_text(encoding="utf-8"))
    assert found, f"README.md of the copy no longer states the row count of {name}"
    assert len(gold_rows(name)) == int(found.group(1))


@pytest.mark.parametrize("name", ["gold_metrics.jsonl", "gold_topics.jsonl"])
def test_every_gold_row_names_an_article_of_the_copy(name: str) -> None:
    ids = {row["id"] for row in gold_rows(name)}
    assert ids == set(ARTICLE_IDS)
    assert all((COPY / f"{doc_id}.txt").is_file() for doc_id in ids)


def make_source(root: Path) -> Path:
    source = root / "source"
    source.mkdir()
    (source / "d01.txt").write_text("县里新建扶贫车间12个。\n", encoding="utf-8")
    (source / "gold_metrics.jsonl").write_bytes(b'{"id": "d01"}\n')
    for path in source.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # like the read-only shared/
    return source


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_check_lists_every_difference_and_refresh_repairs_them(tmp_path: Path) -> None:
    source, copy = make_source(tmp_path), tmp_path / "copy"
    copy.mkdir()
    (copy / "d01.txt").write_text("stale\n", encoding="utf-8")
    (copy / "old.txt").write_text("gone upstream\n", encoding="utf-8")

    checked = run_script("--check", "--source", str(source), "--copy", str(copy))
    assert checked.returncode == 1
    assert "differs: d01.txt" in checked.stdout
    assert "missing: gold_metrics.jsonl" in checked.stdout
    assert "old.txt" in checked.stdout

    assert run_script("--source", str(source), "--copy", str(copy)).returncode == 0
    assert sorted(path.name for path in copy.iterdir()) == ["d01.txt", "gold_metrics.jsonl"]
    for path in copy.iterdir():
        assert path.read_bytes() == (source / path.name).read_bytes()
        assert os.access(path, os.W_OK), "a refreshed file must not inherit the source's read-only mode"

    equal = run_script("--check", "--source", str(source), "--copy", str(copy))
    assert equal.returncode == 0
    assert len(equal.stdout.strip().splitlines()) == 1


def test_missing_source_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_script("--check", "--source", str(tmp_path / "absent"), "--copy", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1
