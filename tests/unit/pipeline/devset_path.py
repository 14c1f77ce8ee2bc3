"""Where the development set is: ``tests/data/devset`` in the repository.

The copy is part of the clone, so the devset tests always run. Its source stays
``../shared/devset``: ``python tests/data/refresh_devset.py`` refreshes the copy, and
``tests/unit/test_devset_copy.py`` (and ``.ci/run``) fail when the two differ.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEVSET = Path(__file__).resolve().parents[2] / "data" / "devset"


def require_devset(marker_file: str) -> pytest.MarkDecorator:
    """A no-op marker once ``marker_file`` is found in the copy; a clear error if it is not.

    The copy ships with the repository, so a missing file is a broken checkout, never a reason
    to skip.
    """
    if not (DEVSET / marker_file).is_file():
        raise RuntimeError(
            f"the devset copy is incomplete: {DEVSET / marker_file} is missing "
            "(restore tests/data/devset, or run: python tests/data/refresh_devset.py)"
        )
    return pytest.mark.skipif(False, reason="the devset copy is present")
