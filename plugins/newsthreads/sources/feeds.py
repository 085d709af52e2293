"""Turn a feed document's bytes into a ``ParsedFeed``: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, RDF, JSON.

XML goes to ``feedparser.parse(bytes, response_headers=...)`` (never its own HTTP), after two
repairs feedparser does not make:

- entity declarations that could expand far beyond the document (billion laughs, quadratic
  blow-up with one long entity used many times) are removed and a warning says so;
- UTF-16/32 without a byte-order mark is recognised and re-encoded as UTF-8.

``bozo`` is a warning, not a failure: the entries feedparser did read are kept. A document with
no feed in it (an HTML page, an empty body, garbage) raises ``InputError`` naming the URL.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import feedparser

from newsthreads.errors import InputError
from newsthreads.sources.discover import discover_feeds, looks_like_html
from newsthreads.sources.entry import Content, FeedEntry, ParsedFeed
from newsthreads.sources.jsonfeed import looks_like_json, parse_json_feed

# An entity may expand the document to at most this many bytes (or 4x its size, if larger).
ENTITY_EXPANSION_CAP = 1_000_000

_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(%\s+)?([\w.:-]+)\s+(SYSTEM|PUBLIC)?\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_ENTITY_ANY = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"^(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.IGNORECASE)
_ENTITY_REF = re.compile(rb"&[^#]")  # a reference to another entity (character refs are safe)
_EMAIL_NAME = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")


def parse_feed(body: bytes, headers: dict[str, str] | None, url: str, *,
               max_bytes: int = 10 * 1024 * 1024) -> ParsedFeed:
    """Parse a feed document; raise InputError when there is no feed in it."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type", "")
    warnings: list[str] = []
    body = _undeclared_compression(body, url, max_bytes, warnings)
    if not body.strip():
        raise InputError(url, "empty document: the server sent no feed")
    if looks_like_json(body, content_type) and not body.lstrip().startswith(b"<"):
        parsed = parse_json_feed(body, url)
        parsed.warnings[:0] = warnings
        return parsed
    body = _bomless_utf16(body, warnings)
    body = _defuse_entities(body, warnings)
    # Without a Content-Type feedparser flags every document; XML rules (declaration, BOM,
    # else UTF-8) are the right default for bytes whose type nobody told us.
    fp_headers = {"content-location": url, "content-type": content_type or "application/xml"}
    if "content-language" in headers:
        fp_headers["content-language"] = headers["content-language"]
    result = feedparser.parse(body, response_headers=fp_headers)
    entries = result.get("entries") or []
    version = result.get("version") or ""
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        reason = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
        if not entries and not version:
            _not_a_feed(body, content_type, url, reason, result)
        warnings.append(f"malformed feed, kept the {len(entries)} entries read ({reason})")
    elif not version and not entries:
        if looks_like_html(body, content_type):
            raise InputError(url, _html_reason(body, url))
        warnings.append("well-formed XML without a known RSS, Atom or RDF root: no entries")
    feed = result.get("feed") or {}
    parsed = ParsedFeed(
        format=version or "unknown",
        title=_clean(feed.get("title")),
        link=_clean(feed.get("link")),
        language=_clean(feed.get("language")),
        warnings=warnings,
    )
    parsed.entries = [_entry(e, i) for i, e in enumerate(entries)]
    return parsed


def _not_a_feed(body: bytes, content_type: str, url: str, reason: str, result: Any) -> None:
    """Raise unless feedparser still found a channel (a bare or CDF channel with no items)."""
    if looks_like_html(body, content_type):
        raise InputError(url, _html_reason(body, url))
    feed = result.get("feed") or {}
    if not (feed.get("title") or feed.get("link") or feed.get("id")):
        raise InputError(url, f"not a feed: {reason}")


def _undeclared_compression(body: bytes, url: str, cap: int, warnings: list[str]) -> bytes:
    """A gzip file served without Content-Encoding (a .xml.gz served raw): unpack it, capped."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        data = d.decompress(body, cap + 1)
    except zlib.error as exc:
        raise InputError(url, f"gzip data without Content-Encoding, and corrupt: {exc}") from exc
    if len(data) > cap:
        raise InputError(url, f"gzip data expands beyond the cap of {cap:,} bytes")
    warnings.append("body was gzip-compressed without a Content-Encoding header; unpacked")
    return data


def _html_reason(body: bytes, url: str) -> str:
    found = discover_feeds(body, url)
    if found:
        return ("got an HTML page, not a feed; it announces "
                + ", ".join(str(f["url"]) for f in found[:5]))
    return "got an HTML page, not a feed, and it announces no feed"


def _bomless_utf16(body: bytes, warnings: list[str]) -> bytes:
    """UTF-16/32 without a BOM: expat and feedparser read it as UTF-8 and fail."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return body
    codec = None
    if body[:4] == b"<\x00\x00\x00":
        codec = "utf-32-le"
    elif body[:4] == b"\x00\x00\x00<":
        codec = "utf-32-be"
    elif body[:2] == b"<\x00" and body[3:4] == b"\x00":
        codec = "utf-16-le"
    elif body[:2] == b"\x00<" and body[2:3] == b"\x00":
        codec = "utf-16-be"
    if codec is None:
        return body
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return body
    warnings.append(f"document is {codec.upper()} without a byte-order mark; re-encoded as UTF-8")
    data = text.encode("utf-8")
    return _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", data, count=1)


def _defuse_entities(body: bytes, warnings: list[str]) -> bytes:
    """Remove entity declarations when their expansion could dwarf the document.

    feedparser already drops declarations whose value refers to other entities (billion
    laughs), but keeps a long plain one, and a document that uses it a million times expands
    quadratically. External entities are never fetched either way.
    """
    start = body.find(b"<!ENTITY")
    if start < 0:
        start = body.lower().find(b"<!entity")
        if start < 0:
            return body
    root = re.search(rb"<[A-Za-z_]", body[start:])
    head_end = start + root.start() if root else len(body)
    head = body[:head_end]
    decls = _ENTITY_DECL.findall(head)
    total = 0
    risky = False
    for parameter, name, external, value in decls:
        if parameter or external or _ENTITY_REF.search(value) or b"%" in value:
            risky = True
            break
        uses = body.count(b"&" + name + b";", head_end)
        total += uses * (len(value) - 2)
    cap = max(ENTITY_EXPANSION_CAP, 4 * len(body))
    if not risky and total <= cap and len(decls) == len(_ENTITY_ANY.findall(head)):
        return body
    why = ("nested, parameter or external entities" if risky
           else f"entities would expand to {total:,} bytes")
    warnings.append(f"XML entity declarations removed ({why}): possible entity expansion attack")
    return _ENTITY_ANY.sub(b"", head) + body[head_end:]


def _clean(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


# feedparser's dicts compute aliases on every key lookup; the plain dict lookups below read the
# keys it stores (a third of the per-entry cost otherwise). ``enclosures`` is such an alias.
_get = dict.get


def _content(detail: Any) -> Content | None:
    if not detail:
        return None
    value = _clean(_get(detail, "value"))
    if value is None:
        return None
    kind = (_get(detail, "type") or "text/html").lower()
    return Content(value, "html" in kind)


def _author(person: Any) -> str | None:
    if not isinstance(person, dict):
        return None
    name = _clean(_get(person, "name"))
    if name:
        m = _EMAIL_NAME.match(name)
        return m.group(1).strip() if m else name
    return _clean(_get(person, "email"))


def _entry(e: Any, position: int) -> FeedEntry:
    contents = _get(e, "content") or []
    content = None
    for detail in contents:  # prefer HTML: it keeps paragraphs
        c = _content(detail)
        if c and (content is None or (c.is_html and not content.is_html)):
            content = c
    authors: list[str] = []
    for person in _get(e, "authors") or []:
        name = _author(person)
        if name and name not in authors:
            authors.append(name)
    categories: list[str] = []
    for tag in _get(e, "tags") or []:
        term = _clean(_get(tag, "term")) or _clean(_get(tag, "label"))
        if term and term not in categories:
            categories.append(term)
    enclosures = [
        {"url": _get(link, "href"), "type": _get(link, "type"), "length": _get(link, "length")}
        for link in _get(e, "links") or []
        if _get(link, "rel") == "enclosure" and _get(link, "href")
    ]
    for media in _get(e, "media_content") or []:
        if _get(media, "url"):
            enclosures.append({"url": _get(media, "url"), "type": _get(media, "type"),
                               "medium": _get(media, "medium")})
    thumbs = _get(e, "media_thumbnail") or []
    image = _get(thumbs[0], "url") if thumbs and isinstance(thumbs[0], dict) else None
    detail = contents[0] if contents else (_get(e, "summary_detail") or {})
    title = _get(e, "title")
    return FeedEntry(
        guid=_clean(_get(e, "id")),
        link=_clean(_get(e, "link")),
        title=_content(_get(e, "title_detail")) or (
            Content(title.strip(), False) if _clean(title) else None),
        summary=_content(_get(e, "summary_detail")),
        content=content,
        published_raw=_clean(_get(e, "published")) or _clean(_get(e, "created")),
        updated_raw=_clean(_get(e, "updated")),
        published_parsed=_get(e, "published_parsed") or _get(e, "created_parsed"),
        updated_parsed=_get(e, "updated_parsed"),
        authors=authors,
        categories=categories,
        language=_clean(_get(detail, "language")) if isinstance(detail, dict) else None,
        enclosures=enclosures,
        image=_clean(image),
        comments=_clean(_get(e, "comments")),
        position=position,
    )
