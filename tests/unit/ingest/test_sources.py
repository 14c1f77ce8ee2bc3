"""The sources file: what is accepted, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import UserError
from streams.ingest.sources import load_sources, parse_sources


def test_a_feed_a_list_page_and_a_folder(tmp_path):
    (tmp_path / "inbox").mkdir()
    text = """
sources:
  - name: 安康新闻网
    feed: https://news.example.cn/rss.xml
    interval: 600
    region: 陕西省安康市
  - name: 汉阴县
    list: http://www.hanyin.example/xwzx/
    links: '/xwzx/\\d+\\.html$'
    encoding: gbk
  - name: inbox
    folder: inbox
"""
    feed, listing, folder = parse_sources(text, tmp_path)
    assert (feed.name, feed.kind, feed.location, feed.interval, feed.links) == (
        "安康新闻网", "feed", "https://news.example.cn/rss.xml", 600.0, None)
    assert feed.region == "陕西省安康市" and listing.region is None
    assert (listing.kind, listing.encoding) == ("list", "gbk")
    assert listing.links is not None and listing.links.search("http://www.hanyin.example/xwzx/123.html")
    assert (folder.kind, folder.location, folder.interval) == ("folder", str(tmp_path / "inbox"), None)


@pytest.mark.parametrize(("entry", "message"), [
    ("  - feed: http://a.example/rss", "sources: sources[0]: name is missing"),
    ("  - name: a\n    feed: http://a.example/rss\n    folder: x", "sources: source 'a': give exactly one of feed, list or folder"),
    ("  - name: a", "sources: source 'a': give exactly one of feed, list or folder"),
    ("  - name: a\n    list: http://a.example/", "sources: source 'a': a list page needs links: a regular expression article URLs match"),
    ("  - name: a\n    list: http://a.example/\n    links: '(['", "sources: source 'a': links is not a valid regular expression: unterminated character set at position 1"),
    ("  - name: a\n    feed: ftp://a.example/rss", "sources: source 'a': feed 'ftp://a.example/rss' is not an http(s) URL"),
    ("  - name: a\n    feed: http://a.example/rss\n    links: x", "sources: source 'a': links only applies to a list page"),
    ("  - name: a\n    feed: http://a.example/rss\n    every: 5", "sources: sources[0]: unknown field 'every' (allowed: encoding, feed, folder, interval, links, list, name, region)"),
    ("  - name: a\n    feed: http://a.example/rss\n    region: ''", "sources: source 'a': region must be a place name such as 甘肃省定西市"),
    ("  - name: a\n    feed: http://a.example/rss\n    region: [1]", "sources: source 'a': region must be a place name such as 甘肃省定西市"),
    ("  - name: a\n    feed: http://a.example/rss\n    interval: -1", "sources: source 'a': interval must be a positive number of seconds"),
    ("  - name: a\n    feed: http://a.example/rss\n    encoding: klingon", "sources: source 'a': unknown encoding 'klingon'"),
    ("  - name: a\n    folder: nowhere", "sources: source 'a': folder 'nowhere' does not exist"),
    ("  - name: a\n    feed: http://a.example/rss\n  - name: a\n    feed: http://b.example/rss", "sources: source name 'a' is used twice"),
    ("  - just a string", "sources: sources[0]: expected a mapping with name and one of feed, list or folder"),
])
def test_each_mistake_is_one_line(tmp_path, entry, message):
    with pytest.raises(UserError) as caught:
        parse_sources("sources:\n" + entry + "\n", tmp_path)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ("sources: [", "sources: not valid YAML at line 1: expected the node content, but found '<stream end>'"),
    ("feeds: []", "sources: expected a non-empty list `sources:`"),
    ("sources: []", "sources: expected a non-empty list `sources:`"),
])
def test_a_file_that_is_not_a_sources_list(tmp_path, text, message):
    with pytest.raises(UserError) as caught:
        parse_sources(text, tmp_path)
    assert str(caught.value) == message


def test_a_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"^.*nope.yaml: no such file$"):
        load_sources(tmp_path / "nope.yaml")


def test_folders_are_relative_to_the_sources_file(tmp_path, monkeypatch):
    (tmp_path / "conf" / "inbox").mkdir(parents=True)
    path = tmp_path / "conf" / "sources.yaml"
    path.write_text("sources:\n  - name: inbox\n    folder: inbox\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_sources(Path("conf/sources.yaml"))[0].location == str(tmp_path / "conf" / "inbox")
