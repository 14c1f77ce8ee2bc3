"""Pages to articles: charsets, main text without boilerplate, titles, dates, canonical URLs, links."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from schemas.models import doc_id_for
from streams.ingest.pages import (
    Article,
    Item,
    PageError,
    canonical_url,
    decode_page,
    extract_article,
    feed_items,
    list_links,
    normalize_url,
)
from support.news_site import ARTICLES, BOILERPLATE, L2_TWIN, NewsSite

TEXT = "旬阳市镕锋村喆哥堃坤发展拐枣产业，带动脱贫户186户增收。"


@pytest.mark.parametrize(("body", "content_type", "override", "codec"), [
    # GB2312 declared, GBK characters used: read as GB18030, their superset
    (f'<meta charset="gb2312"><p>{TEXT}</p>'.encode("gbk"), "text/html", None, "gb18030"),
    # the header lies (UTF-8), the page's meta tells the truth
    (f'<meta http-equiv="Content-Type" content="text/html; charset=GBK"><p>{TEXT}</p>'.encode("gbk"),
     "text/html; charset=utf-8", None, "gb18030"),
    # a four-byte GB18030 character
    ('<meta charset="gb18030"><p>技术员王𠀾驻点指导</p>'.encode("gb18030"), "text/html", None, "gb18030"),
    ('<meta charset="big5"><p>平利縣茶飲產業帶動鄉村振興</p>'.encode("big5"), None, None, "big5hkscs"),
    # declared nowhere: detected
    (f"<html><body><p>{TEXT * 3}</p></body></html>".encode("gbk"), "text/html", None, "gb18030"),
    # the server's default latin-1 says nothing; the bytes are UTF-8
    (f"<p>{TEXT}</p>".encode(), "text/html; charset=ISO-8859-1", None, "utf-8"),
    ("\ufeff<p>镇坪县</p>".encode(), None, None, "utf-8-sig"),
    # the sources file's override wins over a wrong declaration
    (f'<meta charset="utf-8"><p>{TEXT}</p>'.encode("gbk"), "text/html", "gbk", "gb18030"),
])
def test_charsets_come_out_as_correct_text(body, content_type, override, codec):
    text, used = decode_page(body, content_type, override)
    assert used == codec
    expected = "技术员王𠀾驻点指导" if "王" in text else "平利縣茶飲產業帶動鄉村振興" if "平利" in text else (
        "镇坪县" if "镇坪" in text else TEXT)
    assert expected in text


@pytest.mark.parametrize("key", sorted(ARTICLES))
def test_each_test_page_gives_its_body_title_and_date_and_no_boilerplate(key):
    site = NewsSite(base="http://news.test", recover_after=0)
    page = ARTICLES[key]
    _, headers, body = site.respond(page.path)
    text, _ = decode_page(body, headers.get("Content-Type"))
    article = extract_article(text, site.url(page.path))
    assert article.text == page.text
    assert article.title == page.title
    assert not [line for line in BOILERPLATE if line in article.text]
    day = page.shown_date[:10] if page.shown_date else "-".join(page.path.split("/")[2:5])
    assert article.published_at == datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_the_feed_date_and_title_are_used_when_given():
    site = NewsSite(base="http://news.test")
    page = ARTICLES["a1"]
    text, _ = decode_page(site.respond(page.path)[2], None)
    feed_date = datetime(2024, 5, 16, 2, 20, tzinfo=UTC)
    article = extract_article(text, site.url(page.path), Item(site.url(page.path), "feed title", feed_date))
    assert (article.published_at, article.title) == (feed_date, page.title)


def test_the_twin_url_names_the_canonical_one():
    site = NewsSite(base="http://news.test")
    text, _ = decode_page(site.respond(L2_TWIN)[2], None)
    article = extract_article(text, site.url(L2_TWIN))
    assert article.canonical_url == "http://news.test/list/content_7731.html"
    assert article.doc_id == doc_id_for("http://news.test/list/content_7731.html")


def test_a_page_without_text_is_an_error():
    with pytest.raises(PageError, match="no article text found"):
        extract_article("<html><head><title>空</title></head><body><img src='a.png'></body></html>", "http://x.test/a")


def test_doc_id_stays_and_content_hash_changes_with_an_edit():
    one = Article("http://x.test/a?utm_source=rss", "http://x.test/a", "标题", None, "正文一")
    two = Article("http://x.test/a", "http://x.test/a", "标题", None, "正文二")
    assert one.doc_id == two.doc_id and one.content_hash != two.content_hash


@pytest.mark.parametrize(("url", "normalized"), [
    ("HTTP://News.Example.CN:80/a.html#top", "http://news.example.cn/a.html"),
    ("https://news.example.cn:443", "https://news.example.cn/"),
    ("http://x.cn:8080/a?b=2&utm_source=rss&a=1&spm=x", "http://x.cn:8080/a?a=1&b=2"),
])
def test_urls_are_normalized(url, normalized):
    assert normalize_url(url) == normalized


def test_a_canonical_link_to_another_host_is_ignored():
    page = '<html><head><link rel="canonical" href="http://elsewhere.test/b.html"></head></html>'
    assert canonical_url(page, "http://x.test/a.html?from=rss") == "http://x.test/a.html"
    page = '<html><head><link rel="Canonical" href="/b.html"></head></html>'
    assert canonical_url(page, "http://x.test/a.html") == "http://x.test/b.html"


def test_feeds_in_utf8_and_gbk():
    site = NewsSite(base="http://news.test")
    _, headers, body = site.respond("/gbk/feed.xml")
    items = feed_items(body, site.url("/gbk/feed.xml"), headers["Content-Type"])
    assert [i.url for i in items] == [site.url(ARTICLES[k].path) for k in ("g1", "g2", "b1", "n1")]
    assert items[0].title == "旬阳市镕锋村发展拐枣产业"
    assert items[0].published_at == datetime(2024, 6, 1, 3, 0, tzinfo=UTC) and items[1].published_at is None
    _, headers, body = site.respond("/feed.xml")
    assert len(feed_items(body, site.url("/feed.xml"), headers["Content-Type"])) == 8
    with pytest.raises(PageError, match="not a feed"):
        feed_items(b"<html><body>oops", "http://x.test/rss")


def test_list_page_links_that_match_the_pattern_once_each():
    site = NewsSite(base="http://news.test")
    text, _ = decode_page(site.respond("/list/index.html")[2], "text/html")
    pattern = re.compile(r"/(list/(\d{4}/\d\d/\d\d/\w+|content_\d+)\.html|m/content_\d+\.html|go/\d+)$")
    assert [i.url for i in list_links(text + text, site.url("/list/index.html"), pattern)] == [
        "http://news.test/list/2024/05/28/l1.html", "http://news.test/list/content_7731.html",
        "http://news.test/m/content_7731.html", "http://news.test/go/7733"]
