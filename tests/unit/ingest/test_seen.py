"""The seen state's fold: every follower reaches the same verdict from the same records."""

from __future__ import annotations

from streams.ingest.seen import SeenEntry, SeenState, _entry


def entry(state: str, owner: str, at: float, content: str = "h1", fetched: str | None = None) -> SeenEntry:
    return SeenEntry("http://x.test/a", "d1", content, state, owner, at, fetched)


def folded(*entries: SeenEntry | None, lease: float = 60.0) -> SeenEntry | None:
    state = SeenState(lease)
    for item in entries:
        state.fold(item, "http://x.test/a")
    return state.get("http://x.test/a")


def test_the_first_claim_of_a_version_wins():
    assert folded(entry("claimed", "A", 1.0), entry("claimed", "B", 2.0)).owner == "A"


def test_a_done_version_is_not_claimed_again_by_another_follower():
    winner = folded(entry("claimed", "A", 1.0), entry("done", "A", 2.0), entry("claimed", "B", 500.0))
    assert (winner.owner, winner.state) == ("A", "done")


def test_an_edited_version_can_be_claimed_by_anyone():
    winner = folded(entry("done", "A", 1.0), entry("claimed", "B", 2.0, content="h2"))
    assert (winner.owner, winner.hash) == ("B", "h2")


def test_a_claim_whose_owner_died_is_taken_over_after_the_lease():
    assert folded(entry("claimed", "A", 1.0), entry("claimed", "B", 30.0)).owner == "A"
    assert folded(entry("claimed", "A", 1.0), entry("claimed", "B", 62.0)).owner == "B"


def test_a_tombstone_forgets_and_aliases_find_the_validators():
    assert folded(entry("done", "A", 1.0), None) is None
    state = SeenState(60.0)
    state.fold(entry("done", "A", 1.0, fetched="http://x.test/a?id=1"), "http://x.test/a")
    assert state.for_url("http://x.test/a?id=1").hash == "h1" and state.for_url("http://x.test/b") is None


def test_records_that_are_not_ours_are_skipped():
    assert _entry(b"not json") is None and _entry(b'{"unexpected": 1}') is not None
    assert entry("done", "A", 1.0).to_json().startswith(b'{"key": "http://x.test/a"')
