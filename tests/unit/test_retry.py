"""Backoff delays and polling with a deadline, on a fake clock."""

import pytest

from streams.retry import Backoff, PollTimeout, poll_until


def test_backoff_doubles_up_to_the_cap():
    delays = Backoff(start=0.5, cap=3.0).delays()
    assert [next(delays) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert next(Backoff(start=0.2, cap=0.01).delays()) == 0.01


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_poll_until_returns_the_time_waited_once_the_check_holds():
    clock, answers = Clock(), iter([False, False, True])
    waited = poll_until(lambda: next(answers), 10, "x", backoff=Backoff(start=1, cap=4), clock=clock, sleep=clock.sleep)
    assert waited == 3.0 and clock.slept == [1, 2]


def test_poll_until_stops_at_the_deadline_naming_what_it_waited_for():
    clock = Clock()
    with pytest.raises(PollTimeout, match="timed out after 5s waiting for the worker"):
        poll_until(lambda: False, 5, "the worker", backoff=Backoff(start=2, cap=2), clock=clock, sleep=clock.sleep)
    assert clock.slept == [2, 2, 1]
