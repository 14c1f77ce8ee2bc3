"""``heap.settle``: the long-lived objects frozen, young collections rarer."""

from __future__ import annotations

import gc

import pytest

from streams import heap


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_exists_and_raises_the_young_threshold(restored_collector):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    kept = [{"long": "lived"} for _ in range(100)]
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    assert not any(obj is kept for obj in gc.get_objects())  # frozen: out of the collector's walk


def test_cycles_made_after_settling_are_still_collected(restored_collector):
    heap.settle()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2
