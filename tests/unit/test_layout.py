"""The package layout of README's Layout section, enforced: each package imports only the ones
below it, and ``pipeline`` nothing of the project at all."""

from __future__ import annotations

import ast
from pathlib import Path

STREAMS = Path(__file__).resolve().parents[2] / "streams"
BASE = {"settings", "errors", "retry", "observability", "heap", "__version__", "schemas"}
ALLOWED: dict[str, set[str]] = {
    "pipeline": set(),
    # store: the flag_rules table is loaded from the pipeline's rules files (pipeline imports nothing)
    "store": {"settings", "errors", "pipeline"},
    "local": {"settings", "errors", "retry"},
    "stream": BASE | {"pipeline", "store"},
    "ingest": BASE | {"stream"},
    "dashboard": BASE | {"store"},
    "bench": BASE | {"dashboard", "pipeline", "store", "stream"},
    "cli": BASE | {"bench", "dashboard", "ingest", "local", "pipeline", "store", "stream"},
    # the shared top-level modules use no package
    "settings": set(), "errors": set(), "retry": set(), "observability": set(), "heap": set(), "__init__": set(),
}


def project_imports(path: Path) -> set[str]:
    """First names under ``streams`` (or ``schemas``) that ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "streams" else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("streams."):
                found.add(name.split(".")[1])
            elif name == "schemas" or name.startswith("schemas."):
                found.add("schemas")
    return found


def test_every_package_imports_only_what_the_layout_allows():
    wrong = []
    for path in sorted(STREAMS.rglob("*.py")):
        rel = path.relative_to(STREAMS)
        owner = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        assert owner in ALLOWED, f"{rel}: a package or module the layout does not know"
        extra = project_imports(path) - ALLOWED[owner] - {owner}
        wrong += [f"{rel} imports streams.{name}" for name in sorted(extra)]
    assert wrong == []


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from streams.settings import Settings\nfrom streams import __version__\nimport schemas.models\n")
    assert project_imports(bad) == {"settings", "__version__", "schemas"}
