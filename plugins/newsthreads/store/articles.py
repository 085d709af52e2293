"""Article upserts on the natural key (source, source_key).

A rerun of the same input changes nothing; an edited input (a new content hash) keeps the
previous text as an ``article_versions`` row and bumps ``version``. Concurrent writers of the
same article are safe: INSERT ... ON CONFLICT DO NOTHING waits for the other writer's commit,
and the hash comparison that decides between 'unchanged' and 'updated' is made on the row
locked FOR UPDATE (in id order, so two batches cannot deadlock on their updates), so two runs
storing the same edit write one version, not two.

PostgreSQL's text and jsonb cannot hold U+0000: it is removed from every value on the way in
(here, the one door to the table, so no source can forget it), never a reason to lose a row.

Two paths with the same outcome: ``upsert_articles`` stages a batch with COPY and resolves it
in four set-based statements (the fast path, within reach of a raw COPY); ``upsert_article``
does one row, and the pipeline falls back to it, row by row in savepoints, when a batch is
refused, so one bad row costs only itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from newsthreads.model import Article

Outcome = Literal["new", "updated", "unchanged"]

COLUMNS = (
    "source", "source_key", "url", "canonical_url", "title", "lead", "body", "section",
    "kicker", "subheadings", "captions", "credits", "agency", "authors", "categories",
    "language", "published_at", "published_end", "published_precision", "published_source",
    "published_raw", "published_note", "content_hash", "html", "raw", "last_run_id",
)
_CONTENT = COLUMNS[2:]  # everything but the key
_cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
_INSERT = sql.SQL(
    "INSERT INTO articles ({cols}) VALUES ({vals})"
    " ON CONFLICT (source, source_key) DO NOTHING RETURNING id"
).format(cols=_cols, vals=sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
_UPDATE = sql.SQL(
    "UPDATE articles SET {sets}, version = version + 1, updated_at = now() WHERE id = %s"
).format(sets=sql.SQL(", ").join(
    sql.SQL("{} = %s").format(sql.Identifier(c)) for c in _CONTENT))
_SAVE_VERSION = """
INSERT INTO article_versions (article_id, version, content_hash, title, lead, body, raw, valid_from)
SELECT id, version, content_hash, title, lead, body, raw, updated_at FROM articles WHERE id = %s
"""

# --- the batch path -------------------------------------------------------------------------
_STAGE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS article_stage ON COMMIT DELETE ROWS AS"
    " SELECT 0 AS ord, {cols} FROM articles WITH NO DATA"
).format(cols=_cols)
_COPY = sql.SQL("COPY article_stage (ord, {cols}) FROM STDIN").format(cols=_cols)
_BATCH_INSERT = sql.SQL(
    "INSERT INTO articles ({cols})"
    " SELECT {cols} FROM (SELECT DISTINCT ON (source, source_key) * FROM article_stage"
    "  ORDER BY source, source_key, ord DESC) s"
    " ORDER BY ord"
    " ON CONFLICT (source, source_key) DO NOTHING RETURNING source, source_key"
).format(cols=_cols)
# The rows whose text changed, locked in id order; a row another writer is changing is read
# again once it commits, so an edit that writer already stored is no longer 'changed' here.
_BATCH_LOCK_CHANGED = """
SELECT a.id, a.source, a.source_key
FROM articles a
JOIN (SELECT DISTINCT ON (source, source_key) source, source_key, content_hash
      FROM article_stage ORDER BY source, source_key, ord DESC) s
  ON a.source = s.source AND a.source_key = s.source_key
WHERE a.content_hash <> s.content_hash
ORDER BY a.id
FOR UPDATE OF a
"""
_BATCH_VERSIONS = """
INSERT INTO article_versions (article_id, version, content_hash, title, lead, body, raw, valid_from)
SELECT id, version, content_hash, title, lead, body, raw, updated_at FROM articles
WHERE id = ANY(%s) ORDER BY id
"""
_BATCH_UPDATE = sql.SQL(
    "UPDATE articles a SET {sets}, version = a.version + 1, updated_at = now()"
    " FROM (SELECT DISTINCT ON (source, source_key) * FROM article_stage"
    "  ORDER BY source, source_key, ord DESC) s"
    " WHERE a.source = s.source AND a.source_key = s.source_key AND a.id = ANY(%s)"
).format(sets=sql.SQL(", ").join(
    sql.SQL("{c} = s.{c}").format(c=sql.Identifier(c)) for c in _CONTENT))


def _no_nul(value: Any) -> Any:
    """``value`` with U+0000 removed from every string in it (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    return value


def article_values(article: Article, run_id: int | None) -> tuple:
    """The row for ``COLUMNS``, in order."""
    pub = article.published
    return (
        *map(_no_nul, (
            article.source, article.source_key, article.url, article.canonical_url,
            article.title, article.lead, article.body, article.section, article.kicker,
            article.subheadings, article.captions, article.credits, article.agency,
            article.authors, article.categories, article.language)),
        pub.start if pub else None, pub.end if pub else None,
        pub.precision if pub else None, pub.source if pub else None,
        _no_nul(article.published_raw), _no_nul(article.published_note), article.content_hash,
        _no_nul(article.html), Jsonb(_no_nul(article.raw)), run_id,
    )


def upsert_article(conn: psycopg.Connection, article: Article, run_id: int | None) -> Outcome:
    """Insert or update one article; the caller owns the transaction."""
    values = article_values(article, run_id)
    if conn.execute(_INSERT, values).fetchone() is not None:
        return "new"
    existing = conn.execute(
        "SELECT id, content_hash FROM articles WHERE source = %s AND source_key = %s FOR UPDATE",
        values[:2],
    ).fetchone()
    if existing is None:  # deleted between the two statements: write it afresh
        return upsert_article(conn, article, run_id)
    article_id, old_hash = existing
    if old_hash == article.content_hash:
        return "unchanged"
    conn.execute(_SAVE_VERSION, (article_id,))
    conn.execute(_UPDATE, (*values[2:], article_id))
    return "updated"


def upsert_articles(
    conn: psycopg.Connection, articles: Sequence[Article], run_id: int | None
) -> list[Outcome]:
    """Upsert a batch (COPY to a staging table, then set-based statements); one outcome each.

    When the batch repeats a key, its last occurrence is written and the earlier ones report
    'unchanged'. The caller owns the transaction.
    """
    if not articles:
        return []
    conn.execute(_STAGE)
    conn.execute("TRUNCATE article_stage")
    with conn.cursor().copy(_COPY) as copy:
        for ord_, article in enumerate(articles):
            copy.write_row((ord_, *article_values(article, run_id)))
    new = {(s, k) for s, k in conn.execute(_BATCH_INSERT).fetchall()}
    changed_ids = []
    changed_keys = set()
    for article_id, source, key in conn.execute(_BATCH_LOCK_CHANGED).fetchall():
        changed_ids.append(article_id)
        changed_keys.add((source, key))
    if changed_ids:
        conn.execute(_BATCH_VERSIONS, (changed_ids,))
        conn.execute(_BATCH_UPDATE, (changed_ids,))
    conn.execute("TRUNCATE article_stage")
    keys = [(_no_nul(a.source), _no_nul(a.source_key)) for a in articles]  # as stored
    last = {key: i for i, key in enumerate(keys)}
    outcomes: list[Outcome] = []
    for i, key in enumerate(keys):
        if last[key] != i:
            outcomes.append("unchanged")  # a later copy in this batch is the one written
        elif key in new:
            outcomes.append("new")
        elif key in changed_keys:
            outcomes.append("updated")
        else:
            outcomes.append("unchanged")
    return outcomes


def article_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM articles").fetchone()
    return int(row[0]) if row else 0
