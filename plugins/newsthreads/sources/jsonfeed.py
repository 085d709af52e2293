"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), which feedparser 6 does not read.

Lenient the way feed readers must be: items that are not objects are skipped with a warning,
a missing ``version`` is a warning when the document still has an ``items`` list, and 1.0's
``author`` and 1.1's ``authors`` are both read.
"""

from __future__ import annotations

import json
from typing import Any

from newsthreads.errors import InputError
from newsthreads.sources.entry import Content, FeedEntry, ParsedFeed

VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(body: bytes, content_type: str = "") -> bool:
    if "json" in content_type.lower():
        return True
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _authors(obj: dict[str, Any]) -> list[str]:
    found: list[str] = []
    people = obj.get("authors")
    if not isinstance(people, list):
        people = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    for person in people:
        name = _text(person.get("name")) if isinstance(person, dict) else None
        if name and name not in found:
            found.append(name)
    return found


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed document; raise InputError when it is not one."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(url, f"JSON Feed is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(url, f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                              f"{exc.msg}") from exc
    if not isinstance(doc, dict):
        raise InputError(url, "JSON document is not an object, so not a JSON Feed")
    items = doc.get("items")
    version = doc.get("version")
    warnings: list[str] = []
    if not isinstance(items, list):
        raise InputError(url, "JSON document has no 'items' list, so not a JSON Feed")
    if not (isinstance(version, str) and version.startswith(VERSION_PREFIX)):
        warnings.append(f"JSON Feed without a known version ({version!r}); read as 1.1")
        fmt = "json"
    else:
        fmt = "json" + version[len(VERSION_PREFIX):].strip("/")
    feed_lang = _text(doc.get("language"))
    parsed = ParsedFeed(
        format=fmt,
        title=_text(doc.get("title")),
        link=_text(doc.get("home_page_url")),
        language=feed_lang,
        warnings=warnings,
    )
    feed_authors = _authors(doc)
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            warnings.append(f"item {position} is not an object; skipped")
            continue
        parsed.entries.append(_entry(item, position, feed_authors))
    return parsed


def _entry(item: dict[str, Any], position: int, feed_authors: list[str]) -> FeedEntry:
    html = _text(item.get("content_html"))
    text = _text(item.get("content_text"))
    content = Content(html, True) if html else (Content(text, False) if text else None)
    summary = _text(item.get("summary"))
    title = _text(item.get("title"))
    enclosures = []
    for att in item.get("attachments") or []:
        if isinstance(att, dict) and _text(att.get("url")):
            enclosures.append({
                "url": _text(att.get("url")),
                "type": _text(att.get("mime_type")),
                "length": att.get("size_in_bytes"),
                "title": _text(att.get("title")),
            })
    tags = [t.strip() for t in item.get("tags") or [] if isinstance(t, str) and t.strip()]
    return FeedEntry(
        guid=_text(item.get("id")),
        link=_text(item.get("url")) or _text(item.get("external_url")),
        title=Content(title, False) if title else None,
        summary=Content(summary, False) if summary else None,
        content=content,
        published_raw=_text(item.get("date_published")),
        updated_raw=_text(item.get("date_modified")),
        authors=_authors(item) or list(feed_authors),
        categories=tags,
        language=_text(item.get("language")),
        enclosures=enclosures,
        image=_text(item.get("image")) or _text(item.get("banner_image")),
        position=position,
    )
