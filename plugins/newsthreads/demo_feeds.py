"""The demo's feed path, offline: serve ``seeds/feeds/`` locally and register each file as a feed.

``start_demo_feeds()`` is what the demo calls before running ``news_ingest_feeds``: it sets
``NEWS_ALLOW_PRIVATE_NETWORKS=1`` for this process (the server is on 127.0.0.1, which the SSRF
guard otherwise refuses), starts the server on a free port, registers the feeds under stable
source names (``demo/<file>``; a new port just moves their URL), makes them due now, and creates
the Airflow pool when Airflow is configured. ``python -m newsthreads.demo_feeds`` does the same
and polls once from the shell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from newsthreads.demo_server import FeedServer
from newsthreads.paths import REPO_ROOT
from newsthreads.sources.netguard import ALLOW_ENV
from newsthreads.store import feeds as feed_store
from newsthreads.store.connection import connect
from newsthreads.store.migrate import migrate

FEEDS_DIR = REPO_ROOT / "seeds" / "feeds"
FEED_SUFFIXES = (".rss", ".atom", ".xml", ".json")


@dataclass
class DemoFeeds:
    server: FeedServer
    feeds: list[feed_store.FeedRow] = field(default_factory=list)

    def stop(self) -> None:
        self.server.stop()


def start_demo_feeds(dsn: str | None = None, *, with_pool: bool = True) -> DemoFeeds:
    os.environ[ALLOW_ENV] = "1"
    server = FeedServer(FEEDS_DIR).start()
    demo = DemoFeeds(server)
    try:
        with connect(dsn) as conn:
            migrate(conn)
            for path in sorted(FEEDS_DIR.iterdir()):
                if path.suffix in FEED_SUFFIXES:
                    feed, _ = feed_store.add_feed(conn, server.url(path.name),
                                                  source=f"demo/{path.name}")
                    demo.feeds.append(feed)
        if with_pool and os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            from newsthreads.feeds_airflow import ensure_feeds_pool

            ensure_feeds_pool()
    except BaseException:
        server.stop()
        raise
    return demo


def main() -> int:
    from newsthreads.commands.feeds import format_summary
    from newsthreads.feeds_run import ingest_feeds

    demo = start_demo_feeds(with_pool=False)
    try:
        print(f"serving {FEEDS_DIR} at {demo.server.base_url}")
        summary = ingest_feeds(feed_ids=[f.id for f in demo.feeds])
        print(format_summary(summary.as_dict()))
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
