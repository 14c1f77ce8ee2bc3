"""Where the shared development set is: ``../shared/devset`` beside the project root.

Without it the devset tests skip on a developer's machine, but fail under CI (``CI`` set), where
``shared/`` is always beside the clone: a missing devset must not pass silently there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEVSET = Path(__file__).resolve().parents[3].parent / "shared" / "devset"


def require_devset(marker_file: str) -> pytest.MarkDecorator:
    """A skip marker for when the devset is absent (a failure instead under CI)."""
    present = (DEVSET / marker_file).exists()
    if not present and os.environ.get("CI"):
        raise RuntimeError(f"the shared devset is missing at {DEVSET} (CI expects ../shared beside the clone)")
    return pytest.mark.skipif(not present, reason=f"devset not present at {DEVSET}")
