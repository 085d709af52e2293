"""The SQL users run: the shipped queries in sql/queries/ and the thread list behind the UI and
`newsthreads threads`, against a real database with threads in it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from conftest import SEEDS
from newsthreads.pipeline import ingest_files
from newsthreads.store.export import list_threads as cli_threads
from newsthreads.store.reads import NEWEST_THREADS_SQL, list_threads
from newsthreads.stories.service import cluster_pending
from test_stories_service import insert, synthetic_articles

QUERIES = Path(__file__).resolve().parent.parent / "sql" / "queries"
VIEW_ORDER = ("SELECT thread_id, label, first_published, last_published_end, article_count,"
              " source_count, duplicate_count, languages FROM story_threads"
              " ORDER BY last_published_end DESC NULLS LAST, thread_id DESC")


@pytest.fixture
def threaded(conn: psycopg.Connection) -> psycopg.Connection:
    ingest_files(conn, [SEEDS])
    insert(conn, synthetic_articles(per_story=4, seed=2))
    cluster_pending(conn)
    return conn


def test_thread_list_pages_equal_the_view(threaded: psycopg.Connection) -> None:
    """The indexed page query lists what ordering the whole `story_threads` view lists."""
    everything = threaded.execute(VIEW_ORDER).fetchall()
    assert len(everything) >= 4
    paged = []
    page = 1
    while True:
        got = list_threads(threaded, page=page, per_page=2)
        paged += [(t.thread_id, t.label, t.first_published, t.last_published_end,
                   t.article_count, t.source_count, t.duplicate_count, t.languages)
                  for t in got.items]
        if not got.has_next:
            break
        page += 1
    assert paged == everything
    assert [r["thread_id"] for r in cli_threads(threaded, limit=3)] == \
        [r[0] for r in everything[:3]]


def test_thread_list_reads_the_index_and_stops_at_the_page(threaded: psycopg.Connection) -> None:
    with threaded.transaction():
        threaded.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in threaded.execute(
            "EXPLAIN " + NEWEST_THREADS_SQL, {"limit": 25, "offset": 0}).fetchall())
    lines = plan.splitlines()
    assert lines[0].startswith("Limit")  # no aggregate of the whole archive first
    driving = next(i for i, line in enumerate(lines) if "threads_newest_idx" in line)
    # Nothing is sorted or aggregated on the way from the index to the limit: a page reads
    # threads in index order. Sorts may only be per thread, inside its own counts (PG 16
    # sorts a thread's few articles for count(DISTINCT source); PG 15 hashes them).
    assert not [line for line in lines[:driving] if "Sort" in line or "Aggregate" in line]
    indent = len(lines[driving]) - len(lines[driving].lstrip())
    assert all(len(line) - len(line.lstrip()) > indent
               for line in lines[driving + 1:] if "Sort" in line)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql (PostgreSQL client) not installed")
@pytest.mark.parametrize("query", sorted(p.name for p in QUERIES.glob("*.sql")))
def test_shipped_queries_run_in_psql(threaded: psycopg.Connection, clean_db: str,
                                     query: str) -> None:
    thread = threaded.execute("SELECT min(id) FROM threads").fetchone()[0]
    out = subprocess.run(
        ["psql", clean_db, "-X", "-v", "ON_ERROR_STOP=1", "-v", f"thread={thread}",
         "-v", "q='Vladivostok'", "-f", str(QUERIES / query)],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "row" in out.stdout  # psql's "(N rows)" footer: the query ran and returned a table
