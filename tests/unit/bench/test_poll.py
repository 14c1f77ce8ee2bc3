"""How often the end-to-end benchmark counts the documents in ClickHouse while it waits."""

from __future__ import annotations

import pytest

from streams.bench.etl import MAX_POLL_S, poll_delay


@pytest.mark.parametrize(("remaining", "rate", "expected"), [
    (1, None, 0.05),  # one document (the latency samples): every interval
    (50, 250.0, 0.05),  # a few left: every interval
    (2000, None, 0.2),  # rate not known yet
    (2000, 250.0, MAX_POLL_S),  # 8 s to go: at most half a second
    (300, 250.0, 0.3),  # 1.2 s to go: a quarter of it
    (60, 250.0, 0.06),
    (51, 5000.0, 0.05),  # never shorter than the interval
])
def test_poll_delay(remaining, rate, expected):
    assert poll_delay(remaining, rate, 0.05) == pytest.approx(expected)
