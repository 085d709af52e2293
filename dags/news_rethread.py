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

from airflow.sdk import Param, dag, task


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
        from newsthreads.tasks import rethread_task

        params = params or {}
        return rethread_task(params["from"], params["to"], bool(params["dry_run"]))

    rethread()


news_rethread()
