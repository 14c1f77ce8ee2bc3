"""Where the pipeline's rules files are: the shipped ``rules/`` (package data), overlaid by a directory.

The shipped files are found with :mod:`importlib.resources`, so they are read from an installed
wheel as well as from a checkout. A ``rules_dir`` given by the caller overrides (or adds) files by
name; :func:`rules_hash` fingerprints the effective set and :func:`code_hash` the pipeline's modules,
both part of ``Pipeline.version``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePath

PACKAGE: Traversable = resources.files("streams.pipeline")
DEFAULT_RULES_DIR: Traversable = PACKAGE / "rules"
RULE_SUFFIXES = (".json", ".txt")


def rules_files(rules_dir: Path | None = None) -> dict[str, Traversable]:
    """Effective rules files by name, sorted: the shipped ones, overridden/extended by ``rules_dir``."""
    files: dict[str, Traversable] = {
        entry.name: entry for entry in DEFAULT_RULES_DIR.iterdir() if PurePath(entry.name).suffix in RULE_SUFFIXES
    }
    if rules_dir is not None and rules_dir.is_dir():
        files.update({p.name: p for p in rules_dir.iterdir() if p.suffix in RULE_SUFFIXES})
    return dict(sorted(files.items()))


def rules_hash(files: Mapping[str, Traversable]) -> str:
    """Short sha256 over the names and bytes of ``files`` (in their order)."""
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


def code_hash(package: Traversable = PACKAGE) -> str:
    """Short sha256 over the names and bytes of the pipeline's own modules: with
    :func:`rules_hash` in ``Pipeline.version``, a change of the analysis code changes the version
    even when nobody bumped the code version."""
    digest = hashlib.sha256()
    for entry in sorted((e for e in package.iterdir() if e.name.endswith(".py")), key=lambda e: e.name):
        digest.update(entry.name.encode("utf-8") + b"\0")
        digest.update(entry.read_bytes() + b"\0")
    return digest.hexdigest()[:8]
