"""Polite fetching against the local test site on loopback: robots.txt, retries, limits, redirects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from streams.ingest.fetch import Fetcher, FetchError, RobotsDisallowed, _Host
from streams.retry import Backoff
from streams.settings import Settings
from support.news_site import ARTICLES, L3_REDIRECT, NewsSite

FAST = Backoff(start=0.01, cap=0.05)


@pytest.fixture()
def site() -> Iterator[NewsSite]:
    news = NewsSite().start()
    yield news
    news.stop()


def settings(**overrides: object) -> Settings:
    return Settings(**{"follow_timeout_seconds": 0.5, "follow_attempts": 3, "follow_host_delay_seconds": 0.0,
                       "follow_max_page_bytes": 100_000, **overrides})


def fetch(url: str, settings: Settings = settings(), **kwargs: object):  # noqa: B008 - read-only default
    async def run():
        async with Fetcher(settings, backoff=FAST) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(run())


def failure(url: str, **kwargs: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, **kwargs)
    return caught.value


def test_a_page_and_its_validators(site):
    page = ARTICLES["a1"]
    answer = fetch(site.url(page.path))
    assert (answer.status, answer.url, answer.redirects) == (200, site.url(page.path), [])
    assert answer.body.decode().count(page.paragraphs[0]) == 1 and answer.etag
    assert fetch(site.url(page.path), etag=answer.etag).status == 304


def test_a_500_that_recovers_is_retried(site):
    answer = fetch(site.url(ARTICLES["a3"].path))
    assert answer.status == 200 and site.hits[ARTICLES["a3"].path] == 3


def test_retries_stop_after_the_configured_attempts(site):
    error = failure(site.url(ARTICLES["a3"].path), settings=settings(follow_attempts=2))
    assert (error.kind, error.detail, site.hits[ARTICLES["a3"].path]) == ("http_500", "HTTP 500", 2)


def test_a_404_is_not_retried(site):
    error = failure(site.url("/news/2024/0521/gone.html"))
    assert (error.kind, site.hits["/news/2024/0521/gone.html"]) == ("http_404", 1)


def test_robots_txt_is_honoured(site):
    with pytest.raises(RobotsDisallowed):
        fetch(site.url("/private/2024/0525/a9.html"))
    assert site.hits["/private/2024/0525/a9.html"] == 0 and site.hits["/robots.txt"] == 1


def test_redirects_are_followed_and_loops_refused(site):
    answer = fetch(site.url(L3_REDIRECT))
    assert (answer.url, answer.redirects) == (site.url(ARTICLES["l3"].path), [site.url(L3_REDIRECT)])
    error = failure(site.url("/news/loop1.html"))
    assert (error.kind, error.detail) == ("redirect_loop", f"redirect loop via {site.url('/news/loop1.html')}")
    error = failure(site.url(L3_REDIRECT), settings=settings(follow_max_redirects=0))
    assert error.kind == "too_many_redirects"


def test_a_page_over_the_limit_is_refused(site):
    error = failure(site.url("/news/2024/0524/big.html"))
    assert error.kind == "too_large" and "over the 100000-byte limit" in error.detail


def test_a_slow_page_times_out_after_its_attempts(site):
    started = time.monotonic()
    error = failure(site.url("/news/2024/0523/slow.html"))
    assert (error.kind, site.hits["/news/2024/0523/slow.html"]) == ("timeout", 3)
    assert time.monotonic() - started < 5


def test_an_unreachable_host_is_a_connection_failure():
    from tests.integration.conftest import free_ports

    (port,) = free_ports(1)
    error = failure(f"http://127.0.0.1:{port}/a.html")
    assert error.kind == "robots_unavailable" and "ClientConnectorError" in error.detail


async def test_requests_to_one_host_are_spaced():
    host = _Host(concurrency=1, delay=0.2)
    started = time.monotonic()
    for _ in range(3):
        await host.turn()
    assert time.monotonic() - started >= 0.4
