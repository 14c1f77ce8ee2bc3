"""A small local news site for the ``follow`` tests, served on loopback (``http.server`` in a thread).

What it serves (``NewsSite.url(path)``):

- ``/feed.xml`` — RSS 2.0 in UTF-8: the articles of :data:`UTF8_FEED` plus a 404, a 500 that
  recovers after two answers, a page slower than any test timeout, a redirect loop, a path
  robots.txt disallows and an over-size page (links carry ``utm_`` tracking parameters);
- ``/gbk/feed.xml`` — RSS declared ``encoding="gbk"`` (no charset in the HTTP header): pages in
  GB2312 (holding GBK-only characters), GB18030 (a four-byte character), Big5, and GBK declared
  nowhere at all;
- ``/list/index.html`` — a list page without a feed, GBK: an article whose date is only in its
  URL, one article reachable under two URLs (``/m/…`` says ``<link rel=canonical>``), a 301 to an
  article, and navigation links that are not articles;
- ``/robots.txt`` disallowing ``/private/``.

Every article page wraps its text in navigation, breadcrumbs, share buttons, related links and a
footer (:data:`BOILERPLATE`); feeds and pages answer conditional GETs (ETag, Last-Modified).
``add_feed_item`` and ``edit`` change the site while it runs; ``hits`` counts requests per path.
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Page:
    """One article page: where it lives, how it is encoded, and what a reader should get from it."""

    key: str
    path: str
    title: str
    paragraphs: tuple[str, ...]
    encoding: str = "utf-8"
    declared: str | None = "utf-8"  # the <meta charset>, None: declared nowhere
    shown_date: str | None = None  # the date line inside the page
    canonical: str | None = None  # path of <link rel=canonical>
    feed_date: datetime | None = None  # pubDate in the feed

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


#: Lines every article page carries around its text; none may reach a document.
BOILERPLATE = (
    "您的位置：首页 > 新闻中心 > 本地新闻",
    "分享到：微信 微博 QQ空间 复制链接",
    "相关新闻",
    "县委书记调研春耕备耕工作",
    "全县召开安全生产专题会议",
    "版权所有：县融媒体中心 主办单位：县人民政府办公室",
    "上一篇：县里召开乡村振兴推进会",
    "下一篇：城区道路改造工程完工",
    "打印本页 关闭窗口",
    "扫一扫在手机打开当前页",
)
NAV = ("首页", "新闻中心", "政务公开", "乡村振兴", "互动交流", "专题专栏")


def _page(key: str, path: str, title: str, paragraphs: list[str], **extra: object) -> Page:
    return Page(key, path, title, tuple(paragraphs), **extra)  # type: ignore[arg-type]


UTF8_FEED = [
    _page(
        "a1",
        "/news/2024/0516/a1.html",
        "汉阴县小额信贷助力脱贫户发展产业",
        [
            "今年以来，汉阴县持续巩固拓展脱贫攻坚成果，全县累计发放脱贫人口小额信贷3.2亿元，惠及脱贫户1.2万户。",
            "各镇围绕茶叶、魔芋和生猪养殖等主导产业，引导脱贫户用好信贷资金，新建茶园5000亩，带动2000余人就近就业。",
            "县乡村振兴局负责人表示，下一步将继续加大金融帮扶力度，确保不发生规模性返贫，让脱贫群众的日子越过越红火。",
        ],
        shown_date="2024-05-16 10:20",
        feed_date=datetime(2024, 5, 16, 2, 20, tzinfo=UTC),
    ),
    _page(
        "a2",
        "/news/2024/0520/a2.html",
        "石泉县举办脱贫劳动力技能培训班",
        [
            "5月20日，石泉县人社局在城关镇举办脱贫劳动力技能培训班，共有120名学员参加为期十天的培训。",
            "培训内容涵盖家政服务、电工和中式烹调等实用技能，学员考核合格后将获得职业技能等级证书。",
            "近三年来，全县累计开展各类技能培训8600人次，帮助3100名脱贫人口实现稳定就业，人均月收入达到3500元。",
        ],
        shown_date="2024-05-20 09:00",
        feed_date=datetime(2024, 5, 20, 1, 0, tzinfo=UTC),
    ),
    _page(
        "a3",
        "/news/2024/0522/a3.html",
        "紫阳县富硒茶产业带动群众增收",
        [
            "紫阳县把富硒茶产业作为乡村振兴的主导产业，全县茶园面积发展到35万亩，茶叶综合产值突破60亿元。",
            "县里引进和培育茶叶加工企业86家，建成标准化茶园示范基地42个，每年带动茶农户均增收8000元以上。",
            "今年春茶季，全县新增茶叶电商网店300余家，线上销售额同比增长25%，茶产业成为群众增收致富的主渠道。",
        ],
        shown_date="2024-05-22 15:30",
        feed_date=datetime(2024, 5, 22, 7, 30, tzinfo=UTC),
    ),
]
# In the feed but not articles a follower can ingest: (path, what the site does).
UTF8_FEED_BROKEN = [
    ("/news/2024/0521/gone.html", "404"),
    ("/news/2024/0523/slow.html", "slow"),
    ("/news/loop1.html", "loop"),
    ("/private/2024/0525/a9.html", "robots"),
    ("/news/2024/0524/big.html", "big"),
]
A4 = _page(
    "a4",
    "/news/2024/0530/a4.html",
    "岚皋县易地搬迁安置点建起社区工厂",
    [
        "岚皋县在易地扶贫搬迁安置点建成社区工厂18家，吸纳搬迁群众就业1300余人，实现了楼上居住、楼下就业。",
        "社区工厂主要从事毛绒玩具、电子元件和服装加工，务工群众月工资在2500元至4000元之间。",
        "县里还为社区工厂提供厂房租金减免和稳岗补贴，今年以来累计发放各类补贴资金460万元。",
    ],
    shown_date="2024-05-30 08:00",
    feed_date=datetime(2024, 5, 30, 0, 0, tzinfo=UTC),
)
A5 = _page(
    "a5",
    "/news/2024/0531/a5.html",
    "白河县电商服务站打通农产品上行通道",
    [
        "白河县建成县级电商公共服务中心1个、镇村电商服务站点106个，实现了电商服务全覆盖。",
        "今年以来，全县通过电商平台销售木耳、茶叶和核桃等农特产品1.2亿元，带动3200户脱贫户增收。",
        "县商务局还开展电商人才培训，累计培训电商从业人员2600人次，培育本土主播80余名。",
    ],
    shown_date="2024-05-31 09:00",
    feed_date=datetime(2024, 5, 31, 1, 0, tzinfo=UTC),
)

GBK_FEED = [
    _page(
        "g1",
        "/gbk/2024/0601/g1.html",
        "旬阳市镕锋村发展拐枣产业",
        [
            "旬阳市镕锋村依托山地资源发展拐枣产业，全村种植拐枣2600亩，带动脱贫户186户户均增收4200元。",
            "村党支部书记喆哥介绍，村里成立了拐枣专业合作社，统一收购、统一加工，产品远销广东、浙江等地。",
            "下一步，村里将建设拐枣深加工车间，延长产业链条，让堃坤两个小组的群众都能在家门口就业。",
        ],
        encoding="gbk",
        declared="gb2312",
        shown_date="2024-06-01 11:00",
        feed_date=datetime(2024, 6, 1, 3, 0, tzinfo=UTC),
    ),
    _page(
        "g2",
        "/gbk/2024/0602/g2.html",
        "白河县木耳基地喜获丰收",
        [
            "白河县在高山地区发展木耳种植，全县建成木耳基地32个，种植木耳1200万袋，年产值达到1.5亿元。",
            "基地采取企业加农户的模式，吸纳周边脱贫群众务工，每人每年可获得务工收入1.8万元。",
            "县农业农村局还组织技术员王𠀾驻点指导，帮助种植户解决菌种选育和病虫害防治等技术难题。",
        ],
        encoding="gb18030",
        declared="gb18030",
        shown_date="2024-06-02 10:00",
    ),
    _page(
        "b1",
        "/gbk/2024/0603/b1.html",
        "平利縣茶飲產業帶動鄉村振興",
        [
            "平利縣以女媧鳳凰茶業為龍頭，發展茶園面積二十萬畝，帶動全縣一萬二千戶茶農增收致富。",
            "縣裡建成茶飲加工廠十二家，開發綠茶、紅茶和絞股藍等系列產品，年銷售收入達到八億元。",
            "當地還把茶園建成旅遊景區，今年以來接待遊客一百二十萬人次，實現旅遊綜合收入六億元。",
        ],
        encoding="big5",
        declared="big5",
        shown_date="2024-06-03 09:30",
    ),
    _page(
        "n1",
        "/gbk/2024/0604/n1.html",
        "镇坪县中药材种植助农增收",
        [
            "镇坪县大力发展黄连、玄参和党参等中药材种植，全县中药材种植面积达到12万亩，产值超过9亿元。",
            "县里引进中药材加工企业6家，与种植大户和合作社签订保底收购协议，让群众种得放心、卖得顺心。",
            "目前，全县有4800户农户从事中药材种植，户均年增收6000元，中药材已成为全县农民增收的支柱产业。",
        ],
        encoding="gbk",
        declared=None,
        shown_date="2024-06-04 16:00",
        feed_date=datetime(2024, 6, 4, 8, 0, tzinfo=UTC),
    ),
]

LIST_PAGES = [
    _page(
        "l1",
        "/list/2024/05/28/l1.html",
        "宁陕县发展林下经济促进增收",
        [
            "宁陕县依托森林资源发展林下经济，全县林下种植天麻、猪苓等中药材4.5万亩，养殖土鸡、蜜蜂等20万只（箱）。",
            "县林业局组织专家开展技术培训，今年已举办培训班36期，培训林农2100人次，带动林农人均增收1500元。",
            "林下经济让绿水青山真正变成了金山银山，成为山区群众增收致富的重要途径。",
        ],
        encoding="gbk",
        declared="gbk",
    ),
    _page(
        "l2",
        "/list/content_7731.html",
        "镇安县板栗产业提质增效",
        [
            "镇安县现有板栗园68万亩，年产板栗3.6万吨，是全国板栗重点产区之一，板栗产业覆盖全县15个镇。",
            "县里实施低产园改造工程，今年改造低产板栗园5万亩，亩均产量提高三成，栗农收入明显增加。",
            "通过引进深加工企业，开发出板栗饮料、栗子糕和即食板栗等产品，带动800名群众在家门口就业。",
        ],
        encoding="gbk",
        declared="gbk",
        shown_date="2024-06-01 14:00",
        canonical="/list/content_7731.html",
    ),
    _page(
        "l3",
        "/list/2024/06/03/l3.html",
        "柞水县木耳小镇带动千户致富",
        [
            "柞水县建成木耳产业园区，年生产菌包2000万袋，带动全县1000余户群众发展木耳产业，户均增收7000元。",
            "园区建成木耳大数据中心和展示馆，开发木耳面条、木耳饮料等深加工产品30多种。",
            "县里还通过直播带货拓宽木耳销路，今年线上销售额突破1亿元，木耳产业成为群众致富的金耳朵。",
        ],
        encoding="gbk",
        declared="gbk",
        shown_date="2024-06-03 08:30",
    ),
]
L2_TWIN = "/m/content_7731.html"  # the same article as l2, under a second URL
L3_REDIRECT = "/go/7733"  # a 301 to l3

ARTICLES = {page.key: page for page in [*UTF8_FEED, A4, A5, *GBK_FEED, *LIST_PAGES]}


def _article_html(page: Page, base: str) -> str:
    canonical = f'<link rel="canonical" href="{base}{page.canonical}">' if page.canonical else ""
    meta = f'<meta charset="{page.declared}">' if page.declared else ""
    nav = "".join(f'<li><a href="/{i}/">{name}</a></li>' for i, name in enumerate(NAV))
    date = (
        f'<div class="info">发布时间：{page.shown_date}　来源：县融媒体中心　字号：大 中 小</div>'
        if page.shown_date
        else ""
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in page.paragraphs)
    (crumb, share, related, r1, r2, footer, prev, nxt, tools, qr) = BOILERPLATE
    return f"""<!DOCTYPE html>
<html><head>{meta}<title>{html.escape(page.title)}_县融媒体中心</title>{canonical}
<meta name="viewport" content="width=device-width"></head>
<body>
<div class="header"><div class="logo">县融媒体中心</div><ul class="nav">{nav}</ul></div>
<div class="crumb">{crumb}</div>
<div class="main"><div class="article">
<h1>{html.escape(page.title)}</h1>
{date}
<div class="content">{body}</div>
<div class="share">{share}</div>
<div class="pager"><a href="/p/1.html">{prev}</a><br><a href="/p/2.html">{nxt}</a></div>
<div class="tools">{tools}</div>
</div>
<div class="side"><h3>{related}</h3><ul><li><a href="/r/1.html">{r1}</a></li><li><a href="/r/2.html">{r2}</a></li></ul></div>
</div>
<div class="qr">{qr}</div>
<div class="footer"><p>{footer}</p><p><a href="/about">关于我们</a> | <a href="/contact">联系方式</a></p></div>
</body></html>"""


def _item(title: str, link: str, when: datetime | None) -> str:
    date = f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>" if when else ""
    return f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>{date}</item>"


@dataclass
class NewsSite:
    """The site's state; ``start()`` serves it on a free loopback port."""

    feed: list[Page] = field(default_factory=lambda: list(UTF8_FEED))
    pages: dict[str, Page] = field(default_factory=lambda: dict(ARTICLES))
    hits: Counter[str] = field(default_factory=Counter)
    recover_after: int = 2  # answers of 500 before /news/2024/0522/a3.html works
    base: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- changes while running ---------------------------------------------------------------
    def add_feed_item(self, page: Page) -> None:
        with self._lock:
            self.feed.append(page)
            self.pages[page.key] = page

    def edit(self, key: str, paragraphs: list[str]) -> Page:
        with self._lock:
            self.pages[key] = replace(self.pages[key], paragraphs=tuple(paragraphs))
            for i, page in enumerate(self.feed):
                if page.key == key:
                    self.feed[i] = self.pages[key]
            return self.pages[key]

    def url(self, path: str) -> str:
        return self.base + path

    # --- serving ---------------------------------------------------------------------------------
    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a GET of ``path`` (query string included)."""
        plain = path.split("?", 1)[0]
        with self._lock:
            self.hits[plain] += 1
            hits = self.hits[plain]
            by_path = {p.path: p for p in self.pages.values()}
            if plain == "/robots.txt":
                return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
            if plain == "/feed.xml":
                items = [
                    _item(p.title, f"{self.base}{p.path}?utm_source=rss&utm_medium=feed", p.feed_date)
                    for p in self.feed
                ]
                items += [_item(f"broken {what}", self.base + bad, None) for bad, what in UTF8_FEED_BROKEN]
                return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, self._rss(items, "utf-8")
            if plain == "/gbk/feed.xml":
                items = [
                    _item(p.title, self.base + p.path, p.feed_date) for p in GBK_FEED if p.encoding != "big5"
                ]
                items.insert(2, _item("平利县茶饮产业带动乡村振兴", self.base + ARTICLES["b1"].path, None))
                return 200, {"Content-Type": "text/xml"}, self._rss(items, "gbk")
            if plain == "/list/index.html":
                return 200, {"Content-Type": "text/html"}, self._list_page()
            if plain == "/news/2024/0521/gone.html":
                return 404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>"
            if plain == "/news/2024/0522/a3.html" and hits <= self.recover_after:
                return 500, {"Content-Type": "text/html"}, b"<html><body>server error</body></html>"
            if plain == "/news/loop1.html":
                return 302, {"Location": "/news/loop2.html"}, b""
            if plain == "/news/loop2.html":
                return 302, {"Location": "/news/loop1.html"}, b""
            if plain == L3_REDIRECT:
                return 301, {"Location": ARTICLES["l3"].path}, b""
            if plain == "/news/2024/0524/big.html":
                return (
                    200,
                    {"Content-Type": "text/html; charset=utf-8"},
                    b"<html><body><p>" + b"x" * 400_000 + b"</p></body></html>",
                )
            if plain == "/private/2024/0525/a9.html":
                return (
                    200,
                    {"Content-Type": "text/html; charset=utf-8"},
                    _article_html(replace(ARTICLES["a1"], key="a9"), self.base).encode(),
                )
            if plain == L2_TWIN:
                page: Page | None = self.pages["l2"]
            else:
                page = by_path.get(plain)
        if plain == "/news/2024/0523/slow.html":
            self._closing.wait(30)  # far slower than any test's timeout
            return 200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>late</body></html>"
        if page is None:
            return 404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>"
        return (
            200,
            {"Content-Type": "text/html"},
            _article_html(page, self.base).encode(page.encoding, "xmlcharrefreplace"),
        )

    def _rss(self, items: list[str], encoding: str) -> bytes:
        xml = (
            f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
            f"<title>县融媒体中心</title><link>{self.base}/</link><description>本地新闻</description>"
            + "".join(items)
            + "</channel></rss>"
        )
        return xml.encode(encoding)

    def _list_page(self) -> bytes:
        links = [f'<li><a href="/{i}/">{name}</a></li>' for i, name in enumerate(NAV)]
        l1, l2, l3 = LIST_PAGES
        links += [
            f'<li><a href="{l1.path}">{l1.title}</a><span>2024-05-28</span></li>',
            f'<li><a href="{l2.path}">{l2.title}</a><span>2024-06-01</span></li>',
            f'<li><a href="{L2_TWIN}">{l2.title}（手机版）</a></li>',
            f'<li><a href="{L3_REDIRECT}">{l3.title}</a><span>2024-06-03</span></li>',
            '<li><a href="/list/index_2.html">下一页</a></li>',
        ]
        return (
            '<html><head><meta charset="gbk"><title>本地新闻</title></head><body><ul>'
            + "".join(links)
            + "</ul></body></html>"
        ).encode("gbk")

    def start(self) -> NewsSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, headers, body = site.respond(self.path)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if status in (200, 304):
                        self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, size limits)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that give up (timeouts, size limits) are part of the tests

        self._server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="news-site", daemon=True).start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
