"""RawItem -> Article: one place where a source's fields get their meaning.

Dates keep their precision and their raw text; an unreadable or insane date never stops the
article: it is stored without a date, the raw value and the reason kept in the row, and a
warning goes to the run log.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from newsthreads.errors import DateError, InputError
from newsthreads.model import Article, PublishedDate, RawItem
from newsthreads.normalise.dates import check_bounds, parse_date
from newsthreads.normalise.language import detect_language
from newsthreads.normalise.seedtext import clean_text, parse_seed_text

# Fields longer than these are cut, with a warning. PostgreSQL's tsvector holds at most 1 MB
# of distinct words across title, lead and body: 1 M characters of varied text overflowed it and
# the article could not be stored at all. These caps keep any text of 1-3 byte letters within it.
MAX_FIELD_CHARS = 300_000  # the body
MAX_CHARS = {"title": 2_000, "lead": 20_000, "body": MAX_FIELD_CHARS}


def content_hash(article: Article) -> str:
    """A stable hash of what a reader sees; a change here means a new version of the article."""
    payload = json.dumps(
        [article.title, article.lead, article.body, article.section, article.kicker,
         article.captions, article.published_raw, article.url],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def resolve_date(
    raw: str | None, *, now: datetime, source: str = "text", on_future: str = "drop"
) -> tuple[PublishedDate | None, str | None]:
    """(date, note): the parsed, sanity-checked date, or None and why it was dropped."""
    if raw is None or not raw.strip():
        return None, None
    try:
        parsed = parse_date(raw, source=source)  # type: ignore[arg-type]
    except DateError as exc:
        return None, f"unreadable date {raw!r}: {exc.reason}"
    return check_bounds(parsed, now=now, on_future=on_future)  # type: ignore[arg-type]


def cut_fields(article: Article) -> None:
    """Cut oversized fields (with a warning): a body past ~300k characters would overflow
    PostgreSQL's 1 MB tsvector limit and the row would be refused."""
    for name, cap in MAX_CHARS.items():
        value = getattr(article, name)
        if value and len(value) > cap:
            setattr(article, name, value[:cap])
            article.warnings.append(f"{name} was {len(value):,} characters; cut to {cap:,}")


def _from_file(item: RawItem) -> Article:
    try:
        parts = parse_seed_text(item.fields["text"])
    except ValueError as exc:
        raise InputError(item.location, str(exc), key=item.key,
                         raw=item.fields["text"].encode()) from exc
    return Article(
        source=item.source, source_key=item.key, body=parts.body, title=parts.title,
        lead=parts.lead, section=parts.section, kicker=parts.kicker,
        subheadings=parts.subheadings, captions=parts.captions, credits=parts.credits,
        authors=parts.authors, agency=parts.agency, published_raw=parts.date_raw,
    )


def _from_jsonl(item: RawItem) -> Article:
    fields = item.fields
    title = clean_text(fields.get("title") or "").strip() or None
    body = clean_text(fields["text"]).strip()
    article = Article(
        source=item.source, source_key=item.key, body=body, title=title,
        url=fields.get("url"), published_raw=fields.get("published"),
        raw={k: v for k, v in fields.items() if k != "text"},
    )
    article.raw["lang"] = fields.get("lang")
    return article


def normalise_item(item: RawItem, *, now: datetime | None = None) -> Article:
    """The Article for one raw item; raises InputError when nothing usable is in it."""
    now = now or datetime.now(UTC)
    if item.kind == "file":
        article = _from_file(item)
    elif item.kind == "jsonl":
        article = _from_jsonl(item)
    else:
        raise InputError(item.location, f"no normaliser for items of kind {item.kind!r}",
                         key=item.key)
    article.warnings.extend(item.warnings)
    cut_fields(article)
    date, note = resolve_date(article.published_raw, now=now)
    article.published = date
    article.published_note = note
    if note:
        article.warnings.append(note)
    text = " ".join(p for p in (article.title, article.lead, article.body) if p)
    article.language = detect_language(text, hint=item.fields.get("lang"))
    article.content_hash = content_hash(article)
    return article
