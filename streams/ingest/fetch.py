"""Polite, bounded HTTP fetching for ``newsetl follow`` (aiohttp).

- robots.txt of each origin is honoured for our user agent (cached for an hour; a missing one
  (4xx) allows everything; one that cannot be read — 5xx, timeout, no connection — allows
  nothing, as RFC 9309 asks: the page fails with that reason and robots.txt is asked again next
  time);
- per host: at most ``follow_host_concurrency`` requests in flight and at least
  ``follow_host_delay_seconds`` between two request starts;
- every request has a timeout; 5xx, 429, timeouts and connection errors are retried with
  backoff (``streams.retry.Backoff``) up to ``follow_attempts`` tries;
- bodies larger than ``follow_max_page_bytes`` are refused (from Content-Length or while reading);
- redirects are followed by hand, at most ``follow_max_redirects``, each hop checked against
  robots.txt, and a loop is reported as such.
"""

from __future__ import annotations

import asyncio
import time
import urllib.robotparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp

from streams.retry import Backoff
from streams.settings import Settings

ROBOTS_TTL = 3600.0
RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """A URL that could not be fetched; ``kind`` names why (for counters and the summary)."""

    def __init__(self, url: str, kind: str, detail: str) -> None:
        super().__init__(f"{url}: {detail}")
        self.url, self.kind, self.detail = url, kind, detail


class RobotsDisallowed(FetchError):
    """robots.txt of the site disallows this URL for our user agent."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "robots", "disallowed by robots.txt")


@dataclass(slots=True)
class Response:
    """A final (non-redirect) answer: 200 or 304."""

    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's)
    body: bytes = b""
    redirects: list[str] = field(default_factory=list)

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified")


class _Host:
    """Concurrency and spacing of requests to one host."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.slots = asyncio.Semaphore(max(1, concurrency))
        self.delay = delay
        self.lock = asyncio.Lock()
        self.last_start = 0.0

    async def turn(self) -> None:
        async with self.lock:
            wait = self.last_start + self.delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.last_start = time.monotonic()


class Fetcher:
    """One aiohttp session shared by all sources of a follower; use as ``async with``."""

    def __init__(self, settings: Settings, backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.backoff = backoff or Backoff(start=0.5, cap=10.0)
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": self.settings.follow_user_agent},
            timeout=aiohttp.ClientTimeout(total=self.settings.follow_timeout_seconds),
            auto_decompress=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _host(self, url: str) -> _Host:
        host = urlsplit(url).netloc.lower()
        if host not in self._hosts:
            self._hosts[host] = _Host(self.settings.follow_host_concurrency, self.settings.follow_host_delay_seconds)
        return self._hosts[host]

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's origin lets our user agent fetch it."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._robots.get(origin)
            if cached is None or cached[0] < time.monotonic():
                parser = urllib.robotparser.RobotFileParser()
                try:
                    answer = await self._get(origin + "/robots.txt", {}, self.settings.follow_max_page_bytes)
                    parser.parse(answer.body.decode("utf-8", "replace").splitlines())
                except FetchError as exc:
                    if not exc.kind.startswith("http_4"):
                        # Not cached: asked again on the next fetch. Until then nothing may be
                        # fetched (RFC 9309), and the page fails with this reason.
                        raise FetchError(url, "robots_unavailable", f"robots.txt unavailable: {exc.detail}") from None
                    parser.parse([])  # no robots.txt: everything is allowed
                self._robots[origin] = (time.monotonic() + ROBOTS_TTL, parser)
                cached = self._robots[origin]
        return cached[1].can_fetch(self.settings.follow_user_agent, url)

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
                    max_bytes: int | None = None) -> Response:
        """GET ``url`` following redirects (robots.txt checked on every hop); a conditional GET
        when ``etag``/``last_modified`` are given (status 304 then). Raises FetchError."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        limit = max_bytes or self.settings.follow_max_page_bytes
        visited: list[str] = []
        current = url
        while True:
            if not await self.allowed(current):
                raise RobotsDisallowed(current)
            answer = await self._get(current, headers, limit)
            if answer.status not in (301, 302, 303, 307, 308):
                answer.redirects = visited
                return answer
            location = answer.headers.get("Location")
            if not location:
                raise FetchError(url, "bad_redirect", f"HTTP {answer.status} without Location")
            visited.append(current)
            current = urljoin(current, location).split("#", 1)[0]
            if current in visited:
                raise FetchError(url, "redirect_loop", f"redirect loop via {current}")
            if len(visited) > self.settings.follow_max_redirects:
                raise FetchError(url, "too_many_redirects", f"more than {self.settings.follow_max_redirects} redirects")

    async def _get(self, url: str, headers: dict[str, str], limit: int) -> Response:
        """One URL, no redirect following, retried on transient failures."""
        assert self._session is not None, "use Fetcher as an async context manager"
        host = self._host(url)
        delays = self.backoff.delays()
        attempts = max(1, self.settings.follow_attempts)
        for attempt in range(1, attempts + 1):
            try:
                async with host.slots:
                    await host.turn()
                    async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                        if resp.status in RETRY_STATUSES:
                            failure = FetchError(url, f"http_{resp.status}", f"HTTP {resp.status}")
                        elif resp.status in (200, 304) or 300 <= resp.status < 400:
                            body = await _read_limited(resp, url, limit) if resp.status == 200 else b""
                            return Response(str(url), resp.status, resp.headers, body)
                        else:
                            raise FetchError(url, f"http_{resp.status}", f"HTTP {resp.status}")
            except TimeoutError:
                failure = FetchError(url, "timeout", f"no complete answer in {self.settings.follow_timeout_seconds:g}s")
            except aiohttp.ClientError as exc:
                failure = FetchError(url, "connection", f"{type(exc).__name__}: {exc}".strip(": "))
            if attempt < attempts:
                await asyncio.sleep(next(delays))
        raise failure


async def _read_limited(resp: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise FetchError(url, "too_large", f"page of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise FetchError(url, "too_large", f"page is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
