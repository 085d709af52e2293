"""
### news_rethread

Re-clusters every article published in a date window **from scratch**, deterministically: the
same articles always give the same threads. Use it after changing the threading model or its
weights, or to repair a window. Threads that also hold articles outside the window keep them.

- **From / To** are calendar days in Europe/Oslo (the zone coarse dates are stored in); both
  days are included.
- **Dry run** (on by default) computes everything, reports how many articles would change
  thread-mates, and writes nothing. Turn it off to apply.

The result is in the task log and in `ingest_runs` (kind `rethread`). Manual only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from airflow.sdk import Param, dag, task

WINDOW_TZ = "Europe/Oslo"  # as newsthreads.normalise.dates.DEFAULT_TZ; not imported: parse-light
log = logging.getLogger("newsthreads.rethread")


def rethread_window(start_day: str, end_day: str, dry_run: bool) -> dict:
    """Run ``stories.service.rethread`` on [start_day, end_day] (inclusive) and log the run."""
    from newsthreads.store.connection import connect
    from newsthreads.store.migrate import migrate
    from newsthreads.store.runs import RunCounts, finish_run, start_run
    from newsthreads.stories.service import rethread

    first, last = date.fromisoformat(start_day), date.fromisoformat(end_day)
    if last < first:
        raise ValueError(f"rethread window: 'to' ({last}) is before 'from' ({first})")
    zone = ZoneInfo(WINDOW_TZ)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    params = {"from": start_day, "to": end_day, "dry_run": dry_run}
    with connect() as conn:
        migrate(conn)
        run_id = start_run(conn, "rethread", params)
        try:
            result = rethread(conn, start, end, dry_run=dry_run)
        except BaseException:
            conn.rollback()
            finish_run(conn, run_id, RunCounts(), status="failed")
            raise
        finish_run(conn, run_id, RunCounts(read=result.articles, updated=result.moved,
                                           duplicates=result.stats.duplicates))
    summary = {"run_id": run_id, "from": start_day, "to": end_day, "dry_run": dry_run,
               "articles": result.articles, "threads_before": result.threads_before,
               "threads_after": result.threads_after, "moved": result.moved,
               "duplicates": result.stats.duplicates,
               "seconds": round(result.stats.seconds, 2)}
    log.info("rethread %s: %s", "preview (nothing written)" if dry_run else "applied", summary)
    return summary


@dag(
    dag_id="news_rethread",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsthreads", "stories"],
    default_args={"owner": "newsthreads", "retries": 0},
    params={
        "from": Param(type="string", format="date", title="From",
                      description="First publication day of the window (Europe/Oslo)."),
        "to": Param(type="string", format="date", title="To",
                    description="Last publication day of the window, included."),
        "dry_run": Param(True, type="boolean", title="Dry run",
                         description="Only report what would change; write nothing. Turn off"
                                     " to rewrite the window's threads."),
    },
)
def news_rethread():
    @task
    def rethread(params: dict | None = None) -> dict:
        params = params or {}
        return rethread_window(params["from"], params["to"], bool(params["dry_run"]))

    rethread()


news_rethread()
