"""Find a site's feeds from its HTML page (``<link rel="alternate" type="application/rss+xml">``).

Users paste a site's address more often than its feed's; every feed reader accepts both.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rdf",
    "text/xml": "xml",
    "application/xml": "xml",
}


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str, str | None]] = []  # href, type, title

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        if tag != "link":
            return
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES and a.get("href"):
            self.links.append((a["href"].strip(), kind, a.get("title") or None))


def looks_like_html(body: bytes, content_type: str = "") -> bool:
    if "html" in content_type.lower() and "xhtml+xml" not in content_type.lower():
        return True
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def discover_feeds(html: bytes | str, page_url: str) -> list[dict[str, str | None]]:
    """Feed links announced by an HTML page, absolute, in page order, without repeats."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    finder = _LinkFinder()
    try:
        finder.feed(html[:2_000_000])
        finder.close()
    except Exception:  # noqa: BLE001 - a broken page still yields the links read so far
        pass
    base = urljoin(page_url, finder.base) if finder.base else page_url
    seen: set[str] = set()
    found: list[dict[str, str | None]] = []
    for href, kind, title in finder.links:
        url = urljoin(base, href)
        if url not in seen:
            seen.add(url)
            found.append({"url": url, "type": FEED_TYPES[kind], "title": title})
    return found
