"""End to end: JSONL archive -> normalise -> store -> thread, articles/s and peak memory.

Goal (issue 6): >= 1,000 articles/s on 2 cores, memory flat in corpus size. Each size runs in
its own process so its peak RSS is its own. Usage: bench/bench_ingest.py [N ...]
(default 10000 100000 200000: the larger two are both past the window of joinable threads,
so their ratio is the one that says whether memory stays flat).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from bench_threading import stream
from common import (
    BackendCPU,
    RssSampler,
    machine,
    peak_rss_mb,
    run_sizes,
    scratch_db,
    size_main,
    write_section,
)
from psycopg.conninfo import conninfo_to_dict

# Articles of this stream (1,500 a day, bench_threading.stream) after which threading holds a
# full window of joinable threads, so memory stops growing: measured, not derived (RSS levelled
# off between 80,000 and 90,000 articles in a 200,000-article run, 2026-12-07).
WINDOW_FULL = 90_000
# Storing and threading at once (``ingest-jsonl --cluster-concurrently``) is measured up to
# this size (the figure is at 100,000; a 200,000 run would add minutes for nothing new).
CONCURRENT_MAX = 100_000


def records(n: int):
    """The threading benchmark's synthetic stream (overlapping stories, Zipf vocabulary,
    shared entities, bursts, wire copies) in the JSONL shape."""
    for art in stream(n):
        if art.start is None:
            published = None
        elif art.end - art.start > timedelta(days=1):
            published = art.start.strftime("%Y-%m")
        else:
            published = art.start.date().isoformat()
        yield {"id": f"s{art.id}", "title": art.title, "text": art.body, "lang": "en",
               "published": published, "source": f"outlet{art.id % 7}"}


def concurrent(path: Path) -> dict:
    """The same archive through ``ingest_and_thread``, in a process of its own (so its peak
    RSS is its own): stored on a second connection while this one threads it, into a
    database of its own."""
    out = subprocess.run([sys.executable, __file__, "--concurrent", str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def concurrent_run(path: Path) -> dict:
    from newsthreads.tasks import ingest_and_thread

    with scratch_db() as url, psycopg.connect(url) as conn:
        dbname = conninfo_to_dict(url)["dbname"]
        with BackendCPU(dbname) as db:
            began, cpu = time.perf_counter(), time.process_time()
            result, _, stats = ingest_and_thread(conn, [path],
                                                 connect_ingest=lambda: psycopg.connect(url))
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        threads = conn.execute("SELECT count(*) FROM threads").fetchone()[0]
    return {"seconds": wall, "threads": threads, "stored": result.counts.new,
            "caught_up": stats.caught_up, "late": stats.late,
            "peak_rss_mb": round(peak_rss_mb()), "cpu_ms": 1e3 * cpu / result.counts.new,
            "postgres_ms": 1e3 * (db.seconds or 0.0) / result.counts.new}


def one(n: int) -> dict:
    from newsthreads.pipeline import ingest_jsonl
    from newsthreads.stories.service import cluster_pending

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for record in records(n):
                fh.write(json.dumps(record) + "\n")
        base_rss = peak_rss_mb()
        with scratch_db() as url, psycopg.connect(url) as conn:
            dbname = conninfo_to_dict(url)["dbname"]
            with BackendCPU(dbname) as ingest_db:
                began, cpu = time.perf_counter(), time.process_time()
                result = ingest_jsonl(conn, [path])
                ingest_s, ingest_cpu = time.perf_counter() - began, time.process_time() - cpu
            children = os.times()
            with BackendCPU(dbname) as cluster_db, RssSampler() as rss:
                began, cpu = time.perf_counter(), time.process_time()
                stats = cluster_pending(conn)
                cluster_s, cluster_cpu = time.perf_counter() - began, time.process_time() - cpu
            after = os.times()
            threads = conn.execute("SELECT count(*) FROM threads").fetchone()[0]
        both = concurrent(path) if n <= CONCURRENT_MAX else None
    assert result.counts.new == n, result.counts
    worker_cpu = (after.children_user + after.children_system
                  - children.children_user - children.children_system)
    per = 1e3 / n
    return {"n": n, "ingest_s": ingest_s, "cluster_s": cluster_s, "threads": threads,
            "concurrent": both,
            "peak_rss_mb": peak_rss_mb(), "base_rss_mb": base_rss,
            "worker_rss_mb": stats.worker_peak_mb or 0, "threading_rss_mb": rss.by_fifths(),
            "cpu_ms": {"ingest": round(per * ingest_cpu, 3),
                       "ingest_postgres": round(per * (ingest_db.seconds or 0.0), 3),
                       "threading": round(per * cluster_cpu, 3),
                       "threading_worker": round(per * worker_cpu, 3),
                       "threading_postgres": round(per * (cluster_db.seconds or 0.0), 3)}}


def main(sizes: list[int]) -> None:
    rows = run_sizes(__file__, sizes)
    lines = [f"- machine: {machine()}", "- input: bench_threading's synthetic stream as JSONL",
             "- threading analyses the next batch in a worker process (stories/prefetch.py);"
             " its peak RSS is the last column",
             "| articles | ingest (normalise+store) | threading | end to end | threads |"
             " peak RSS | worker RSS |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        total = r["ingest_s"] + r["cluster_s"]
        lines.append(
            f"| {r['n']:,} | {r['n'] / r['ingest_s']:,.0f}/s | {r['n'] / r['cluster_s']:,.0f}/s"
            f" | **{r['n'] / total:,.0f}/s** | {r['threads']:,} | {r['peak_rss_mb']:,.0f} MB"
            f" | {r.get('worker_rss_mb', 0):,.0f} MB |")
    for r in rows:
        if r.get("concurrent"):
            c = r["concurrent"]
            lines.append(
                f"- {r['n']:,}, storing and threading at once (`ingest-jsonl"
                f" --cluster-concurrently`): **{r['n'] / c['seconds']:,.0f}/s end to end**"
                f" ({c['seconds']:.1f} s; {c['threads']:,} threads; the run caught up with"
                f" the ingest {c['caught_up']} times, {c['late']} late arrivals; peak RSS"
                f" {c['peak_rss_mb']:,} MB); CPU ms an article: this process"
                f" {c['cpu_ms']:.3f} (ingest thread included) + PostgreSQL"
                f" {c['postgres_ms']:.3f}")
    for r in rows:
        c = r["cpu_ms"]
        lines.append(f"- {r['n']:,}: CPU ms an article: ingest {c['ingest']} + PostgreSQL"
                     f" {c['ingest_postgres']}; threading {c['threading']} + analysis worker"
                     f" {c['threading_worker']} + PostgreSQL {c['threading_postgres']}")
    for r in rows:
        if "threading_rss_mb" in r:
            fifths = " / ".join(str(mb) for mb in r["threading_rss_mb"])
            lines.append(f"- {r['n']:,}: RSS MB through the threading run, highest of each fifth:"
                         f" {fifths}")
    past = [r for r in rows if r["n"] >= WINDOW_FULL]
    if len(past) > 1:
        lines.append(
            f"- **peak memory {past[-1]['n']:,} vs {past[0]['n']:,} articles:"
            f" {past[-1]['peak_rss_mb'] / past[0]['peak_rss_mb']:.2f}x** for"
            f" {past[-1]['n'] / past[0]['n']:.0f}x the archive (goal: flat). Threading keeps"
            f" the threads an article can still join, so memory grows while the archive fills"
            f" that window (about {WINDOW_FULL:,} articles of this stream) and levels off after")
    if len(rows) > 1:
        ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
        lines.append(f"- peak memory {rows[-1]['n']:,} vs {rows[0]['n']:,} articles (the smaller"
                     f" inside the window): {ratio:.2f}x")
    lines.append("- goal: >= 1,000 articles/s end to end")
    write_section("end-to-end JSONL ingest", lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--concurrent"]:
        print(json.dumps(concurrent_run(Path(sys.argv[2]))))
    else:
        size_main(one, main, [10_000, 100_000, 200_000])
