"""news_ingest_feeds run for real with dag.test(): mapped tasks, a failing feed, the Asset."""

from __future__ import annotations

import psycopg
import pytest
from conftest import REPO
from newsthreads.assets import ARTICLES_ASSET_URI
from newsthreads.demo_server import FeedServer, Reply
from newsthreads.store import feeds as feed_store

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
       b"<item><guid>1</guid><title>Kim og Putin i Vladivostok</title>"
       b"<description>Toppmoete.</description></item></channel></rss>")


@pytest.fixture(scope="module")
def feeds_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "news_ingest_feeds.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["news_ingest_feeds"]


def test_dag_shape(feeds_dag):
    assert [t.task_id for t in feeds_dag.tasks] == ["open_run", "due_feeds", "poll_feed", "finish",
                                                    "announce"]
    assert feeds_dag.get_task("poll_feed").pool == "news_feeds"
    outlets = feeds_dag.get_task("announce").outlets
    assert [a.uri.rstrip("/") for a in outlets] == [ARTICLES_ASSET_URI]


def test_one_mapped_task_per_feed_and_a_failure_stays_alone(feeds_dag, clean_db):
    from newsthreads.feeds_airflow import ensure_feeds_pool

    ensure_feeds_pool()
    with FeedServer() as srv, psycopg.connect(clean_db) as conn:
        srv.routes["/ok"] = Reply(200, RSS, {"Content-Type": "application/rss+xml"})
        srv.routes["/broken"] = Reply(500, b"oops")
        feed_store.add_feed(conn, srv.url("/ok"), source="ok")
        feed_store.add_feed(conn, srv.url("/broken"), source="broken")
        run = feeds_dag.test()
        assert "success" in str(run.state)
        tis = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
        assert sorted(k for k in tis if k[0] == "poll_feed") == [("poll_feed", 0),
                                                                 ("poll_feed", 1)]
        assert all("success" in s for s in tis.values()), tis
        assert conn.execute("SELECT source, title FROM articles").fetchall() == [
            ("ok", "Kim og Putin i Vladivostok")]
        assert conn.execute("SELECT kind, status, items_new, items_failed FROM ingest_runs"
                            ).fetchall() == [("feeds", "partial", 1, 1)]
        failing = conn.execute("SELECT consecutive_failures, last_error FROM feeds"
                               " WHERE source = 'broken'").fetchone()
        assert failing[0] == 1 and "HTTP 500" in failing[1]
        # nothing due any more: the run succeeds, announces nothing
        run = feeds_dag.test()
        assert "success" in str(run.state)
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        assert "skipped" in states["announce"]
