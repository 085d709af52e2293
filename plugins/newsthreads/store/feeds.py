"""The feed registry (``feeds``): add, list, remove, claim due feeds, record each poll's outcome.

Claims use ``FOR UPDATE SKIP LOCKED`` and a lease, so the CLI and a scheduled DAG run at the
same time never fetch the same feed twice; a crashed run's lease simply expires.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


@dataclass
class FeedRow:
    id: int
    url: str
    source: str
    added_url: str
    title: str | None
    site_url: str | None
    full_text: bool
    poll_seconds: int
    etag: str | None
    last_modified: str | None
    id_strategy: str
    id_strategy_note: str | None
    next_fetch_at: datetime
    lease_until: datetime | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_http_status: int | None
    last_error: str | None
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


_NAMES = [f.name for f in fields(FeedRow)]
_COLS = ", ".join(_NAMES)


def _row(row: dict[str, Any] | None) -> FeedRow | None:
    return FeedRow(**{k: row[k] for k in _NAMES}) if row else None


def add_feed(
    conn: psycopg.Connection,
    url: str,
    *,
    source: str,
    added_url: str | None = None,
    title: str | None = None,
    site_url: str | None = None,
    full_text: bool = False,
    poll_seconds: int | None = None,
) -> tuple[FeedRow, bool]:
    """Register a feed, or revive the one already there; (feed, created). Commits.

    The same URL again re-enables a retired feed and makes it due now. The same ``source``
    with a new URL moves that feed (its articles keep their source).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLS} FROM feeds WHERE url = %s OR source = %s ORDER BY url = %s DESC"
            " LIMIT 1 FOR UPDATE", (url, source, url))
        existing = cur.fetchone()
        if existing:
            cur.execute(
                "UPDATE feeds SET url = %s, title = coalesce(title, %s),"
                " site_url = coalesce(site_url, %s), full_text = full_text OR %s,"
                " poll_seconds = coalesce(%s, poll_seconds),"
                " disabled_at = NULL, disabled_reason = NULL, next_fetch_at = now(),"
                " lease_until = NULL, updated_at = now()"
                f" WHERE id = %s RETURNING {_COLS}",
                (url, title, site_url, full_text, poll_seconds, existing["id"]))
            created = False
        else:
            cur.execute(
                "INSERT INTO feeds (url, source, added_url, title, site_url, full_text,"
                " poll_seconds) VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, 900))"
                f" RETURNING {_COLS}",
                (url, source, added_url or url, title, site_url, full_text, poll_seconds))
            created = True
        row = _row(cur.fetchone())
    conn.commit()
    assert row is not None
    return row, created


def get_feed(conn: psycopg.Connection, ref: int | str) -> FeedRow | None:
    """A feed by id, URL or source name."""
    with conn.cursor(row_factory=dict_row) as cur:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            cur.execute(f"SELECT {_COLS} FROM feeds WHERE id = %s", (int(ref),))
        else:
            cur.execute(f"SELECT {_COLS} FROM feeds WHERE url = %s OR source = %s LIMIT 1",
                        (ref, ref))
        return _row(cur.fetchone())


def remove_feed(conn: psycopg.Connection, feed_id: int) -> bool:
    """Forget a feed; its articles stay (they are the archive). Commits."""
    cur = conn.execute("DELETE FROM feeds WHERE id = %s", (feed_id,))
    conn.commit()
    return cur.rowcount > 0


def list_feeds(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every feed with its state and article count, for ``feeds list`` and the export."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {', '.join('f.' + n for n in _NAMES)},"
            " (SELECT count(*) FROM articles a WHERE a.source = f.source) AS articles"
            " FROM feeds f ORDER BY f.id")
        return list(cur.fetchall())


def claim_feeds(
    conn: psycopg.Connection,
    *,
    now: datetime,
    lease_seconds: int,
    ids: list[int] | None = None,
    limit: int = 1000,
) -> list[FeedRow]:
    """Lease the feeds to poll now: the due ones, or exactly ``ids`` (due or not). Commits.

    A feed leased by another run is skipped; a retired feed is only polled when named.
    """
    if ids is not None:
        where = "id = ANY(%(ids)s)"
    else:
        where = "disabled_at IS NULL AND next_fetch_at <= %(now)s"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"UPDATE feeds SET lease_until = %(now)s + make_interval(secs => %(lease)s)"
            f" WHERE id IN (SELECT id FROM feeds WHERE {where}"
            "   AND (lease_until IS NULL OR lease_until < %(now)s)"
            "   ORDER BY next_fetch_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_COLS}",
            {"now": now, "lease": lease_seconds, "ids": ids, "limit": limit})
        rows = [_row(r) for r in cur.fetchall()]
    conn.commit()
    return sorted((r for r in rows if r), key=lambda r: r.id)


def save_poll(
    conn: psycopg.Connection,
    feed_id: int,
    *,
    fetched_at: datetime,
    status: str,
    next_fetch_at: datetime,
    http_status: int | None = None,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    url: str | None = None,
    title: str | None = None,
    site_url: str | None = None,
    id_strategy: str | None = None,
    id_strategy_note: str | None = None,
    retire_reason: str | None = None,
) -> None:
    """Record one poll's outcome and release the lease; the caller commits.

    ``status`` is ok | not_modified | failed | gone. Success resets the failure count (and
    revives a feed retired earlier); failure increments it and keeps the validators.
    """
    failed = status in ("failed", "gone")
    conn.execute(
        "UPDATE feeds SET"
        " last_fetch_at = %(at)s, last_status = %(status)s, last_http_status = %(http)s,"
        " next_fetch_at = %(next)s, lease_until = NULL, updated_at = now(),"
        " last_error = CASE WHEN %(failed)s THEN %(error)s ELSE NULL END,"
        " consecutive_failures = CASE WHEN %(failed)s THEN consecutive_failures + 1 ELSE 0 END,"
        " last_success_at = CASE WHEN %(failed)s THEN last_success_at ELSE %(at)s END,"
        " etag = CASE WHEN %(failed)s THEN etag WHEN %(status)s = 'ok' THEN %(etag)s"
        "             ELSE coalesce(%(etag)s, etag) END,"
        " last_modified = CASE WHEN %(failed)s THEN last_modified"
        "             WHEN %(status)s = 'ok' THEN %(lm)s ELSE coalesce(%(lm)s, last_modified) END,"
        " url = coalesce(%(url)s, url),"
        " title = coalesce(title, %(title)s), site_url = coalesce(site_url, %(site)s),"
        " id_strategy = coalesce(%(strategy)s, id_strategy),"
        " id_strategy_note = coalesce(%(strategy_note)s, id_strategy_note),"
        " disabled_at = CASE WHEN %(retire)s::text IS NOT NULL THEN %(at)s"
        "             WHEN %(failed)s THEN disabled_at ELSE NULL END,"
        " disabled_reason = CASE WHEN %(retire)s::text IS NOT NULL THEN %(retire)s"
        "             WHEN %(failed)s THEN disabled_reason ELSE NULL END"
        " WHERE id = %(id)s",
        {"at": fetched_at, "status": status, "http": http_status, "next": next_fetch_at,
         "failed": failed, "error": error, "etag": etag, "lm": last_modified, "url": url,
         "title": title, "site": site_url, "strategy": id_strategy,
         "strategy_note": id_strategy_note, "retire": retire_reason, "id": feed_id},
    )


def url_taken(conn: psycopg.Connection, url: str, feed_id: int) -> bool:
    """Whether another feed already polls ``url`` (a redirect must not merge two feeds)."""
    row = conn.execute("SELECT 1 FROM feeds WHERE url = %s AND id <> %s", (url, feed_id))
    return row.fetchone() is not None


@dataclass
class KnownEntries:
    by_key: dict[str, str]  # source_key -> entry_hash (raw->>'entry_hash'), '' if unknown
    by_url: dict[str, tuple[str, str | None]]  # canonical_url -> (source_key, title)


def lookup_entries(
    conn: psycopg.Connection, source: str, keys: list[str], urls: list[str]
) -> KnownEntries:
    """What the store already holds of one fetch's entries, in two indexed queries."""
    by_key: dict[str, str] = {}
    by_url: dict[str, tuple[str, str | None]] = {}
    if keys:
        for key, entry_hash in conn.execute(
            "SELECT source_key, coalesce(raw->>'entry_hash', '') FROM articles"
            " WHERE source = %s AND source_key = ANY(%s)", (source, keys)):
            by_key[key] = entry_hash
    missing_urls = [u for u in urls if u]
    if missing_urls:
        for key, url, title in conn.execute(
            "SELECT source_key, canonical_url, title FROM articles"
            " WHERE source = %s AND canonical_url = ANY(%s) ORDER BY id", (source, missing_urls)):
            by_url.setdefault(url, (key, title))
    return KnownEntries(by_key, by_url)
