"""
### news_thread_stories

Assigns every article not yet in a story thread: near-copies are marked as duplicates of their
original, the rest join the best-matching active thread or open a new one. Runs whenever an
ingest DAG updates the `newsthreads://articles` Asset; safe to run by hand at any time.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, dag, task
from newsthreads.assets import ARTICLES_ASSET_URI


@dag(
    dag_id="news_thread_stories",
    schedule=[Asset(ARTICLES_ASSET_URI)],
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsthreads", "stories"],
    default_args={"owner": "newsthreads", "retries": 2, "retry_delay": timedelta(seconds=30),
                  "retry_exponential_backoff": True},
)
def news_thread_stories():
    @task
    def cluster() -> dict:
        from newsthreads.tasks import thread_stories_task

        return thread_stories_task()

    cluster()


news_thread_stories()
