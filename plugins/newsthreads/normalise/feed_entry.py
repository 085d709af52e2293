"""A parsed feed entry -> an ``Article``, through the same date and language rules as the seeds.

- **Text**: the fullest content (``content:encoded``, Atom content, JSON ``content_html``) is the
  body, the summary becomes the lead when it says something else; HTML is converted to clean
  text (``normalise.html``) and the HTML is kept in ``Article.html``.
- **Dates**: ``parse_date`` reads the feed's string; when it cannot, feedparser's own reading
  is used only if it passes the same sanity bounds (and the note says so). A missing or
  unusable date takes the fetch time, marked ``fetched``; a date more than a day ahead is
  clamped to the fetch time and marked. The raw string is always kept.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

from newsthreads.errors import DateError
from newsthreads.model import Article, PublishedDate
from newsthreads.normalise.article import content_hash, cut_fields
from newsthreads.normalise.dates import check_bounds, from_datetime, parse_date
from newsthreads.normalise.html import html_to_text, one_line
from newsthreads.sources.entry import Content, FeedEntry
from newsthreads.sources.identity import canonical_url, entry_hash

AGENCIES = {
    "ntb": "NTB", "afp": "AFP", "reuters": "Reuters", "ap": "AP", "associated press": "AP",
    "anb": "ANB", "tt": "TT", "ritzau": "Ritzau", "dpa": "dpa", "bloomberg": "Bloomberg",
}
_AGENCY_IN_TEXT = re.compile(r"[(©]\s*(?:©\s*)?(NTB|AFP|Reuters|AP|ANB|TT|Ritzau|dpa)\s*\)",
                             re.IGNORECASE)


def _text(content: Content | None) -> tuple[str, list[str]]:
    if content is None:
        return "", []
    if not content.is_html:
        return content.value.strip(), []
    converted = html_to_text(content.value)
    return converted.text, converted.captions


def _agency(authors: list[str], body: str) -> str | None:
    for name in authors:
        hit = AGENCIES.get(name.strip().lower())
        if hit:
            return hit
    m = _AGENCY_IN_TEXT.search(body[-400:]) or _AGENCY_IN_TEXT.search(body[:200])
    if m:
        return AGENCIES.get(m.group(1).lower(), m.group(1))
    return None


def feed_date(entry: FeedEntry, *, fetched_at: datetime, default_tz: str = "Europe/Oslo",
              ) -> tuple[PublishedDate, str | None, str | None]:
    """(date, raw, note) for an entry; always a date: the fetch time when nothing else holds."""
    raw = entry.published_raw or entry.updated_raw
    parsed_struct = entry.published_parsed if entry.published_raw else entry.updated_parsed
    notes: list[str] = []
    date: PublishedDate | None = None
    if raw:
        try:
            date = parse_date(raw, source="feed", default_tz=default_tz)
        except DateError as exc:
            notes.append(f"unreadable date {raw!r}: {exc.reason}")
            if parsed_struct is not None:
                try:
                    when = datetime.fromtimestamp(calendar.timegm(parsed_struct), UTC)
                    date = from_datetime(when, precision="second", source="feed", raw=raw)
                    notes.append("read by feedparser's date parser instead")
                except (OverflowError, ValueError, OSError):
                    date = None
        if date is not None:
            checked, note = check_bounds(date, now=fetched_at, on_future="clamp")
            if note:
                notes.append(note)
            date = checked
    if date is None:
        date = from_datetime(fetched_at.astimezone(UTC), precision="second", source="fetched",
                             tz="UTC", raw=raw)
        notes.append("no usable date in the feed: fetch time used" if raw
                     else "no date in the feed: fetch time used")
    return date, raw, "; ".join(notes) or None


def entry_to_article(
    entry: FeedEntry,
    *,
    source: str,
    key: str,
    fetched_at: datetime,
    feed_url: str,
    feed_language: str | None = None,
    full_text: str | None = None,
) -> Article:
    """The Article for one entry. ``full_text``, when given, is the page's extracted text."""
    from newsthreads.normalise.language import MAX_CHARS, detect_language  # lazy

    title = one_line(_text(entry.title)[0]) or None
    body_src = entry.content or entry.summary
    body, captions = _text(body_src)
    lead = None
    if entry.content and entry.summary:
        summary, _ = _text(entry.summary)
        if summary and summary != body and not body.startswith(summary.rstrip(".… ")):
            lead = summary
    if full_text:
        lead = lead or (body if body != full_text else None)
        body = full_text
    warnings: list[str] = []
    date, raw_date, note = feed_date(entry, fetched_at=fetched_at)
    if note:
        warnings.append(note)
    raw = {
        "feed": feed_url,
        "guid": entry.guid,
        "link": entry.link,
        "published": entry.published_raw,
        "updated": entry.updated_raw,
        "entry_hash": entry_hash(entry),
        "position": entry.position,
    }
    if entry.enclosures:
        raw["enclosures"] = entry.enclosures
    if entry.image:
        raw["image"] = entry.image
    if entry.comments:
        raw["comments"] = entry.comments
    if full_text:
        raw["full_text"] = True
    text = " ".join(p for p in (title, lead, body[:MAX_CHARS]) if p)
    article = Article(
        source=source,
        source_key=key,
        body=body,
        title=title,
        lead=lead,
        captions=captions,
        authors=list(entry.authors),
        categories=list(entry.categories),
        agency=_agency(entry.authors, body),
        language=detect_language(text, hint=entry.language or feed_language),
        url=entry.link,
        canonical_url=canonical_url(entry.link),
        published=date,
        published_raw=raw_date,
        published_note=note,
        html=body_src.value if body_src and body_src.is_html else None,
        raw=raw,
        warnings=warnings,
    )
    cut_fields(article)
    article.content_hash = content_hash(article)
    return article
