"""Reads behind the Story threads pages: thread list, one thread, full-text search.

Every statement is parameterised and bounded (a page size, a statement timeout), because these
run inside Airflow's API server on behalf of whoever is logged in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import psycopg
from psycopg.rows import class_row

from newsthreads.errors import DatabaseError
from newsthreads.store.connection import mask_dsn

T = TypeVar("T")

MAX_PER_PAGE = 100
# ts_headline marks matches with these; the UI escapes the text, then turns them into <mark>.
MATCH_START = "\x02"
MATCH_STOP = "\x03"


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: int
    label: str
    first_published: datetime | None
    last_published_end: datetime | None
    article_count: int
    source_count: int
    duplicate_count: int
    languages: list[str] | None


@dataclass(frozen=True)
class ThreadArticle:
    article_id: int
    title: str | None
    lead: str | None
    source: str
    source_key: str
    language: str | None
    published_at: datetime | None
    published_end: datetime | None
    published_precision: str | None
    published_source: str | None
    agency: str | None
    url: str | None
    is_duplicate: bool
    duplicate_of_article_id: int | None
    duplicate_of_key: str | None
    duplicate_of_title: str | None
    score: float | None


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    title: str | None
    source: str
    source_key: str
    language: str | None
    published_at: datetime | None
    published_end: datetime | None
    published_precision: str | None
    published_source: str | None
    thread_id: int | None
    thread_label: str | None
    rank: float
    snippet: str  # plain text with MATCH_START/MATCH_STOP around matches


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results; ``has_next`` comes from fetching one row more than shown."""

    items: list[T]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _bounds(page: int, per_page: int) -> tuple[int, int, int]:
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    return page, per_page, (page - 1) * per_page


def _page(rows: list[T], page: int, per_page: int) -> Page[T]:
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)


def connect_reader(dsn: str, *, connect_timeout_s: int = 5,
                   statement_timeout_ms: int = 5000) -> psycopg.Connection:
    """A read-only session with a statement timeout, for one page view.

    One quick attempt, unlike ``connection.connect`` which retries for a pipeline run's sake:
    a person waiting on a page should be told at once that the database is down.
    """
    try:
        conn = psycopg.connect(dsn, connect_timeout=connect_timeout_s,
                               application_name="newsthreads-ui")
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"cannot connect to {mask_dsn(dsn)}: {mask_dsn(reason)}") from exc
    conn.read_only = True
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(statement_timeout_ms),))
    return conn


_THREAD_COLUMNS = (
    "thread_id, label, first_published, last_published_end, article_count, source_count,"
    " duplicate_count, languages"
)


# One page of threads, newest first, from the ``newest_story_threads`` view (migration 006):
# it reads the page from an index and aggregates only those threads, where ordering
# ``story_threads`` aggregates the whole archive for every page.
NEWEST_THREADS_SQL = (f"SELECT {_THREAD_COLUMNS} FROM newest_story_threads"
                      " LIMIT %(limit)s OFFSET %(offset)s")


def list_threads(conn: psycopg.Connection, *, page: int = 1,
                 per_page: int = 25) -> Page[ThreadSummary]:
    """Threads whose newest article is newest first (ties: newer thread first)."""
    page, per_page, offset = _bounds(page, per_page)
    with conn.cursor(row_factory=class_row(ThreadSummary)) as cur:
        cur.execute(NEWEST_THREADS_SQL, {"limit": per_page + 1, "offset": offset})
        return _page(cur.fetchall(), page, per_page)


def get_thread(conn: psycopg.Connection, thread_id: int) -> ThreadSummary | None:
    with conn.cursor(row_factory=class_row(ThreadSummary)) as cur:
        cur.execute(f"SELECT {_THREAD_COLUMNS} FROM story_threads WHERE thread_id = %s",
                    (thread_id,))
        return cur.fetchone()


def thread_articles(conn: psycopg.Connection, thread_id: int, *, page: int = 1,
                    per_page: int = 100) -> Page[ThreadArticle]:
    """A thread's articles in publication order (undated last), with what each duplicates."""
    page, per_page, offset = _bounds(page, per_page)
    with conn.cursor(row_factory=class_row(ThreadArticle)) as cur:
        cur.execute(
            "SELECT v.article_id, v.title, a.lead, v.source, v.source_key, v.language,"
            " v.published_at, v.published_end, v.published_precision, v.published_source,"
            " v.agency, v.url, v.is_duplicate, v.duplicate_of_article_id, v.duplicate_of_key,"
            " d.title AS duplicate_of_title, v.score"
            " FROM thread_articles_v v"
            " JOIN articles a ON a.id = v.article_id"
            " LEFT JOIN articles d ON d.id = v.duplicate_of_article_id"
            " WHERE v.thread_id = %s"
            " ORDER BY v.published_at NULLS LAST, v.article_id"
            " LIMIT %s OFFSET %s",
            (thread_id, per_page + 1, offset),
        )
        return _page(cur.fetchall(), page, per_page)


# The query is parsed once per text search configuration in pg_catalog and OR-ed, a constant
# the GIN index on articles.search can use; each candidate is then re-checked with its own
# language's configuration (news_ts_config), so stemming stays per language.
_SEARCH_SQL = """
WITH any_lang AS (
    SELECT string_agg('(' || tq::text || ')', ' | ')::tsquery AS q
    FROM (SELECT websearch_to_tsquery(c.oid::regconfig, %(q)s) AS tq
          FROM pg_ts_config c
          WHERE c.cfgnamespace = 'pg_catalog'::regnamespace) parsed
    WHERE numnode(tq) > 0
),
hits AS (
    SELECT a.id, a.title, a.lead, a.body, a.source, a.source_key, a.language,
           a.published_at, a.published_end, a.published_precision, a.published_source,
           own.q AS own_q, ts_rank_cd(a.search, own.q) AS rank
    FROM any_lang, articles a
    CROSS JOIN LATERAL (SELECT websearch_to_tsquery(news_ts_config(a.language), %(q)s) AS q) own
    WHERE a.search @@ any_lang.q AND a.search @@ own.q
    ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id DESC
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT h.id AS article_id, h.title, h.source, h.source_key, h.language, h.published_at,
       h.published_end, h.published_precision, h.published_source,
       ta.thread_id, t.label AS thread_label, h.rank::float8 AS rank,
       ts_headline(news_ts_config(h.language),
                   left(concat_ws(' ', h.lead, h.body), 5000), h.own_q,
                   format('StartSel=%%s, StopSel=%%s, MaxWords=35, MinWords=12, MaxFragments=2',
                          %(start)s::text, %(stop)s::text)) AS snippet
FROM hits h
LEFT JOIN thread_articles ta ON ta.article_id = h.id
LEFT JOIN threads t ON t.id = ta.thread_id
ORDER BY h.rank DESC, h.published_at DESC NULLS LAST, h.id DESC
"""


def search_articles(conn: psycopg.Connection, query: str, *, page: int = 1,
                    per_page: int = 25) -> Page[SearchHit]:
    """Articles matching a web-search style query (words, "phrases", -not, or), best first."""
    page, per_page, offset = _bounds(page, per_page)
    if not query.strip():
        return Page([], page, per_page, False)
    with conn.cursor(row_factory=class_row(SearchHit)) as cur:
        cur.execute(_SEARCH_SQL, {"q": query, "limit": per_page + 1, "offset": offset,
                                  "start": MATCH_START, "stop": MATCH_STOP})
        return _page(cur.fetchall(), page, per_page)
