"""The format-neutral shape of a parsed feed and its entries (RSS, Atom, RDF and JSON Feed alike).

The parsers fill these; identity and normalisation read them and never look at the format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Content:
    """A piece of entry text as the feed gave it; ``is_html`` says whether it is markup."""

    value: str
    is_html: bool = True


@dataclass
class FeedEntry:
    guid: str | None = None
    link: str | None = None
    title: Content | None = None
    summary: Content | None = None
    content: Content | None = None
    published_raw: str | None = None
    updated_raw: str | None = None
    # feedparser's own reading of the dates (naive UTC); only a checked fallback.
    published_parsed: time.struct_time | None = None
    updated_parsed: time.struct_time | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    language: str | None = None
    enclosures: list[dict[str, Any]] = field(default_factory=list)
    image: str | None = None
    comments: str | None = None
    position: int = 0  # index in the document, for error messages


@dataclass
class ParsedFeed:
    format: str  # rss20, atom10, rdf, json1.1 ... as feedparser names them
    title: str | None = None
    link: str | None = None  # the site's home page
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
