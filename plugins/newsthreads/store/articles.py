"""Article upserts on the natural key (source, source_key).

A rerun of the same input changes nothing; an edited input (a new content hash) keeps the
previous text as an ``article_versions`` row and bumps ``version``. Concurrent writers of the
same article are safe: the INSERT ... ON CONFLICT DO NOTHING waits for the other writer, and
the follow-up row lock decides between 'unchanged' and 'updated'.
"""

from __future__ import annotations

from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from newsthreads.model import Article

Outcome = Literal["new", "updated", "unchanged"]

_COLUMNS = (
    "source", "source_key", "url", "canonical_url", "title", "lead", "body", "section",
    "kicker", "subheadings", "captions", "credits", "agency", "authors", "categories",
    "language", "published_at", "published_end", "published_precision", "published_source",
    "published_raw", "published_note", "content_hash", "html", "raw", "last_run_id",
)
_INSERT = (
    f"INSERT INTO articles ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (source, source_key) DO NOTHING RETURNING id"
)
_UPDATE = (
    "UPDATE articles SET "
    + ", ".join(f"{c} = %s" for c in _COLUMNS[2:])
    + ", version = version + 1, updated_at = now() WHERE id = %s"
)
_SAVE_VERSION = """
INSERT INTO article_versions (article_id, version, content_hash, title, lead, body, raw, valid_from)
SELECT id, version, content_hash, title, lead, body, raw, updated_at FROM articles WHERE id = %s
"""


def _values(article: Article, run_id: int | None) -> tuple:
    pub = article.published
    return (
        article.source, article.source_key, article.url, article.canonical_url, article.title,
        article.lead, article.body, article.section, article.kicker, article.subheadings,
        article.captions, article.credits, article.agency, article.authors, article.categories,
        article.language,
        pub.start if pub else None, pub.end if pub else None,
        pub.precision if pub else None, pub.source if pub else None,
        article.published_raw, article.published_note, article.content_hash, article.html,
        Jsonb(article.raw), run_id,
    )


def upsert_article(conn: psycopg.Connection, article: Article, run_id: int | None) -> Outcome:
    """Insert or update one article; the caller owns the transaction."""
    values = _values(article, run_id)
    row = conn.execute(_INSERT, values).fetchone()
    if row is not None:
        return "new"
    existing = conn.execute(
        "SELECT id, content_hash FROM articles WHERE source = %s AND source_key = %s FOR UPDATE",
        (article.source, article.source_key),
    ).fetchone()
    if existing is None:  # deleted between the two statements: write it afresh
        return upsert_article(conn, article, run_id)
    article_id, old_hash = existing
    if old_hash == article.content_hash:
        return "unchanged"
    conn.execute(_SAVE_VERSION, (article_id,))
    conn.execute(_UPDATE, (*values[2:], article_id))
    return "updated"


def article_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM articles").fetchone()
    return int(row[0]) if row else 0
