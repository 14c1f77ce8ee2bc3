"""``newsetl follow`` and the HTTP door against the local test site, the real broker and ClickHouse
engine: exactly the articles land, with their titles, dates and bodies only; a restart
re-ingests nothing, an edit is a new version, a new feed item lands within a poll, two followers
do not double an article, and a Kafka outage of 20 s loses nothing."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from rich.console import Console

from schemas.models import doc_id_for
from streams.cli.follow import follow, follow_status_table
from streams.ingest.door import serve_door
from streams.ingest.follow import Follower, PollReport
from streams.ingest.pages import normalize_url
from streams.ingest.sources import load_sources
from streams.local import services
from streams.settings import Settings
from support.news_site import (
    A4,
    A5,
    ARTICLES,
    BOILERPLATE,
    GBK_FEED,
    LIST_PAGES,
    UTF8_FEED,
    NewsSite,
    Page,
)
from tests.integration.conftest import free_ports
from tests.integration.etl_helpers import isolated, poll, read_topic, scalar

LIST_LINKS = r"/(list/(\d{4}/\d\d/\d\d/\w+|content_\d+)\.html|m/content_\d+\.html|go/\d+)$"


@pytest.fixture()
def site() -> Iterator[NewsSite]:
    news = NewsSite().start()
    try:
        yield news
    finally:
        news.stop()


def follow_settings(stack: Settings, name: str, **overrides: object) -> Settings:
    """Isolated settings with short timeouts: every wait of the follower stays in seconds."""
    return isolated(stack, name, follow_timeout_seconds=1.0, follow_attempts=3, follow_host_concurrency=4,
                    follow_host_delay_seconds=0.0, follow_max_page_bytes=100_000, follow_interval_seconds=0.5,
                    follow_jitter=0.0, follow_metrics_port=0, **overrides)


def write_sources(path: Path, site: NewsSite, *entries: str) -> Path:
    known = {
        "utf8": f"  - name: 县融媒体中心\n    feed: {site.url('/feed.xml')}\n",
        "gbk": f"  - name: GBK站\n    feed: {site.url('/gbk/feed.xml')}\n",
        "list": f"  - name: 列表站\n    list: {site.url('/list/index.html')}\n    links: '{LIST_LINKS}'\n",
        "broken": f"  - name: 坏源\n    feed: {site.url('/nofeed.xml')}\n",
        "inbox": "  - name: inbox\n    folder: inbox\n",
    }
    path.write_text("sources:\n" + "".join(known[e] for e in entries), encoding="utf-8")
    return path


def run_once(sources: Path, settings: Settings) -> dict[str, PollReport]:
    async def run() -> list[PollReport]:
        async with Follower(load_sources(sources), settings) as follower:
            return await follower.run_once()

    return {report.source: report for report in asyncio.run(run())}


def counts(reports: dict[str, PollReport]) -> dict[str, tuple[int, int, int, int, int]]:
    return {name: (r.fetched, r.new, r.updated, r.skipped, r.failed) for name, r in reports.items()}


def canonical(site: NewsSite, page: Page) -> str:
    return normalize_url(site.url(page.path))


def expected_date(page: Page) -> datetime:
    """The feed's pubDate when there is one, else the page's date (or the URL's), at midnight UTC."""
    if page.feed_date:
        return page.feed_date
    if page.shown_date:
        return datetime.fromisoformat(page.shown_date[:10]).replace(tzinfo=UTC)
    year, month, day = page.path.split("/")[2:5]
    return datetime(int(year), int(month), int(day), tzinfo=UTC)


def raw_documents(settings: Settings) -> list[dict]:
    return [json.loads(record.value) for record in read_topic(settings, settings.raw_topic)]


@pytest.mark.timeout(240)
def test_follow_once_lands_exactly_the_articles_and_a_restart_or_an_edit_does_the_right_thing(
        stack, site, worker_factory, tmp_path):
    settings = follow_settings(stack, "follow")
    sources = write_sources(tmp_path / "sources.yaml", site, "utf8", "gbk", "list", "broken")
    worker = worker_factory(settings)

    out = io.StringIO()
    assert follow(sources, True, settings, Console(file=out, width=200)) == 1  # 坏源 has no feed
    table = out.getvalue()
    assert "县融媒体中心 │ 3       │ 3   │ 0       │ 1       │ 4" in table, table
    assert "GBK站        │ 4       │ 4   │ 0       │ 0       │ 0" in table, table
    assert "列表站       │ 4       │ 3   │ 0       │ 1       │ 0" in table, table
    assert "坏源" in table and "HTTP 404" in table
    for failed in ("/news/2024/0521/gone.html: HTTP 404", "/news/2024/0523/slow.html: no complete answer in 1s",
                   "/news/loop1.html: redirect loop", "/news/2024/0524/big.html: page of"):
        assert failed in table.replace("\n", ""), failed

    expected = [*UTF8_FEED, *GBK_FEED, *LIST_PAGES]
    by_doc = {doc_id_for(canonical(site, page)): page for page in expected}
    # What reached news.raw: each article once, its body exactly, nothing around it.
    raw = raw_documents(settings)
    assert sorted(d["doc_id"] for d in raw) == sorted(by_doc)
    for doc in raw:
        page = by_doc[doc["doc_id"]]
        assert doc["text"] == page.text, page.key
        assert doc["title"] == page.title
        assert doc["canonical_url"] == canonical(site, page)
        assert doc["url"].startswith(site.url("/")), doc["url"]
        assert datetime.fromisoformat(doc["published_at"]) == expected_date(page), page.key
        assert not [line for line in BOILERPLATE if line in doc["text"]]
    sources_of = {d["doc_id"]: d["source"] for d in raw}
    assert sources_of == {doc_id: "县融媒体中心" if page in UTF8_FEED else "GBK站" if page in GBK_FEED else "列表站"
                          for doc_id, page in by_doc.items()}

    # …and ClickHouse: exactly these documents, their titles and dates, the bodies only.
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == len(expected), 120,
         "the followed articles in ClickHouse", on_timeout=worker.log_tail)
    rows = {row["doc_id"]: row for row in _documents(settings)}
    assert set(rows) == set(by_doc)
    for doc_id, row in rows.items():
        page = by_doc[doc_id]
        assert (row["title"], row["canonical_url"], row["published_at"]) == (
            page.title, canonical(site, page), expected_date(page))
        assert row["url"].startswith(site.url("/")), row["url"]
        if page.encoding != "big5":  # the worker converts traditional text to simplified
            assert row["text"] == page.text, page.key
        assert not [line for line in BOILERPLATE if line in row["text"]]
    table, healthy = follow_status_table(settings)
    assert not healthy and table is not None and table.row_count == 4

    # A restart re-ingests nothing (conditional GETs: unchanged pages answer 304).
    again = run_once(sources, settings)
    assert counts(again) == {"县融媒体中心": (3, 0, 0, 4, 4), "GBK站": (4, 0, 0, 4, 0),
                             "列表站": (4, 0, 0, 4, 0), "坏源": (0, 0, 0, 0, 1)}
    assert len(raw_documents(settings)) == len(expected)

    # An edited article is a new version of the same doc_id.
    edited = site.edit("a2", [*ARTICLES["a2"].paragraphs[:2], "培训结束后，县里将为学员提供一对一就业推荐服务，力争年底前实现全部就业。"])
    third = run_once(sources, settings)
    assert counts(third)["县融媒体中心"] == (3, 0, 1, 3, 4)
    assert third["县融媒体中心"].doc_ids == [doc_id_for(canonical(site, edited))]
    a2 = doc_id_for(canonical(site, edited))
    poll(lambda: scalar(settings, "SELECT text FROM documents_latest WHERE doc_id = {d:String}", d=a2) == edited.text,
         120, "the edited version in documents_latest", on_timeout=worker.log_tail)
    assert scalar(settings, "SELECT count() FROM documents_latest") == len(expected)
    assert [d["text"] for d in raw_documents(settings) if d["doc_id"] == a2] == [ARTICLES["a2"].text, edited.text]


def _documents(settings: Settings) -> list[dict]:
    from streams.store.clickhouse import make_client

    client = make_client(settings, database=settings.clickhouse_database)
    try:
        result = client.query("SELECT doc_id, title, url, published_at, text, canonical_url FROM documents_latest")
        return [dict(zip(result.column_names, row, strict=True)) | {
            "published_at": row[3].replace(tzinfo=UTC) if row[3] is not None and row[3].tzinfo is None else row[3]}
            for row in result.result_rows]
    finally:
        client.close()


def test_two_followers_on_the_same_list_do_not_double_an_article(stack, site, tmp_path):
    settings = follow_settings(stack, "twins")
    sources = load_sources(write_sources(tmp_path / "sources.yaml", site, "list"))

    async def both() -> list[list[PollReport]]:
        async with Follower(sources, settings) as one, Follower(sources, settings) as two:
            return list(await asyncio.gather(one.run_once(), two.run_once()))

    first, second = asyncio.run(both())
    assert first[0].new + second[0].new == 3
    raw = raw_documents(settings)
    assert sorted(d["doc_id"] for d in raw) == sorted(doc_id_for(canonical(site, p)) for p in LIST_PAGES)


class Background:
    """A long-running follower in a thread of its own (its own event loop), stopped at the end."""

    def __init__(self, sources: Path, settings: Settings) -> None:
        self.reports: list[PollReport] = []
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._follower = Follower(load_sources(sources), settings, on_poll=self.reports.append)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        async def main() -> None:
            async with self._follower as follower:
                await follower.run_forever(self._stop)

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def published(self) -> set[str]:
        assert self.error is None, self.error
        return {doc_id for report in list(self.reports) for doc_id in report.doc_ids}

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the follower did not stop"


def stop_kafka(settings: Settings) -> None:
    """SIGTERM the stack's broker and wait until its process is gone (as ``stop_clickhouse``)."""
    pid_file = settings.data_dir / "kafka" / "kafka.pid"
    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    poll(lambda: next(s for s in services.status(settings) if s.name == "kafka").pid is None, 60,
         "the Kafka broker to exit")


@pytest.mark.timeout(240)
def test_the_long_running_follower_takes_new_items_and_files_and_waits_out_a_kafka_outage(stack, site, tmp_path):
    settings = follow_settings(stack, "live")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "first.txt").write_text("镇坪县召开乡村振兴工作会\n\n全县今年计划投入衔接资金1.2亿元。\n", encoding="utf-8")
    (tmp_path / "inbox" / "bad.json").write_text('{"title": "no text"}', encoding="utf-8")
    sources = write_sources(tmp_path / "sources.yaml", site, "utf8", "inbox")
    feed_ids = {page.key: doc_id_for(canonical(site, page)) for page in [*UTF8_FEED, A4, A5]}
    follower = Background(sources, settings)
    try:
        poll(lambda: {feed_ids[k] for k in ("a1", "a2", "a3")} <= follower.published(), 60, "the first poll's articles")
        assert len(follower.published()) == 4  # and the file already in the folder
        inbox = next(r for r in follower.reports if r.source == "inbox")
        assert (inbox.fetched, inbox.new, inbox.failed) == (2, 1, 1)
        assert inbox.failures == [f"{tmp_path / 'inbox' / 'bad.json'}: doc_id: Field required (and 1 more)"]

        polls_before = len([r for r in follower.reports if r.source == "县融媒体中心"])
        site.add_feed_item(A4)
        (tmp_path / "inbox" / "second.jsonl").write_text(json.dumps(
            {"doc_id": "inbox-2", "title": "白河县新增公益岗位", "text": "白河县今年新增乡村公益性岗位800个。"},
            ensure_ascii=False) + "\n", encoding="utf-8")
        poll(lambda: feed_ids["a4"] in follower.published() and "inbox-2" in follower.published(), 30,
             "the new feed item and the dropped file")
        landed = next(i for i, r in enumerate(r for r in follower.reports if r.source == "县融媒体中心")
                      if feed_ids["a4"] in r.doc_ids)
        assert landed <= polls_before + 1  # the poll running when it was added, or the next one

        waits = REGISTRY.get_sample_value("newsetl_follow_kafka_waits_total") or 0.0
        stop_kafka(stack)
        stopped = time.monotonic()
        site.add_feed_item(A5)
        try:
            poll(lambda: site.hits[A5.path] >= 1, 30, "the follower to fetch the new article while Kafka is down")
            time.sleep(max(0.0, 20 - (time.monotonic() - stopped)))  # the outage lasts 20 s
            assert feed_ids["a5"] not in follower.published()
            assert (REGISTRY.get_sample_value("newsetl_follow_kafka_waits_total") or 0.0) > waits
        finally:
            services.up(stack)
        poll(lambda: feed_ids["a5"] in follower.published(), 90, "the article found during the outage")
    finally:
        follower.stop()
    raw = raw_documents(settings)
    assert sorted(d["doc_id"] for d in raw) == sorted([*feed_ids.values(), "inbox-2", _first_file_id(raw)])
    assert len(raw) == len(set(d["doc_id"] for d in raw)) == 7


def _first_file_id(raw: list[dict]) -> str:
    return next(d["doc_id"] for d in raw if d["source"].endswith("first.txt"))


def test_the_http_door_takes_json_and_jsonl_and_refuses_what_produce_would(stack):
    settings = isolated(stack, "door", door_token=SecretStr("s3cret"), door_max_bytes=20_000)
    (port,) = free_ports(1)
    loop = asyncio.new_event_loop()
    stop, started = asyncio.Event(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(serve_door(settings, "127.0.0.1", port, stop, started),), daemon=True)
    thread.start()

    def post(body: bytes, token: str | None = "s3cret", kind: str = "application/json") -> tuple[int, dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/documents", data=body, method="POST",
                                         headers={"Content-Type": kind} | ({"Authorization": f"Bearer {token}"} if token else {}))
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        def listening() -> bool:
            assert thread.is_alive(), "the door stopped"
            return started.is_set()

        poll(listening, 30, "the door to listen")
        one = {"doc_id": "door-1", "source": "cms", "title": "平利县新建社区工厂", "text": "平利县新建社区工厂12家。"}
        assert post(json.dumps(one, ensure_ascii=False).encode()) == (202, {"doc_ids": ["door-1"]})
        lines = [{"doc_id": "door-2", "text": "镇安县新增就业岗位300个。"}, {"text": "宁陕县培训林农500人次。"}]
        status, answer = post("\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode(),
                              kind="application/x-ndjson")
        assert status == 202 and answer["doc_ids"][0] == "door-2" and len(answer["doc_ids"]) == 2
        assert post(b'{"doc_id": "x", "text": "ok"}\n{"doc_id": "y", "txt": "typo"}', kind="application/x-ndjson") == (
            400, {"error": "line 2: text: Field required (and 1 more)", "errors": ["line 2: text: Field required (and 1 more)"]})
        assert post(b"{not json") [0] == 400
        assert post(json.dumps(one).encode(), token=None)[0] == 401
        assert post(json.dumps(one).encode(), token="wrong")[0] == 401
        status, answer = post(json.dumps({"text": "长" * 20_000}, ensure_ascii=False).encode())
        assert status == 413 and "20000 bytes" in answer["error"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    raw = raw_documents(settings)
    assert sorted(d["doc_id"] for d in raw if d["doc_id"].startswith("door-")) == ["door-1", "door-2"] and len(raw) == 3
    assert {d["source"] for d in raw} == {"cms", "http"}


def test_a_folder_is_produced_once_across_restarts(stack, site, tmp_path):
    settings = follow_settings(stack, "folder")
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "a.txt").write_text("岚皋县新建社区工厂\n\n全县新建社区工厂18家。\n", encoding="utf-8")
    (inbox / "sub" / "b.jsonl").write_text(
        '{"doc_id": "b1", "text": "紫阳县茶园35万亩。"}\n{"doc_id": "b2", "text": "平利县茶园20万亩。"}\n', encoding="utf-8")
    (inbox / "notes.csv").write_text("not an article", encoding="utf-8")
    sources = write_sources(tmp_path / "sources.yaml", site, "inbox")
    assert counts(run_once(sources, settings)) == {"inbox": (2, 3, 0, 0, 0)}
    assert counts(run_once(sources, settings)) == {"inbox": (2, 0, 0, 3, 0)}
    (inbox / "sub" / "b.jsonl").write_text(
        '{"doc_id": "b1", "text": "紫阳县茶园36万亩。"}\n{"doc_id": "b2", "text": "平利县茶园20万亩。"}\n', encoding="utf-8")
    assert counts(run_once(sources, settings)) == {"inbox": (2, 0, 1, 2, 0)}
    raw = raw_documents(settings)
    assert [d["doc_id"] for d in raw].count("b1") == 2 and len(raw) == 4
