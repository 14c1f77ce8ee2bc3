"""The sources file of ``newsetl follow``: a YAML list of feeds, list pages and folders, validated.

```yaml
sources:
  - name: 安康新闻网
    feed: https://www.ankang.gov.cn/rss.xml
    interval: 600          # seconds between polls (default NEWSETL_FOLLOW_INTERVAL_SECONDS)
    region: 陕西省安康市     # the place the site covers: its articles' region when they name none
  - name: 汉阴县政府
    list: https://www.hanyin.gov.cn/xwzx/
    links: '/xwzx/\\d+\\.html$'   # regular expression an article link matches
    encoding: gbk          # only when the site lies about its charset
  - name: inbox
    folder: ./inbox        # files dropped in are produced once
```

Every problem is one line naming the file, the entry and the field (:class:`UserError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import yaml

from streams.errors import UserError

Kind = Literal["feed", "list", "folder"]
_KNOWN = {"name", "feed", "list", "links", "folder", "interval", "encoding", "region"}


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of the sources file."""

    name: str
    kind: Kind
    location: str  # the feed or list URL, or the folder path
    links: re.Pattern[str] | None = None
    interval: float | None = None
    encoding: str | None = None
    region: str | None = None  # RawDocument.source_region of its articles


def _http_url(value: object, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: {field} must be a URL")
    url = urlparse(value.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"{where}: {field} {value!r} is not an http(s) URL")
    return value.strip()


def _entry(raw: object, index: int, base: Path, origin: str) -> Source:
    where = f"{origin}: sources[{index}]"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with name and one of feed, list or folder")
    unknown = sorted(set(map(str, raw)) - _KNOWN)
    if unknown:
        raise UserError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_KNOWN))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{where}: name is missing")
    where = f"{origin}: source {name.strip()!r}"
    kinds = [kind for kind in ("feed", "list", "folder") if kind in raw]
    if len(kinds) != 1:
        raise UserError(f"{where}: give exactly one of feed, list or folder")
    kind: Kind = kinds[0]  # type: ignore[assignment]
    links = None
    if kind == "folder":
        if not isinstance(raw["folder"], str) or not raw["folder"].strip():
            raise UserError(f"{where}: folder must be a path")
        location = str((base / raw["folder"].strip()).resolve())
        if not Path(location).is_dir():
            raise UserError(f"{where}: folder {raw['folder']!r} does not exist")
    else:
        location = _http_url(raw[kind], where, kind)
    if kind == "list":
        if not isinstance(raw.get("links"), str) or not raw["links"]:
            raise UserError(f"{where}: a list page needs links: a regular expression article URLs match")
        try:
            links = re.compile(raw["links"])
        except re.error as exc:
            raise UserError(f"{where}: links is not a valid regular expression: {exc}") from None
    elif "links" in raw:
        raise UserError(f"{where}: links only applies to a list page")
    interval = raw.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0):
        raise UserError(f"{where}: interval must be a positive number of seconds")
    encoding = raw.get("encoding")
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise UserError(f"{where}: unknown encoding {encoding!r}") from None
    region = raw.get("region")
    if region is not None and (not isinstance(region, str) or not region.strip() or len(region.strip()) > 100):
        raise UserError(f"{where}: region must be a place name such as 甘肃省定西市")
    return Source(name.strip(), kind, location, links, float(interval) if interval else None,
                  str(encoding) if encoding else None, region.strip() if region else None)


def parse_sources(text: str, base: Path, origin: str = "sources") -> list[Source]:
    """The sources in a YAML text (relative folders are taken from ``base``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{origin}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or not data["sources"]:
        raise UserError(f"{origin}: expected a non-empty list `sources:`")
    sources = [_entry(raw, i, base, origin) for i, raw in enumerate(data["sources"])]
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{origin}: source name {twice[0]!r} is used twice")
    return sources


def load_sources(path: Path) -> list[Source]:
    """The sources of a YAML file; one-line :class:`UserError` for anything wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    return parse_sources(text, path.resolve().parent, str(path))
