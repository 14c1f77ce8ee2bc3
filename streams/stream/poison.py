"""Poison messages: a message that killed the worker twice goes to the DLQ on the third try.

Before messages are analysed, their positions are written to a small file per partition under the
data directory (``inflight/<group>/<topic>-<partition>.json``); it is removed once they were
analysed, whatever the outcome. A worker killed meanwhile (out of memory, a crash in native code)
leaves the mark behind. A batch's mark only names its offsets (``{"offsets": [...]}``): the next
worker analyses each of them alone, since any of them may be the culprit. A mark of one message
alone (``{"offset": o, "attempts": n}``) counts: the restarted worker, redelivered the same
offset, counts one more attempt, and a message whose marks say it killed the worker
``max_attempts`` times on its own is not analysed again. So an innocent message that shared a
batch with a culprit is never taken for poison.
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

    def _read(self, topic: str, partition: int) -> dict:
        try:
            mark = json.loads(self._path(topic, partition).read_text())
        except (OSError, ValueError):
            return {}
        return mark if isinstance(mark, dict) else {}

    def _write(self, topic: str, partition: int, mark: dict) -> None:
        path = self._path(topic, partition)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(mark))
        os.replace(tmp, path)

    def left_behind(self, topic: str, partition: int) -> set[int]:
        """The offsets a dead worker was analysing in this partition (none after a clean run)."""
        mark = self._read(topic, partition)
        offsets = mark.get("offsets", [mark["offset"]] if "offset" in mark else [])
        return {int(offset) for offset in offsets if isinstance(offset, int)}

    def begin(self, topic: str, partition: int, offset: int) -> int:
        """Record an attempt at ``offset`` alone; returns how many earlier attempts at it alone died."""
        mark = self._read(topic, partition)
        died = int(mark.get("attempts", 0)) if mark.get("offset") == offset else 0
        self._write(topic, partition, {"offset": offset, "attempts": died + 1})
        return died

    def begin_batch(self, topic: str, partition: int, offsets: list[int]) -> None:
        """Record that these offsets are analysed together (a death counts against none of them)."""
        self._write(topic, partition, {"offsets": offsets})

    def is_poison(self, died: int) -> bool:
        return died >= self.max_attempts

    def done(self, topic: str, partition: int) -> None:
        """The message was handled (published, or DLQ'd): forget it."""
        self._path(topic, partition).unlink(missing_ok=True)
