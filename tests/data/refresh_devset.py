"""Refresh ``tests/data/devset`` from its source ``../shared/devset``, or check that they are equal.

``../shared/devset`` (beside the clone) stays the source of the development set; the copy makes a
clone whole, so the devset tests always run. Usage, from anywhere:

    python tests/data/refresh_devset.py          # copy the source over the copy (extra files removed)
    python tests/data/refresh_devset.py --check  # exit 1 listing files that differ, are missing or extra

Standard library only, so it runs before (or without) the project's virtualenv.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO.parent / "shared" / "devset"
COPY = REPO / "tests" / "data" / "devset"
IGNORED_DIRS = frozenset({"__pycache__"})


@dataclass
class Diff:
    """How the copy differs from the source, as sorted POSIX paths relative to each root."""

    differ: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.differ or self.missing or self.extra)

    def lines(self, words: tuple[str, str, str] = ("differs", "missing", "extra")) -> list[str]:
        """One line per file; ``words`` name the three cases (a check reports, a refresh acts)."""
        width = max(map(len, words)) + 1
        return [
            f"{word + ':':<{width}} {name}"
            for word, names in zip(words, (self.differ, self.missing, self.extra), strict=True)
            for name in names
        ]


def files_under(root: Path) -> dict[str, Path]:
    """Every regular file below ``root`` by its relative POSIX path (caches left out)."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not IGNORED_DIRS.intersection(path.relative_to(root).parts)
    }


def compare(source: Path, copy: Path) -> Diff:
    """Compare file names and bytes of ``copy`` against ``source``."""
    theirs, ours = files_under(source), files_under(copy)
    return Diff(
        differ=[name for name in sorted(theirs.keys() & ours.keys()) if theirs[name].read_bytes() != ours[name].read_bytes()],
        missing=sorted(theirs.keys() - ours.keys()),
        extra=sorted(ours.keys() - theirs.keys()),
    )


def refresh(source: Path, copy: Path) -> Diff:
    """Make ``copy`` equal to ``source``; returns what had to change."""
    diff = compare(source, copy)
    theirs = files_under(source)
    for name in diff.differ + diff.missing:
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # copyfile, not copy2: the source is read-only and its mode must not follow into the clone.
        shutil.copyfile(theirs[name], target)
    for name in diff.extra:
        (copy / name).unlink()
    return diff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the copy differs")
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"default: {SOURCE}")
    parser.add_argument("--copy", type=Path, default=COPY, help=f"default: {COPY}")
    args = parser.parse_args(argv)

    if not args.source.is_dir():
        print(f"error: the devset source {args.source} does not exist", file=sys.stderr)
        return 2
    count = len(files_under(args.source))
    if args.check:
        diff = compare(args.source, args.copy)
        if diff.equal:
            print(f"devset copy {args.copy} equals {args.source} ({count} files)")
            return 0
        print(f"devset copy {args.copy} differs from {args.source} (run: python tests/data/refresh_devset.py):")
        for line in diff.lines():
            print(f"  {line}")
        return 1
    diff = refresh(args.source, args.copy)
    if diff.equal:
        print(f"devset copy {args.copy} already equals {args.source} ({count} files)")
    else:
        print(f"refreshed {args.copy} from {args.source}:")
        for line in diff.lines(("updated", "added", "removed")):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
