"""From fetched bytes to articles: charset, main text, title, date, canonical URL, links.

- Charset: the source's ``encoding`` override, then the HTTP header, a BOM and the page's
  ``<meta>`` declaration, each used only if the bytes decode with it; else detected with
  charset-normalizer. GB2312 and GBK labels are read as GB18030 (their superset: sites labelled
  GB2312 routinely use GBK characters), Big5 as Big5-HKSCS.
- Main text, title and date: trafilatura (boilerplate removal) with htmldate for the
  publication date (page metadata, visible dates and the URL).
- The canonical URL: ``<link rel=canonical>`` on the same host, else the fetched URL, normalized
  (lower-case host, no default port, fragment or tracking parameters) — the basis of the doc_id.
- Feeds are read with feedparser; list pages give the links that match the source's pattern.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import charset_normalizer
import feedparser
import htmldate
import lxml.html
import trafilatura

from schemas.models import doc_id_for

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-:.]+)""", re.I)
# Servers send these when nobody configured a charset; they say nothing about the page.
_WEAK_HEADER = {"iso8859-1", "latin-1", "ascii"}
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs"}
_TRACKING = re.compile(r"^(utm_\w+|spm|from|share|share_token|wxshare_count|fbclid|gclid)$", re.I)


class PageError(Exception):
    """A page that holds no article text."""


@dataclass(frozen=True, slots=True)
class Article:
    """What an article page is reduced to."""

    url: str  # as fetched (after redirects)
    canonical_url: str
    title: str | None
    published_at: datetime | None
    text: str

    @property
    def doc_id(self) -> str:
        """Stable across refetches and edits: derived from the canonical URL only."""
        return doc_id_for(self.canonical_url)

    @property
    def content_hash(self) -> str:
        """Changes when the article is edited (title, date or text)."""
        stamp = self.published_at.isoformat() if self.published_at else ""
        return hashlib.sha256(f"{self.title or ''}\n{stamp}\n{self.text}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Item:
    """An article link found on a feed or list page."""

    url: str
    title: str | None = None
    published_at: datetime | None = None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def decode_page(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """The page as text and the codec used (see the module docstring for the order)."""
    header = _HEADER_CHARSET.search(content_type or "")
    header_codec = _codec(header.group(1)) if header else None
    if header_codec in _WEAK_HEADER:
        header_codec = None
    bom = next((c for b, c in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                               (codecs.BOM_UTF16_BE, "utf-16")) if body.startswith(b)), None)
    head = body[:4096]
    declared = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    meta_codec = _codec(declared.group(1).decode("ascii")) if declared else None
    for candidate in (_codec(override), bom, header_codec, meta_codec):
        if candidate:
            try:
                return body.decode(candidate), candidate
            except UnicodeDecodeError:
                continue
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        name = _codec(best.encoding) or best.encoding
        try:
            return body.decode(name), name
        except UnicodeDecodeError:
            return str(best), best.encoding
    return body.decode("utf-8", "replace"), "utf-8"


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, tracking parameters removed,
    the remaining query sorted; ``/`` for an empty path."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def _tree(text: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.fromstring(text)
    except (ValueError, lxml.etree.ParserError):
        return None


def canonical_url(text: str, url: str) -> str:
    """``<link rel=canonical>`` when it points to the same host, else ``url``; normalized."""
    tree = _tree(text)
    if tree is not None:
        for href in tree.xpath('//link[translate(@rel, "CANONICAL", "canonical")="canonical"]/@href'):
            candidate = urljoin(url, str(href).strip())
            if urlsplit(candidate).hostname == urlsplit(url).hostname:
                return normalize_url(candidate)
    return normalize_url(url)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if not 1970 <= parsed.year <= 2100:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def extract_article(text: str, url: str, fallback: Item | None = None) -> Article:
    """Main text, title and date of an article page (``fallback``: what the feed said)."""
    doc = trafilatura.bare_extraction(text, url=url, with_metadata=True, include_comments=False,
                                      include_tables=True, deduplicate=False)
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not body:
        raise PageError(f"{url}: no article text found")
    title = (getattr(doc, "title", None) or "").strip() or (fallback.title if fallback else None)
    published = fallback.published_at if fallback and fallback.published_at else None
    if published is None:
        published = _date(htmldate.find_date(text, url=url, original_date=True, extensive_search=True))
    return Article(url, canonical_url(text, url), title, published, body)


def feed_items(body: bytes, url: str, content_type: str | None = None, override: str | None = None) -> list[Item]:
    """The entries of an RSS/Atom feed, links made absolute, in feed order."""
    headers = {"content-type": content_type or "application/xml"}
    if override:
        text, _ = decode_page(body, content_type, override)
        parsed = feedparser.parse(text)
    else:
        parsed = feedparser.parse(body, response_headers=headers)
    if parsed.bozo and not parsed.entries:
        raise PageError(f"{url}: not a feed ({type(parsed.bozo_exception).__name__})")
    items: list[Item] = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime(*stamp[:6], tzinfo=UTC) if stamp else None
        if published is not None and not 1970 <= published.year <= 2100:
            published = None
        items.append(Item(urljoin(url, link.strip()), (entry.get("title") or "").strip() or None, published))
    return items


def list_links(text: str, url: str, pattern: re.Pattern[str]) -> list[Item]:
    """Links on a list page whose absolute URL matches ``pattern``, once each, in page order."""
    tree = _tree(text)
    if tree is None:
        return []
    seen: set[str] = set()
    items: list[Item] = []
    for anchor in tree.xpath("//a[@href]"):
        link = urljoin(url, str(anchor.get("href")).strip()).split("#", 1)[0]
        if link not in seen and urlsplit(link).scheme in ("http", "https") and pattern.search(link):
            seen.add(link)
            items.append(Item(link, anchor.text_content().strip() or None))
    return items
