"""Threading throughput and memory on a synthetic news stream (not a test; see ``make bench``).

    .venv/bin/python bench/bench_threading.py                 # 10k and 100k, in memory
    .venv/bin/python bench/bench_threading.py --sizes 10000 --db   # through Postgres too
    .venv/bin/python bench/bench_threading.py --million       # adds 1M (takes a while)

The stream: many stories running at once, each with its own topic words and a few entities
drawn from a shared, Zipf-distributed pool (so different stories share people and places);
background words from a Zipf vocabulary; articles come in bursts (most of a story's coverage
in its first day or two) in publication order; 8 % are wire copies of an earlier article with
a sentence changed; a few are month-dated or undated.

Each size runs in its own process so peak memory (max RSS) is that size's. Times are CPU
seconds of that process (the machine is shared). Reported: articles per CPU-second for the
threading stage (analysis: stems, entities, shingles, MinHash; and
clustering: duplicates, candidates, scoring, state update), the per-article cost of the last
10 % of the stream (at scale vs at 10k), active threads at the end, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from common import current_rss_mb, machine, peak_rss_mb, scratch_db, write_section

if TYPE_CHECKING:
    from newsthreads.model import Article

# Consonant-vowel(-consonant) syllables: enough of them that five-letter prefixes collide about
# as often as in real vocabularies.
SYLLABLES = [c + v + e for c in "bdfghjklmnprstv" for v in "aeiou" for e in ("", "", "n", "r")]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def _zipf_table(n: int, s: float = 1.07) -> list[float]:
    weights = [1.0 / (i + 1) ** s for i in range(n)]
    total = sum(weights)
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def _draw(rng: random.Random, table: list[float], items: list[str]) -> str:
    import bisect

    return items[min(len(items) - 1, bisect.bisect_left(table, rng.random()))]


def _sentence(words: list[str]) -> str:
    text = " ".join(words)
    return text[:1].upper() + text[1:]  # str.capitalize() would lower-case the names


@dataclass
class Synthetic:
    id: int
    story: int
    title: str
    body: str
    start: datetime | None
    end: datetime | None


def stream(n: int, seed: int = 1, concurrent: int = 300) -> Iterator[Synthetic]:
    """``n`` articles in publication order from ``concurrent`` overlapping stories."""
    rng = random.Random(seed)
    vocab = list(dict.fromkeys(_word(rng, rng.randint(2, 4)) for _ in range(60_000)))
    vocab_table = _zipf_table(len(vocab))
    names = list(dict.fromkeys(_word(rng, rng.randint(2, 3)).capitalize()
                               for _ in range(20_000)))
    names_table = _zipf_table(len(names), 0.9)
    clock = datetime(2020, 1, 1, tzinfo=UTC)
    per_day = 1500  # articles a day: sets how many stories overlap in a window
    stories: list[dict] = []
    next_story = 0
    sent: dict[int, list[Synthetic]] = {}

    def new_story() -> dict:
        nonlocal next_story
        next_story += 1
        return {"id": next_story,
                "topic": [rng.choice(vocab) for _ in range(25)],
                "names": [_draw(rng, names_table, names) for _ in range(rng.randint(3, 6))],
                "left": max(2, int(rng.paretovariate(1.3) * 4)), "born": clock}

    for _ in range(concurrent):
        stories.append(new_story())
    for i in range(n):
        clock += timedelta(seconds=86400 / per_day * rng.expovariate(1.0))
        # Bursts: young stories get most of the coverage.
        weights = [1.0 / (1.0 + (clock - s["born"]).total_seconds() / 43200) for s in stories]
        story = rng.choices(stories, weights)[0]
        story["left"] -= 1
        if story["left"] <= 0:
            stories.remove(story)
            stories.append(new_story())
        earlier = sent.get(story["id"])
        if earlier and rng.random() < 0.08:
            src = rng.choice(earlier)
            sentences = src.body.split(". ")
            sentences[rng.randrange(len(sentences))] = " ".join(
                rng.choice(vocab) for _ in range(8))
            body, title = ". ".join(sentences), src.title
        else:
            words = []
            for _ in range(rng.randint(90, 220)):
                r = rng.random()
                if r < 0.3:
                    words.append(rng.choice(story["topic"]))
                elif r < 0.38:
                    words.append(rng.choice(story["names"]))
                elif r < 0.40:
                    words.append(_draw(rng, names_table, names))
                else:
                    words.append(_draw(rng, vocab_table, vocab))
            body = ". ".join(_sentence(words[j:j + 15]) for j in range(0, len(words), 15)) + "."
            title = _sentence([rng.choice(story["topic"]) for _ in range(6)])
        day = datetime(clock.year, clock.month, clock.day, tzinfo=UTC)
        r = rng.random()
        if r < 0.01:
            start = end = None
        elif r < 0.05:
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            start, end = day, day + timedelta(days=1)
        art = Synthetic(i + 1, story["id"], title, body, start, end)
        sent.setdefault(story["id"], []).append(art)
        if len(sent[story["id"]]) > 5:
            sent[story["id"]].pop(0)
        if story not in stories:
            sent.pop(story["id"], None)
        yield art


BATCH = 2000  # articles between "saves" in memory mode, as stories.service.BATCH


def run_memory(n: int) -> dict:
    """Thread ``n`` articles in memory; undated ones are held back to the end, as the database
    orders them. The benchmark's own bookkeeping is kept small (labels in int arrays, held
    articles without their shingle sets, as the analysis worker ships them) so that RSS is
    the clusterer's. Checkpoints every tenth of the stream give the cost per article and the
    RSS as the archive grows."""
    from newsthreads.gcpolicy import relaxed_gc
    from newsthreads.stories.cluster import Clusterer, State
    from newsthreads.stories.evaluate import bcubed
    from newsthreads.stories.items import from_wire, item_from_fields, to_wire

    with relaxed_gc():  # as cluster_pending and the analysis worker run
        clusterer = Clusterer(State())
        gold, pred = array("q", bytes(8 * (n + 1))), array("q", bytes(8 * (n + 1)))
        analyse_s = cluster_s = 0.0
        tail_from = int(n * 0.9)
        tail_s = 0.0
        held = []
        gen_s = 0.0
        checkpoints = []
        every = max(1, n // 10)
        seg_s = 0.0
        clock = time.process_time  # CPU time: the machine is shared, wall time is not ours
        t_gen = clock()
        for k, art in enumerate(stream(n)):
            gen_s += clock() - t_gen
            t0 = clock()
            item = item_from_fields(art.id, title=art.title, lead=None, body=art.body,
                                    language="en", start=art.start, end=art.end)
            t1 = clock()
            if art.start is None:
                held.append(to_wire(item))
            else:
                pred[art.id] = clusterer.assign(item).thread_id
            t2 = clock()
            gold[art.id] = art.story
            analyse_s += t1 - t0
            cluster_s += t2 - t1
            seg_s += t2 - t0
            if k >= tail_from:
                tail_s += t2 - t0
            if (k + 1) % BATCH == 0:  # as cluster_pending saves a batch: threads may go
                for article_id, thread_id in clusterer.settle().moves.items():
                    pred[article_id] = thread_id
            if (k + 1) % every == 0:
                checkpoints.append({"articles": k + 1, "us_per_article": round(seg_s / every * 1e6),
                                    "rss_mb": round(current_rss_mb()),
                                    "active_threads": len(clusterer.state.threads),
                                    "df_terms": len(clusterer.state.df)})
                seg_s = 0.0
                print(json.dumps(checkpoints[-1]), file=sys.stderr, flush=True)
            t_gen = clock()
        t0 = clock()
        for wire in held:
            item = from_wire(wire)
            pred[item.article_id] = clusterer.assign(item).thread_id
        cluster_s += clock() - t0
        for article_id, thread_id in clusterer.settle().moves.items():  # members a split moved
            pred[article_id] = thread_id
        ids = range(1, n + 1)
        quality = bcubed({("b", str(i)): str(gold[i]) for i in ids},
                         {("b", str(i)): pred[i] for i in ids})
        total = analyse_s + cluster_s
        return {"articles": n, "seconds": round(total, 2),
                "articles_per_s": round(n / total), "analysis_per_s": round(n / analyse_s),
                "clustering_per_s": round(n / cluster_s),
                "tail_us_per_article": round(tail_s / (n - tail_from) * 1e6),
                "active_threads": len(clusterer.state.threads),
                "signatures_in_memory": len(clusterer.state.dups),
                "df_terms": len(clusterer.state.df), "peak_rss_mb": round(peak_rss_mb()),
                "generator_s": round(gen_s, 1), "bcubed_f1": round(quality.f1, 3),
                "checkpoints": checkpoints}


def stream_articles(n: int) -> Iterator[Article]:
    """``stream(n)`` as the product's ``Article`` values (day- or month-precise dates as the
    feeds give them), for runs through Postgres."""
    from newsthreads.model import Article, PublishedDate

    for art in stream(n):
        pub = None
        if art.start and art.end:
            precision = "day" if art.end - art.start <= timedelta(days=1) else "month"
            pub = PublishedDate(art.start, art.end, precision, "feed")
        yield Article(source="bench", source_key=str(art.id), body=art.body, title=art.title,
                      language="en", published=pub, content_hash=str(art.id))


def run_db(n: int) -> dict:
    """Ingest ``n`` synthetic articles into a throwaway database, then ``cluster_pending`` as
    the DAG runs it: the analysis worker on the next batch, the writer committing the last.
    Wall time is the figure for "articles a second on 2 cores"; CPU is reported for every
    process that works for it (this one, the worker, the PostgreSQL backends)."""
    import psycopg
    from common import BackendCPU
    from newsthreads.store.articles import upsert_article
    from newsthreads.stories.service import cluster_pending
    from psycopg.conninfo import conninfo_to_dict

    with scratch_db() as url, psycopg.connect(url) as conn:
        with conn.transaction():
            for article in stream_articles(n):
                upsert_article(conn, article, None)
        children = os.times()
        cpu = time.process_time()
        with BackendCPU(conninfo_to_dict(url)["dbname"]) as backends:
            t0 = time.perf_counter()
            stats = cluster_pending(conn)
            seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu
        after = os.times()
        worker = (after.children_user + after.children_system
                  - children.children_user - children.children_system)
    return {"articles": n, "db_seconds": round(seconds, 2),
            "db_articles_per_s": round(n / seconds), "new_threads": stats.new_threads,
            "duplicates": stats.duplicates, "peak_rss_mb": round(peak_rss_mb()),
            "worker_peak_mb": round(stats.worker_peak_mb or 0),
            "cpu_ms": {"main": round(1e3 * cpu / n, 3), "worker": round(1e3 * worker / n, 3),
                       "postgres": round(1e3 * (backends.seconds or 0.0) / n, 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also run 1,000,000")
    parser.add_argument("--db", action="store_true", help="also run through Postgres")
    parser.add_argument("--db-sizes", type=int, nargs="+", help="sizes through Postgres"
                        " (default: --sizes)")
    parser.add_argument("--with-result", action="append", default=[], metavar="FILE",
                        help="also report a child run's JSON result (a 1M run made apart:"
                        " `--child memory:1000000 > FILE`)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, n = args.child.split(":")
        result = run_db(int(n)) if mode == "db" else run_memory(int(n))
        print(json.dumps(result))
        return 0
    sizes = args.sizes + ([1_000_000] if args.million else [])
    results = []
    for mode in ["memory"] + (["db"] if args.db else []):
        for n in (args.db_sizes or sizes) if mode == "db" else sizes:
            out = subprocess.run([sys.executable, __file__, "--child", f"{mode}:{n}"],
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["mode"] = mode
            results.append(result)
            print(json.dumps(result), flush=True)
    for path in args.with_result:
        with open(path, encoding="utf-8") as fh:
            result = json.loads(fh.read().strip().splitlines()[-1])
        result["mode"] = "db" if "db_seconds" in result else "memory"
        results.append(result)
    results.sort(key=lambda r: (r["mode"] != "memory", r["articles"]))
    lines = [f"- machine: {machine()}",
             "| mode | articles | articles/CPU-s | analysis/s | clustering/s | tail µs/article"
             " | active threads | peak RSS | BCubed F1 (synthetic) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        # through Postgres: CPU of every process (this one, the worker, PostgreSQL)
        per_cpu = (r["articles_per_s"] if "articles_per_s" in r
                   else round(1e3 / sum(r["cpu_ms"].values())))
        lines.append(
            f"| {r['mode']} | {r['articles']:,} | {per_cpu:,} |"
            f" {r.get('analysis_per_s', '')} | {r.get('clustering_per_s', '')} |"
            f" {r.get('tail_us_per_article', '')} | {r.get('active_threads', '')} |"
            f" {r.get('peak_rss_mb', '')} MB | {r.get('bcubed_f1', '')} |")
    for r in results:
        if r["mode"] == "db":
            c = r["cpu_ms"]
            lines.append(
                f"- through Postgres, {r['articles']:,} articles: **{r['db_articles_per_s']:,}"
                f" articles/s wall** ({r['db_seconds']} s; analysis worker and background"
                f" writer on); CPU per article: this process {c['main']} ms, analysis worker"
                f" {c['worker']} ms, PostgreSQL {c['postgres']} ms; peak RSS"
                f" {r['peak_rss_mb']} MB + worker {r['worker_peak_mb']} MB")
    mem = [r for r in results if r["mode"] == "memory"]
    if len(mem) > 1:
        base = mem[0]["tail_us_per_article"]
        for r in mem[1:]:
            ratio = r["tail_us_per_article"] / base if base else math.nan
            lines.append(f"- per-article cost at {r['articles']:,} vs {mem[0]['articles']:,}:"
                         f" **{ratio:.2f}x** (goal ≤ 1.5x); peak RSS {r['peak_rss_mb']} MB vs"
                         f" {mem[0]['peak_rss_mb']} MB")
    for r in mem:
        cps = r.get("checkpoints") or []
        if len(cps) > 1:
            lines.append(f"- {r['articles']:,} articles, by tenths of the stream: CPU µs/article "
                         + " / ".join(str(c["us_per_article"]) for c in cps)
                         + "; RSS MB " + " / ".join(str(c["rss_mb"]) for c in cps)
                         + "; active threads " + " / ".join(str(c["active_threads"]) for c in cps))
    lines.append("- goal: ≥ 2,000 articles/s for the threading stage")
    write_section("threading", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
