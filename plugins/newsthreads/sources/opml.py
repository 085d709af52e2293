"""OPML import and export, the subscription list format every feed reader speaks.

Import reads with defusedxml: an OPML file is user input, and stdlib XML parsers expand
entities. Nested outlines (folders) are walked; an outline without ``xmlUrl`` is a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from newsthreads.errors import InputError


@dataclass
class OpmlFeed:
    url: str
    title: str | None = None
    site_url: str | None = None
    category: str | None = None


def read_opml(data: bytes, where: str = "OPML") -> list[OpmlFeed]:
    """The feeds listed in an OPML document, in document order, without repeats."""
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise InputError(where, f"refused: {exc} (entity declarations are not allowed)") from exc
    except SafeET.ParseError as exc:
        raise InputError(where, f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise InputError(where, f"root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise InputError(where, "no <body> element")
    found: list[OpmlFeed] = []
    seen: set[str] = set()

    def walk(node: Element, folder: str | None) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = (outline.get("title") or outline.get("text") or "").strip() or None
            if url:
                if url not in seen:
                    seen.add(url)
                    found.append(OpmlFeed(url, title, outline.get("htmlUrl") or None, folder))
            else:
                walk(outline, title or folder)

    walk(body, None)
    return found


def write_opml(feeds: list[OpmlFeed], title: str = "newsthreads feeds") -> bytes:
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = datetime.now(UTC).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    body = SubElement(root, "body")
    folders: dict[str | None, Element] = {None: body}
    for feed in feeds:
        parent = folders.get(feed.category)
        if parent is None:
            parent = folders[feed.category] = SubElement(
                body, "outline", text=feed.category or "", title=feed.category or "")
        attrs = {"type": "rss", "text": feed.title or feed.url, "title": feed.title or feed.url,
                 "xmlUrl": feed.url}
        if feed.site_url:
            attrs["htmlUrl"] = feed.site_url
        SubElement(parent, "outline", attrs)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="utf-8",
                                                                  xml_declaration=False) + b"\n"
