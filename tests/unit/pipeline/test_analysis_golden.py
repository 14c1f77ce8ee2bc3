"""The pipeline's output is byte-identical to ``tests/data/analysis_golden.jsonl``.

The golden holds the full ``AnalysisResult`` (without ``pipeline_version``) of the seeds, the
devset, traditional-script and full-width-digit variants of the seeds and generated documents
(see ``tests/data/refresh_analysis_golden.py`` for the corpus). It pins the analysis while its
code is made faster: any output change fails here with the first differing field.

The golden is regenerated ONLY by ``python tests/data/refresh_analysis_golden.py``, and only for an
intended output change (rules or behaviour), never to make this test pass after an optimization.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "data" / "refresh_analysis_golden.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("refresh_analysis_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


golden = _load_script()


def _first_difference(old: object, new: object, path: str = "$") -> str:
    """The path and values of the first place where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if key not in old or key not in new:
                return f"{path}.{key}: only in {'golden' if key in old else 'computed'}"
            if old[key] != new[key]:
                return _first_difference(old[key], new[key], f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
        if len(old) != len(new):
            return f"{path}: {len(old)} items in the golden, {len(new)} computed"
    return f"{path}: golden {old!r}, computed {new!r}"


@pytest.fixture(scope="module")
def computed() -> list[tuple[object, str]]:
    return list(golden.golden_lines())


@pytest.fixture(scope="module")
def stored() -> list[str]:
    return golden.GOLDEN.read_text(encoding="utf-8").splitlines()


def _compare(computed: list[tuple[object, str]], stored: list[str], prefix: str) -> int:
    pairs = [(doc, line, old) for (doc, line), old in zip(computed, stored, strict=True)
             if doc.name.startswith(prefix)]
    for doc, line, old in pairs:
        if line != old:
            pytest.fail(f"{doc.name}: output differs from the golden at "
                        f"{_first_difference(json.loads(old), json.loads(line))}")
    return len(pairs)


def test_golden_covers_the_same_documents(computed, stored):
    assert len(stored) == len(computed), "the corpus changed: regenerate with tests/data/refresh_analysis_golden.py"


@pytest.mark.parametrize("prefix", ["seeds/", "devset/", "generated/"])
def test_analysis_equals_the_golden(computed, stored, prefix):
    assert len(stored) == len(computed)
    assert _compare(computed, stored, prefix) > 0
