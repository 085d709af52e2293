"""The values that flow between stages: a raw item from a source, a normalised Article."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Precision = Literal["year", "month", "day", "minute", "second"]
DateSource = Literal["feed", "text", "header", "imputed", "fetched"]


@dataclass(frozen=True)
class PublishedDate:
    """A publication date as an interval: [start, end) in UTC, with how precise it is.

    A month date 2019-04 is [2019-04-01, 2019-05-01). ``raw`` keeps what the input said, so a
    wrong parse can be found and replayed later.
    """

    start: datetime
    end: datetime
    precision: Precision
    source: DateSource
    raw: str | None = None


@dataclass
class RawItem:
    """What a source read, before any meaning is given to it.

    ``source`` names where it came from (a directory name, a JSONL ``source``, a feed);
    ``key`` is the item's identity within that source (a file name, a JSONL ``id``, a GUID).
    ``fields`` holds what the format gave (``text``, ``title``, ``published``, ``lang``...).
    """

    source: str
    key: str
    fields: dict[str, Any]
    location: str  # path or URL, for error messages
    kind: str = "file"  # file | jsonl | feed
    line: int | None = None  # line number in a JSONL file
    warnings: list[str] = field(default_factory=list)  # doubts the source had (e.g. encoding)


@dataclass
class Article:
    """One normalised article: what the store writes and the threading reads."""

    source: str
    source_key: str
    body: str
    title: str | None = None
    lead: str | None = None
    section: str | None = None
    kicker: str | None = None
    subheadings: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)
    agency: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    language: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    published: PublishedDate | None = None
    published_raw: str | None = None  # kept even when it could not be read
    published_note: str | None = None  # why a date was dropped or clamped
    content_hash: str = ""
    html: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
