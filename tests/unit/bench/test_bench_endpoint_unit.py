"""Pieces of ``streams.bench.endpoint`` that need no services: quantiles, timing, the in-process
chdb child."""

from __future__ import annotations

import pytest

from streams.bench.endpoint import SUM_SQL, in_process_seconds, percentile, timed


def test_percentile_is_nearest_rank() -> None:
    samples = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(samples, 0.5) == 3.0
    assert percentile(samples, 0.9) == 5.0
    assert percentile(samples, 0.0) == 1.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile(list(map(float, range(1, 101))), 0.9) == 90.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_timed_counts_only_the_timed_calls() -> None:
    calls: list[int] = []
    timings = timed(lambda: calls.append(1), 4, warmup=2)
    assert len(timings) == 4 and len(calls) == 6 and all(t >= 0 for t in timings)


def test_in_process_child_runs_chdb_on_its_own_path(tmp_path: object) -> None:
    timings = in_process_seconds(SUM_SQL, 2, str(tmp_path))
    assert len(timings) == 2 and all(t > 0 for t in timings)
