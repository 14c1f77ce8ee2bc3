"""Poison messages: a message that killed the worker twice goes to the DLQ on the third try.

Before messages are analysed, their positions are written to a small file under the data
directory (``inflight/<group>/``); it is removed once they were analysed, whatever the outcome. A
worker killed meanwhile (out of memory, a crash in native code) leaves the mark behind. Every file
belongs to one partition, so workers sharing the folder never write the same one (a partition has
one owner). The batches in flight are named in ``<topic>-<partition>.batches.json`` (their
offsets): the next worker analyses each of those messages alone, since any of them may be the
culprit. A mark of one message alone (``<topic>-<partition>.json``, ``{"offset": o, "attempts":
n}``) counts: the restarted worker, redelivered the same offset, counts one more attempt, and a
message whose marks say it killed the worker ``max_attempts`` times on its own is not analysed
again. So an innocent message that shared a batch with a culprit is never taken for poison.
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

    def _batches_path(self, topic: str, partition: int) -> Path:
        return self.folder / f"{topic}-{partition}.batches.json"

    @staticmethod
    def _load(path: Path) -> dict:
        try:
            mark = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return mark if isinstance(mark, dict) else {}

    def _read(self, topic: str, partition: int) -> dict:
        return self._load(self._path(topic, partition))

    def _save(self, path: Path, mark: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # never another process's
        tmp.write_text(json.dumps(mark))
        os.replace(tmp, path)

    def _write(self, topic: str, partition: int, mark: dict) -> None:
        self._save(self._path(topic, partition), mark)

    def left_alone(self, topic: str, partition: int) -> set[int]:
        """The offset a dead worker was analysing alone in this partition (none after a clean run)."""
        mark = self._read(topic, partition)
        return {mark["offset"]} if isinstance(mark.get("offset"), int) else set()

    def left_in_batches(self, topic: str, partition: int) -> set[int]:
        """The offsets a dead worker was analysing in batches in this partition (none after a clean run)."""
        offsets = self._load(self._batches_path(topic, partition)).get("offsets", [])
        return {offset for offset in offsets if isinstance(offset, int)} if isinstance(offsets, list) else set()

    def begin(self, topic: str, partition: int, offset: int) -> int:
        """Record an attempt at ``offset`` alone; returns how many earlier attempts at it alone died."""
        mark = self._read(topic, partition)
        died = int(mark.get("attempts", 0)) if mark.get("offset") == offset else 0
        self._write(topic, partition, {"offset": offset, "attempts": died + 1})
        return died

    def batches(self, topic: str, partition: int, offsets: list[int]) -> None:
        """Record the offsets of this partition now analysed in batches (a death counts against
        none of them); no offsets: none are."""
        if offsets:
            self._save(self._batches_path(topic, partition), {"offsets": sorted(offsets)})
        else:
            self._batches_path(topic, partition).unlink(missing_ok=True)

    def is_poison(self, died: int) -> bool:
        return died >= self.max_attempts

    def done(self, topic: str, partition: int) -> None:
        """The message was handled (published, or DLQ'd): forget it."""
        self._path(topic, partition).unlink(missing_ok=True)
