"""
### news_ingest_feeds

Polls the registered RSS, Atom and JSON feeds that are due (`newsthreads feeds list` shows
them): one mapped task per feed, at most as many at once as the **`news_feeds` pool** has
slots. A feed that fails (timeout, HTTP error, broken XML, refused address) is recorded on the
feed with its reason and backs off; it never fails the run or the other feeds.

Emits the `newsthreads://articles` Asset when articles were added or edited, which schedules
**news_thread_stories**. Create the pool once: `airflow pools set news_feeds 8 "feed fetches"`
(without it, set `NEWS_FEEDS_POOL=default_pool`).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task
from newsthreads.assets import ARTICLES_ASSET_URI

FEEDS_POOL = os.environ.get("NEWS_FEEDS_POOL", "news_feeds")


@dag(
    dag_id="news_ingest_feeds",
    schedule=timedelta(minutes=15),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsthreads", "ingest", "feeds"],
    default_args={"owner": "newsthreads", "retries": 1, "retry_delay": timedelta(seconds=30)},
    params={
        "feed_ids": Param([], type="array", items={"type": "integer"}, title="Feed ids",
                          description="Poll exactly these feeds now, due or not. Empty: every"
                                      " feed that is due."),
    },
)
def news_ingest_feeds():
    @task
    def open_run(params: dict | None = None) -> int:
        """Open the ingest run that the feeds' rows and errors belong to."""
        from newsthreads.feeds_run import open_feeds_run

        return open_feeds_run((params or {}).get("feed_ids") or None)

    @task
    def due_feeds(ingest_run: int, params: dict | None = None) -> list[int]:
        """Lease the due feeds (or the ones asked for), so a parallel run skips them."""
        from newsthreads.feeds_run import claim_feed_ids

        return claim_feed_ids((params or {}).get("feed_ids") or None)

    @task(pool=FEEDS_POOL, retries=0, max_active_tis_per_dagrun=16)
    def poll_feed(feed_id: int, ingest_run: int) -> dict:
        """Fetch, parse and store one feed; its failures are results, not task failures."""
        from newsthreads.feeds_run import ingest_feed_by_id

        return ingest_feed_by_id(feed_id, ingest_run)

    @task(trigger_rule="all_done")
    def finish(ingest_run: int, outcomes: list[dict] | None = None) -> dict:
        """Close the run with its counts, whatever happened to single feeds."""
        from newsthreads.feeds_run import finish_feeds_run

        # Index by length: iterating the lazy XCom sequence probes one past the end and logs
        # a misleading "XCom not found" error.
        polled = [outcomes[i] for i in range(len(outcomes))] if outcomes else []
        return finish_feeds_run(ingest_run, polled)

    @task(outlets=[Asset(ARTICLES_ASSET_URI)])
    def announce(summary: dict) -> dict:
        """Update the Asset only when there is something new to thread."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not (summary["counts"]["new"] or summary["counts"]["updated"]):
            raise AirflowSkipException("no new or edited articles: threading not triggered")
        return summary["counts"]

    run = open_run()
    polled = poll_feed.partial(ingest_run=run).expand(feed_id=due_feeds(run))
    announce(finish(run, polled))


news_ingest_feeds()
