"""The Story threads app, served in-process against a real PostgreSQL with real rows.

Articles come from the real pipeline (the seed files) and from ``upsert_article``; thread
assignments are written directly, so paging and duplicates are exact and independent of the
threading algorithm. Authentication is replaced by a fixed user here; ``test_ui_auth.py``
exercises the real dependency.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from conftest import SEEDS
from newsthreads.model import Article, PublishedDate
from newsthreads.pipeline import ingest_files
from newsthreads.store.articles import upsert_article
from newsthreads.ui.app import PER_PAGE, create_app
from newsthreads.ui.auth import require_user

FILLERS = PER_PAGE + 5  # one page and a bit of other threads
SUMMIT = "Kim og Putin møttes i Vladivostok"


@dataclass
class Rows:
    summit_id: int
    summit_articles: list[int]
    duplicate_id: int
    original_id: int
    filler_ids: list[int]  # thread ids, oldest first


def _thread(conn: psycopg.Connection, label: str, articles: list[int],
            duplicates: dict[int, int] | None = None) -> int:
    duplicates = duplicates or {}
    (thread_id,) = conn.execute(
        "INSERT INTO threads (label) VALUES (%s) RETURNING id", (label,)).fetchone()
    for article_id in articles:
        conn.execute(
            "INSERT INTO thread_articles (article_id, thread_id, score, duplicate_of)"
            " VALUES (%s, %s, 0.9, %s)", (article_id, thread_id, duplicates.get(article_id)))
    return thread_id


def _english(n: int, title: str, body: str) -> Article:
    start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=n)
    return Article(
        source="wire", source_key=f"wire-{n}", title=title, body=body, language="en",
        url=f"https://example.com/{n}" if n % 2 else "javascript:alert(1)",
        published=PublishedDate(start, start + timedelta(days=1), "day", "feed"),
        content_hash=hashlib.sha256(body.encode()).hexdigest(),
    )


@pytest.fixture
def rows(conn: psycopg.Connection) -> Rows:
    result = ingest_files(conn, [SEEDS], pattern="*.txt")
    assert result.counts.new == 5, result.as_dict()
    seed_ids = [r[0] for r in conn.execute(
        "SELECT id FROM articles WHERE source_key LIKE %s ORDER BY source_key", ("%.txt",))]
    original, duplicate = seed_ids[0], seed_ids[1]
    summit = _thread(conn, SUMMIT, seed_ids, {duplicate: original})
    fillers = []
    for n in range(FILLERS):
        body = (f"Central bankers met for round {n} of talks on interest rates. "
                "The committees were meeting again after the holidays.")
        title = f"Rate talks round {n} <script>alert({n})</script>"
        upsert_article(conn, _english(n, title, body), None)
        (article_id,) = conn.execute(
            "SELECT id FROM articles WHERE source_key = %s", (f"wire-{n}",)).fetchone()
        fillers.append(_thread(conn, f"Rate talks {n}", [article_id]))
    conn.commit()
    return Rows(summit, seed_ids, duplicate, original, fillers)


@pytest.fixture
def app(clean_db: str):
    app = create_app(dsn=clean_db)
    app.dependency_overrides[require_user] = lambda: "tester"
    return app


def get(app, url: str, **kwargs) -> httpx.Response:
    """One request through the ASGI app, mounted as Airflow mounts it."""
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path="/newsthreads")
        async with httpx.AsyncClient(transport=transport, base_url="http://airflow") as client:
            return await client.get(url, **kwargs)

    return asyncio.run(call())


def thread_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-thread-id="(\d+)"', html)]


def test_thread_list_is_newest_first_and_paged(app, rows: Rows) -> None:
    first = get(app, "/")
    assert first.status_code == 200
    newest_first = list(reversed(rows.filler_ids))
    assert thread_ids(first.text) == newest_first[:PER_PAGE]
    assert 'href="/newsthreads/?page=2"' in first.text
    assert "Rate talks 29" in first.text

    second = get(app, "/", params={"page": 2})
    assert thread_ids(second.text) == [*newest_first[PER_PAGE:], rows.summit_id]
    assert 'rel="next"' not in second.text and 'href="/newsthreads/?page=1"' in second.text
    summit_row = re.search(rf'data-thread-id="{rows.summit_id}">(.*?)</tr>', second.text, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", summit_row.group(1), re.S)
    assert SUMMIT in cells[0] and f'href="/newsthreads/threads/{rows.summit_id}"' in cells[0]
    assert [c.strip() for c in cells[1:6]] == ["2019-04", "5", "1", "1", "nb"]

    beyond = get(app, "/", params={"page": 99})
    assert beyond.status_code == 200 and "No threads on this page" in beyond.text


def test_empty_database_explains_how_to_fill_it(app) -> None:
    page = get(app, "/")
    assert page.status_code == 200 and "No story threads yet" in page.text


def test_thread_page_lists_articles_with_dates_precision_sources_duplicates(app, rows) -> None:
    page = get(app, f"/threads/{rows.summit_id}")
    assert page.status_code == 200
    assert SUMMIT in page.text
    shown = [int(x) for x in re.findall(r'<tr data-article-id="(\d+)"', page.text)]
    assert sorted(shown) == sorted(rows.summit_articles)
    for article_id in rows.summit_articles:
        row = re.search(rf'data-article-id="{article_id}"[^>]*>(.*?)</tr>', page.text, re.S)
        cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
        assert cells[0].strip() in ("2019-04", "undated")
        assert "month" in cells[1] or cells[0].strip() == "undated"
        assert "seeds" in cells[3]
        assert ("duplicate" in cells[4]) == (article_id == rows.duplicate_id)
    assert '<span id="article-count">5</span>' in page.text


def test_thread_page_escapes_text_and_refuses_script_links(app, rows) -> None:
    page = get(app, f"/threads/{rows.filler_ids[0]}")
    assert "<script>" not in page.text and "&lt;script&gt;alert(0)" in page.text
    assert "javascript:" not in page.text


def test_unknown_thread_is_404(app, rows) -> None:
    page = get(app, "/threads/999999", headers={"accept": "text/html"})
    assert page.status_code == 404 and "no story thread 999999" in page.text


def test_search_uses_each_articles_language(app, rows) -> None:
    # Norwegian stemming: "toppmøtet" (the summit) matches the seed articles' inflections.
    hits = get(app, "/search", params={"q": "Vladivostok"})
    found = {int(x) for x in re.findall(r'class="hit" data-article-id="(\d+)"', hits.text)}
    assert found and found <= set(rows.summit_articles)
    assert "<mark>" in hits.text
    assert f'href="/newsthreads/threads/{rows.summit_id}"' in hits.text

    english = get(app, "/search", params={"q": "meeting committee"})  # stems: meet, committe
    found = {int(x) for x in re.findall(r'class="hit" data-article-id="(\d+)"', english.text)}
    assert len(found) == PER_PAGE and 'rel="next"' in english.text
    assert "<script>" not in english.text


def test_search_handles_odd_input(app, rows) -> None:
    for q in ["", "   ", "the", "'); DROP TABLE articles; --", '"unbalanced', "-", "a & | !"]:
        page = get(app, "/search", params={"q": q})
        assert page.status_code == 200, q
    assert get(app, "/search", params={"q": "x" * 501}).status_code == 422
    still = get(app, "/search", params={"q": "Vladivostok"})
    assert 'class="hit"' in still.text


def test_search_page_two(app, rows) -> None:
    second = get(app, "/search", params={"q": "bankers", "page": 2})
    found = re.findall(r'class="hit" data-article-id="(\d+)"', second.text)
    assert len(found) == FILLERS - PER_PAGE
    assert "q=bankers" in second.text and 'rel="prev"' in second.text


def test_database_down_is_a_prompt_503_without_the_password() -> None:
    app = create_app(dsn="postgresql://news:s3cret@127.0.0.1:1/news")
    app.dependency_overrides[require_user] = lambda: "tester"
    page = get(app, "/", headers={"accept": "text/html"})
    assert page.status_code == 503
    assert "news database is unavailable" in page.text
    assert "s3cret" not in page.text and "127.0.0.1:1" in page.text
