"""Storing normalised articles vs a raw COPY of the same rows into a same-shaped table.

Goal (issue 6): the store's upsert path at >= 0.5 of COPY's rows per second. Both sides write
the same rows into a table with the same columns, generated tsvector, indexes and constraints.
Usage: bench/bench_store.py [N]  (default 100000)
"""

from __future__ import annotations

import sys
import time

import psycopg
from common import machine, scratch_db, synthetic_records, write_section
from newsthreads.model import RawItem
from newsthreads.normalise.article import normalise_item
from newsthreads.store.articles import COLUMNS, article_values, upsert_articles
from psycopg import sql

BATCH = 500


def main(n: int) -> None:
    articles = [normalise_item(RawItem(r["source"], r["id"], r, "bench", kind="jsonl"))
                for r in synthetic_records(n)]
    with scratch_db() as url, psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE articles_copy (LIKE articles INCLUDING ALL)")
        conn.commit()
        cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        began = time.perf_counter()
        for i in range(0, n, BATCH):
            with conn.cursor().copy(
                sql.SQL("COPY articles_copy ({}) FROM STDIN").format(cols)
            ) as copy:
                for article in articles[i:i + BATCH]:
                    copy.write_row(article_values(article, None))
            conn.commit()
        copy_s = time.perf_counter() - began

        began = time.perf_counter()
        for i in range(0, n, BATCH):
            upsert_articles(conn, articles[i:i + BATCH], None)
            conn.commit()
        store_s = time.perf_counter() - began

        began = time.perf_counter()
        for i in range(0, n, BATCH):
            upsert_articles(conn, articles[i:i + BATCH], None)
            conn.commit()
        rerun_s = time.perf_counter() - began
        count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert count == n, count
    ratio = copy_s / store_s
    write_section("store vs raw COPY", [
        f"- machine: {machine()}",
        f"- rows: {n:,} normalised articles, batches of {BATCH}, commit per batch",
        f"- raw COPY into a same-shaped table: {n / copy_s:,.0f} rows/s ({copy_s:.1f} s)",
        f"- store (COPY to staging + set-based upsert): {n / store_s:,.0f} rows/s"
        f" ({store_s:.1f} s)",
        f"- **ratio store/COPY: {ratio:.2f}** (goal >= 0.5)",
        f"- idempotent rerun of the same rows (all unchanged): {n / rerun_s:,.0f} rows/s",
    ])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
