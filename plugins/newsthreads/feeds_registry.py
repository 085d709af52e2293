"""Adding feeds the way users do: a feed URL, a site's home page, or an OPML file.

``register_feed`` fetches the URL once (same limits and SSRF guard as polling): a feed is added
as is; an HTML page is searched for ``<link rel="alternate">`` and its first feed is added. A
URL that cannot be fetched right now is still added (the poller retries with backoff) and the
note says why, since feeds are often added while a site is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from newsthreads.errors import FetchError, InputError
from newsthreads.sources.discover import discover_feeds, looks_like_html
from newsthreads.sources.feeds import parse_feed
from newsthreads.sources.fetch import FetchLimits, fetch, make_client
from newsthreads.sources.netguard import check_url
from newsthreads.sources.opml import OpmlFeed, read_opml, write_opml
from newsthreads.store import feeds as feed_store


@dataclass
class Registered:
    feed: feed_store.FeedRow
    created: bool
    notes: list[str] = field(default_factory=list)


def default_source(url: str) -> str:
    """A readable, stable source name: host and path, without scheme, www. or query."""
    parts = urlsplit(url)
    host = (parts.hostname or "feed").removeprefix("www.")
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    path = parts.path.rstrip("/")
    return (host + port + path)[:120]


def _unique_source(conn: Any, url: str, wanted: str) -> str:
    source, n = wanted, 1
    while True:
        other = feed_store.get_feed(conn, source)
        if other is None or other.url == url or other.source != source:
            return source
        n += 1
        source = f"{wanted}-{n}"


def register_feed(
    conn: Any,
    url: str,
    *,
    title: str | None = None,
    source: str | None = None,
    full_text: bool = False,
    poll_seconds: int | None = None,
    check: bool = True,
    limits: FetchLimits | None = None,
) -> Registered:
    """Add (or revive) a feed; raise InputError/FetchError when the URL can never be a feed."""
    url = url.strip()
    check_url_shape(url)
    notes: list[str] = []
    feed_url, site_url = url, None
    if check:
        limits = limits or FetchLimits()
        with make_client(limits, max_connections=2) as client:
            try:
                res = fetch(client, url, limits=limits)
                feed_url = res.permanent_url or url
                content_type = res.headers.get("content-type", "")
                if looks_like_html(res.body, content_type):
                    found = discover_feeds(res.body, res.final_url)
                    if not found:
                        raise InputError(url, "an HTML page that announces no feed "
                                              "(no <link rel=\"alternate\"> feed link)")
                    site_url, feed_url = res.final_url, str(found[0]["url"])
                    notes.append(f"found the feed {feed_url} on the page {url}"
                                 + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))
                    title = title or found[0]["title"]
                    check_url(feed_url)
                else:
                    parsed = parse_feed(res.body, res.headers, res.final_url)
                    title = title or parsed.title
                    site_url = parsed.link
                    notes.append(f"{parsed.format} feed with {len(parsed.entries)} entries")
            except FetchError as exc:
                if exc.reason.startswith(("refused", "scheme")):
                    raise
                notes.append(f"could not check it now ({exc.reason}); added, will retry")
    name = _unique_source(conn, feed_url, source or default_source(feed_url))
    feed, created = feed_store.add_feed(
        conn, feed_url, source=name, added_url=url, title=title, site_url=site_url,
        full_text=full_text, poll_seconds=poll_seconds)
    return Registered(feed, created, notes)


def check_url_shape(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(url, "a feed URL must start with http:// or https:// and name a host")


def import_opml(conn: Any, data: bytes, *, where: str = "OPML", check: bool = False,
                limits: FetchLimits | None = None) -> list[tuple[OpmlFeed, Registered | str]]:
    """Register every feed of an OPML file; a bad entry is reported, the others still added."""
    results: list[tuple[OpmlFeed, Registered | str]] = []
    for item in read_opml(data, where):
        try:
            results.append((item, register_feed(conn, item.url, title=item.title,
                                                check=check, limits=limits)))
        except (InputError, FetchError) as exc:
            results.append((item, getattr(exc, "reason", str(exc))))
    return results


def export_opml(conn: Any) -> bytes:
    rows = feed_store.list_feeds(conn)
    return write_opml([OpmlFeed(r["url"], r["title"], r["site_url"]) for r in rows])
