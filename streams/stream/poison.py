"""Poison messages: a message that killed the worker twice goes to the DLQ on the third try.

Before a message is analysed, its position is written to a small file per partition under the
data directory (``inflight/<group>/<topic>-<partition>.json``); it is removed once the message
was handled, whatever the outcome. A worker killed while handling it (out of memory, a crash in
native code) leaves the mark behind, and the restarted worker, redelivered the same offset,
counts one more attempt. A message whose marks say it killed the worker ``max_attempts`` times
is not analysed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class InflightMarks:
    """Attempt counts of the message being handled, per partition, on local disk."""

    def __init__(self, folder: Path, max_attempts: int = 2) -> None:
        self.folder = folder
        self.max_attempts = max_attempts

    def _path(self, topic: str, partition: int) -> Path:
        return self.folder / f"{topic}-{partition}.json"

    def begin(self, topic: str, partition: int, offset: int) -> int:
        """Record an attempt at ``offset``; returns how many earlier attempts died on it."""
        path = self._path(topic, partition)
        died = 0
        try:
            mark = json.loads(path.read_text())
            if mark.get("offset") == offset:
                died = int(mark.get("attempts", 0))
        except (OSError, ValueError):
            pass
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset": offset, "attempts": died + 1}))
        os.replace(tmp, path)
        return died

    def is_poison(self, died: int) -> bool:
        return died >= self.max_attempts

    def done(self, topic: str, partition: int) -> None:
        """The message was handled (published, or DLQ'd): forget it."""
        self._path(topic, partition).unlink(missing_ok=True)
