"""Airflow-side setup for the feed DAG: the ``news_feeds`` pool that caps concurrent fetches.

A task assigned to a pool that does not exist is never scheduled (and ``dag.test()`` cannot run
it), so the demo, the tests and ``make airflow`` create the pool first. Imported only where
Airflow runs, never by the DAG file itself.
"""

from __future__ import annotations

import os

DEFAULT_SLOTS = 8


def feeds_pool_name() -> str:
    return os.environ.get("NEWS_FEEDS_POOL", "news_feeds")


def ensure_feeds_pool(slots: int | None = None) -> str:
    """Create the feeds pool if missing (an existing pool keeps its slots); return its name."""
    from airflow.models.pool import Pool

    name = feeds_pool_name()
    if Pool.get_pool(name) is None:
        Pool.create_or_update_pool(
            name, slots or int(os.environ.get("NEWS_FEEDS_POOL_SLOTS", DEFAULT_SLOTS)),
            "Concurrent feed fetches of news_ingest_feeds", include_deferred=False)
    return name
