"""Feed ingestion benchmark (issue 4): figures to stdout, no pass/fail.

1. 500 local feeds x 50 items, ingested end to end (fetch, parse, normalise, store), against raw
   ``feedparser.parse`` of the same bytes in the same run: articles per second and the ratio
   (goal >= 0.6).
2. A second, unchanged poll of the same 500 feeds (all 304): its time as a share of the first
   (goal < 10 %).
3. 100 small feeds that each answer after 1 s, at a given concurrency: about
   100/concurrency seconds.

The feed server runs in its own process (as a real one would be elsewhere); the database is a
throwaway one (``common.scratch_db``), dropped after. Figures go to stdout; ``--results`` also
writes them as the "feed ingestion" section of bench/results.md.

CPU is reported for every process that works for the pipeline: this one, its reader processes
(if ``ingest_feeds`` starts any) and the PostgreSQL backends serving the bench database
(sampled from /proc while the run lasts, on Linux), against the raw parse's CPU.

One local server stands for every feed host here. The first two measurements keep the default
per-host limit (all 500 feeds are on one host, so at most two requests are in flight); the
slow-server one lifts it to its concurrency, since it is about waiting on many hosts.

    python bench/bench_feeds.py [--feeds 500] [--items 50] [--concurrency 8] [--slow 100]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import feedparser
from common import BackendCPU, machine, scratch_db, write_section
from newsthreads.feeds_run import ingest_feeds, reader_processes
from newsthreads.sources.fetch import DEFAULT_PER_HOST
from newsthreads.store import feeds as feed_store
from newsthreads.store.connection import connect
from psycopg.conninfo import conninfo_to_dict

WORDS = ("toppmøte Vladivostok Putin Kim atomvåpen sanksjoner regjeringen Stortinget budsjett "
         "valg kommune fylke strøm pris rente Norges Bank fotball Eliteserien vær snø flom "
         "the summit talks president minister election market rates storm ferry league "
         "og i på for med som det er til av en et ble har at de var kan").split()


def make_feed(n: int, items: int, rng: random.Random) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
           f"<title>Bench feed {n}</title><link>http://bench.invalid/{n}/</link>"
           "<language>nb</language>"]
    for i in range(items):
        title = " ".join(rng.choices(WORDS, k=8)).capitalize()
        paras = "".join(f"<p>{' '.join(rng.choices(WORDS, k=40))}.</p>" for _ in range(4))
        day, hour = 1 + (i % 28), i % 24
        out.append(
            f"<item><title>{title}</title><link>http://bench.invalid/{n}/{i}?utm_source=rss"
            f'</link><guid isPermaLink="false">bench-{n}-{i}</guid>'
            f"<pubDate>Thu, {day:02d} Apr 2019 {hour:02d}:10:00 +0200</pubDate>"
            f"<dc:creator>Reporter {i % 7}</dc:creator><category>nyheter</category>"
            f"<description>{' '.join(rng.choices(WORDS, k=25))}.</description>"
            f"<content:encoded><![CDATA[{paras}]]></content:encoded></item>")
    out.append("</channel></rss>\n")
    return "".join(out).encode()


@contextmanager
def serve(directory: Path, delay: float = 0.0):
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsthreads.demo_server", str(directory),
         "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def register(url: str, base: str, names: list[str]) -> list[int]:
    with connect(url) as conn:
        return [feed_store.add_feed(conn, f"{base}/{name}", source=f"bench/{name}")[0].id
                for name in names]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=None,
                        help="reader processes for ingest_feeds (default: the product's, one"
                             " per core; 0: read in the run's own process)")
    parser.add_argument("--slow", type=int, default=100, help="feeds answering after 1 s")
    parser.add_argument("--slow-concurrency", type=int, default=20)
    parser.add_argument("--results", action="store_true",
                        help="also write the figures to bench/results.md")
    args = parser.parse_args()
    lines = [f"- machine: {machine()}"]

    def report(line: str) -> None:
        lines.append(f"- {line}")
        print(line, flush=True)

    os.environ["NEWS_ALLOW_PRIVATE_NETWORKS"] = "1"
    rng = random.Random(4)
    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as tmp:
        root = Path(tmp)
        names = [f"feed{n:04d}.xml" for n in range(args.feeds)]
        bodies = []
        for n, name in enumerate(names):
            body = make_feed(n, args.items, rng)
            (root / name).write_bytes(body)
            bodies.append(body)
        total = args.feeds * args.items
        size = sum(len(b) for b in bodies)
        report(f"feeds: {args.feeds} x {args.items} items = {total} items, "
               f"{size / 1e6:.1f} MB of RSS")

        def raw_parse(base: str | None) -> tuple[float, float]:
            """feedparser.parse of every body; with ``base``, the exact call the pipeline makes
            (Content-Type and the document's URL, against which relative links resolve)."""
            wall, cpu = time.perf_counter(), time.process_time()
            parsed_items = 0
            for name, body in zip(names, bodies, strict=True):
                headers = ({"content-type": "application/xml", "content-location": f"{base}/{name}"}
                           if base else None)
                parsed_items += len(feedparser.parse(body, response_headers=headers).entries)
            assert parsed_items == total, parsed_items
            return time.perf_counter() - wall, time.process_time() - cpu

        bare_seconds, _ = raw_parse(None)
        with serve(root) as base, scratch_db() as db:
            raw_before, raw_cpu = raw_parse(base)
            ids = register(db, base, names)
            started, cpu, children = time.perf_counter(), time.process_time(), os.times()
            with BackendCPU(conninfo_to_dict(db)["dbname"]) as backends:
                first = ingest_feeds(dsn=db, feed_ids=ids, concurrency=args.concurrency,
                                     processes=args.processes)
            first_seconds = time.perf_counter() - started
            first_cpu = time.process_time() - cpu
            after = os.times()
            readers_cpu = (after.children_user + after.children_system
                           - children.children_user - children.children_system)
            db_cpu = backends.seconds
            assert first.counts["new"] == total and first.failed == 0, first.counts
            raw_after, _ = raw_parse(base)  # the machine may be busier or idler now: both sides
            raw_seconds = (raw_before + raw_after) / 2
            raw_rate = total / raw_seconds
            rate = total / first_seconds
            report(f"raw feedparser.parse(body, response_headers=...): {raw_seconds:.2f} s "
                   f"({raw_before:.2f} s before, {raw_after:.2f} s after the pipeline), "
                   f"{raw_rate:,.0f} items/s, {raw_cpu:.2f} s CPU; without headers (no base URL, "
                   f"so no relative-link resolution): {bare_seconds:.2f} s")
            total_cpu = first_cpu + readers_cpu + (db_cpu or 0.0)
            used = (reader_processes(args.feeds) if args.processes is None
                    else args.processes)
            processes = (f", {used} reader processes"
                         + (" (the default: one per core)" if args.processes is None else "")
                         if used else ", read in this process")
            report(f"pipeline, first poll (fetch+parse+normalise+store, concurrency "
                   f"{args.concurrency}, per-host limit {DEFAULT_PER_HOST}{processes}): "
                   f"{first_seconds:.2f} s, {rate:,.0f} articles/s, "
                   f"**ratio to raw parse {rate / raw_rate:.2f}** (goal >= 0.6; "
                   f"{bare_seconds / first_seconds:.2f} against the bare call)")
            report(f"pipeline CPU: this process {first_cpu:.2f} s, reader processes "
                   f"{readers_cpu:.2f} s, PostgreSQL backends "
                   + (f"{db_cpu:.2f} s" if db_cpu is not None else "not measured (no /proc)")
                   + f"; {total_cpu:.2f} s in all = {1e3 * total_cpu / total:.2f} ms an article"
                   f" (raw parse {1e3 * raw_cpu / total:.2f} ms an item; CPU ratio "
                   f"{raw_cpu / total_cpu:.2f}, this process alone {raw_cpu / first_cpu:.2f})")
            started = time.perf_counter()
            second = ingest_feeds(dsn=db, feed_ids=ids, concurrency=args.concurrency)
            second_seconds = time.perf_counter() - started
            assert second.not_modified == args.feeds, second.as_dict()["counts"]
            report(f"second poll, unchanged (all 304): {second_seconds:.2f} s = "
                   f"{100 * second_seconds / first_seconds:.1f} % of the first (goal < 10 %)")

        if args.slow:  # small feeds, so the figure is about waiting, not parsing
            slow_root = root / "slow"
            slow_root.mkdir()
            slow_names = [f"slow{n:03d}.xml" for n in range(args.slow)]
            for n, name in enumerate(slow_names):
                (slow_root / name).write_bytes(make_feed(n, 2, rng))
            with serve(slow_root, delay=1.0) as base, scratch_db() as db:
                ids = register(db, base, slow_names)
                started = time.perf_counter()
                slow = ingest_feeds(dsn=db, feed_ids=ids, concurrency=args.slow_concurrency,
                                    per_host=args.slow_concurrency)
                slow_seconds = time.perf_counter() - started
                assert slow.ok == args.slow, slow.as_dict()["counts"]
            report(f"{args.slow} feeds answering after 1 s, concurrency {args.slow_concurrency}"
                   f" (per-host limit lifted to it: one server stands for {args.slow} hosts): "
                   f"{slow_seconds:.1f} s (ideal {args.slow / args.slow_concurrency:.1f} s, "
                   f"sequential would be {args.slow} s)")
    if args.results:
        write_section("feed ingestion", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
