"""Threading as users run it: an archive threaded once, then small scheduled runs.

    .venv/bin/python bench/bench_scheduled.py [ARCHIVE ...]   # default 10000 40000

The bulk benchmarks (``bench_threading.py``, ``bench_ingest.py``) thread everything in one
run. A deployment threads every 15 minutes what the feeds brought since the last run, and each
run first loads the state it continues from (the threads still joinable, the signatures in the
duplicate window), so its cost is that load plus the articles. This measures it: the archive
(``bench_threading``'s synthetic stream, 1,500 articles a day, some month-dated) in one run,
then ``RUNS`` runs of ``PER_RUN`` new articles each, and one run with nothing new. Reported
per run: wall seconds, how many articles came in behind the high-water mark and fetched back
what they needed ("late"), and the per-article cost against the bulk run's in the same
process (the baseline). A month-dated article puts the mark at its month's end, so every run
after one has late articles; before the fix of 2026-12-07 (92a4010) each of them fetched its
own week of signatures, and a 200-article run on the 10,000 archive took 21.1 s (median of 8,
197 late) instead of 1.9 s.
"""

from __future__ import annotations

import statistics
import time

import psycopg
from bench_threading import stream_articles
from common import machine, run_sizes, scratch_db, size_main, write_section

RUNS = 8
PER_RUN = 200


def one(archive: int) -> dict:
    from newsthreads.store.articles import upsert_article
    from newsthreads.stories.service import cluster_pending

    articles = list(stream_articles(archive + RUNS * PER_RUN))
    with scratch_db() as url, psycopg.connect(url) as conn:
        with conn.transaction():
            for article in articles[:archive]:
                upsert_article(conn, article, None)
        began = time.perf_counter()
        cluster_pending(conn)
        bulk_s = time.perf_counter() - began
        runs = []
        for k in range(RUNS):
            with conn.transaction():
                for article in articles[archive + k * PER_RUN:archive + (k + 1) * PER_RUN]:
                    upsert_article(conn, article, None)
            began = time.perf_counter()
            stats = cluster_pending(conn)
            runs.append({"s": time.perf_counter() - began, "assigned": stats.assigned,
                         "late": stats.late})
        began = time.perf_counter()
        idle = cluster_pending(conn)
        idle_s = time.perf_counter() - began
        assert idle.assigned == 0 and all(r["assigned"] == PER_RUN for r in runs), runs
    return {"archive": archive, "bulk_s": bulk_s, "runs": runs, "idle_s": idle_s}


def main(sizes: list[int]) -> None:
    rows = run_sizes(__file__, sizes)
    lines = [f"- machine: {machine()}",
             f"- an archive of the synthetic stream threaded in one run, then {RUNS} runs of"
             f" {PER_RUN} new articles each (insert, then `cluster_pending`), then one run"
             " with nothing new; wall seconds",
             "| archive | bulk run | scheduled run (median, max) | late a run (max) |"
             " per article: scheduled / bulk | run with nothing new |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        times = [x["s"] for x in r["runs"]]
        median = statistics.median(times)
        bulk_per = r["bulk_s"] / r["archive"]
        lines.append(
            f"| {r['archive']:,} | {r['bulk_s']:.1f} s ({r['archive'] / r['bulk_s']:,.0f}/s)"
            f" | {median:.2f} s, {max(times):.2f} s | {max(x['late'] for x in r['runs'])}"
            f" | {median / PER_RUN / bulk_per:.1f}x | {r['idle_s']:.2f} s |")
    lines.append("- a scheduled run's fixed cost is loading what it continues from (bounded by"
                 " the window of joinable threads, not the archive); the rest is the articles")
    write_section("threading, scheduled runs", lines)


if __name__ == "__main__":
    size_main(one, main, [10_000, 40_000])
