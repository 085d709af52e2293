"""Threading against the database: ``cluster_pending`` for new articles, ``rethread`` to repair.

Both load the clustering state from Postgres (``store.threads``), run ``stories.cluster`` and
write back threads, assignments, duplicates, labels, spans and imputed dates in the same
transaction as the state, so the state never disagrees with the assignments it describes.

Concurrency: a run holds ``pg_advisory_lock(CLUSTER_LOCK_KEY)`` from start to end
(``store.clustering_session``); a second run or a rethread waits for it (and logs that it
waits), then re-reads what is still pending. One lock, taken first, so no deadlock between
clustering runs; ``thread_articles.article_id`` being the primary key is the last line of
defence. Each batch is one committed transaction (written by ``stories.writeback`` on a
second connection while the next batch clusters), so a run that dies leaves whole batches.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

import numpy as np
import psycopg

from newsthreads.gcpolicy import relaxed_gc
from newsthreads.store import threads as store
from newsthreads.store.rows import ArticleRow
from newsthreads.stories.analyse import Features
from newsthreads.stories.cluster import (
    SLACK,
    Clusterer,
    Decision,
    Item,
    Member,
    Params,
    Settled,
    State,
    Thread,
    advanced_mark,
    canonical,
    held_keys,
)
from newsthreads.stories.duplicates import Entry, from_bytes, to_bytes
from newsthreads.stories.items import doc_keys, item_from_row, keys_counted
from newsthreads.stories.kernels import ACCELERATED
from newsthreads.stories.label import thread_label
from newsthreads.stories.model import Model
from newsthreads.stories.prefetch import MIN_ARTICLES, Prefetcher
from newsthreads.stories.writeback import Batch, BatchWriter, SplitWrites, write_batch

log = logging.getLogger(__name__)

BATCH = 2000  # articles a transaction: larger batches write each common term's document
# frequency and each busy thread's vectors once for more articles (a 1,000-article batch
# upserts ~43,000 terms and ~330 threads)
FIRST_BATCH = 200  # analysed here while the worker starts on the second; the next batches
# double up to BATCH, so the worker is never asked for much more than the clustering of the
# batch before takes (batch boundaries change no decision: short batches only shorten the
# time nothing overlaps)
FOLLOW_POLL_S = 0.25  # a following run that caught up looks for new articles this often
VACUUM_EVERY = 5  # batches between VACUUMs of the state tables (see store.vacuum_state)
DF_FOLD_EVERY = 10  # batches whose document-frequency increments are journalled, then added
# to the counts at once (sql/010_df_journal.sql: common keys recur from batch to batch, so ten
# 2,000-article batches upsert 23% of the rows ten separate additions would on the synthetic
# stream; the server's CPU for threading fell by a fifth to a third, bench_threading db:20000)
DF_KEEP_MIN = 200_000  # document frequencies held in memory before forgetting unused ones
LATE_ONE_BY_ONE = 32  # late articles a run fetches threads for one at a time: a late article
# fetches the threads sharing its index keys (a query of a few ms); past this many, the run is
# taking in an old archive (3,000 articles two years older than the rest took 18 s one by
# one, 6 ms an article, against 3 s in order), and a fetch brings back every thread of the
# article's window and the window after it, which the sweep then keeps (``State.late_cover``)


@dataclass
class ClusterStats:
    """What a clustering run did."""

    assigned: int = 0
    new_threads: int = 0
    duplicates: int = 0
    imputed: int = 0
    late: int = 0  # articles older than the window that had to fetch old threads back
    splits: int = 0  # threads the split repair divided in two
    merges: int = 0  # ... and parts of those it merged into another thread
    moved: int = 0  # articles those splits moved to another thread
    batches: int = 0
    caught_up: int = 0  # following: times the run had threaded all stored and found more
    seconds: float = 0.0
    worker_peak_mb: float | None = None  # the analysis worker's peak RSS, when one ran


@dataclass
class RethreadResult:
    """What ``rethread`` did (or would do, with ``dry_run``)."""

    articles: int = 0
    threads_before: int = 0
    threads_after: int = 0
    moved: int = 0  # articles whose set of thread-mates changed
    dry_run: bool = False
    stats: ClusterStats = field(default_factory=ClusterStats)


def thread_from_row(row: dict) -> Thread:
    return Thread(
        id=int(row["thread_id"]), created_seq=int(row["created_seq"]),
        last_seq=int(row["last_seq"]), n=int(row["n"]), first_at=row["first_at"],
        last_end=row["last_end"], precise_first=row["precise_first"],
        precise_end=row["precise_end"], text=dict(row["text_tf"]), ents=dict(row["ents_tf"]),
        xling=dict(row["xling_tf"]), langs=dict(row["langs"]), display=dict(row["display"]),
        keys=tuple(row["keys"]), top_ents=tuple(row["top_ents"]),
        norm_text=float(row["norm_text"]), norm_ents=float(row["norm_ents"]),
        norm_xling=float(row["norm_xling"]), norm_epoch=int(row["norm_epoch"]),
        title=row["title"], title_terms=tuple(row["title_terms"]))


def thread_to_row(thread: Thread) -> dict:
    return {
        "thread_id": thread.id, "created_seq": thread.created_seq,
        "last_seq": thread.last_seq, "n": thread.n, "first_at": thread.first_at,
        "last_end": thread.last_end, "precise_first": thread.precise_first,
        "precise_end": thread.precise_end, "text_tf": thread.text, "ents_tf": thread.ents,
        "xling_tf": thread.xling, "langs": thread.langs, "display": thread.display,
        "keys": list(thread.keys), "top_ents": list(thread.top_ents),
        "norm_text": thread.norm_text, "norm_ents": thread.norm_ents,
        "norm_xling": thread.norm_xling, "norm_epoch": thread.norm_epoch,
        "title": thread.title, "title_terms": list(thread.title_terms),
        "label": thread_label(thread),
    }


def member_to_json(m: Member) -> dict:
    f = m.features
    return {"lang": f.language, "terms": f.terms, "ents": f.entities, "xling": f.xling,
            "display": f.display, "title_terms": list(f.title_terms), "tokens": f.tokens,
            "vec": m.vec, "start": m.start.isoformat() if m.start else None,
            "end": m.end.isoformat() if m.end else None, "title": m.title, "seq": m.seq}


def member_from_json(article_id: int, d: dict) -> Member:
    """A member as saved, its dicts back in canonical order (jsonb reorders keys)."""
    features = canonical(Features(
        language=d["lang"], terms=d["terms"], entities=d["ents"], xling=d["xling"],
        display=d["display"], title_terms=tuple(d["title_terms"]), shingles=frozenset(),
        tokens=int(d["tokens"])))
    return Member(article_id, features, dict(sorted(d["vec"].items())),
                  datetime.fromisoformat(d["start"]) if d["start"] else None,
                  datetime.fromisoformat(d["end"]) if d["end"] else None, d["title"],
                  int(d["seq"]))


def _load_members(conn: psycopg.Connection, threads: list[Thread],
                  params: Params) -> None:
    """Give small threads their members back (only when every member was kept)."""
    small = [t for t in threads if 0 < t.n <= params.split_max]
    by_thread: dict[int, list[Member]] = {}
    for thread_id, article_id, d in store.member_rows(conn, [t.id for t in small]):
        by_thread.setdefault(thread_id, []).append(member_from_json(article_id, d))
    for thread in small:
        members = by_thread.get(thread.id, [])
        thread.members = members if len(members) == thread.n else []


class _IdBlock:
    """Thread ids from the ``threads`` sequence, fetched 64 at a time."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.free: list[int] = []

    def __call__(self) -> int:
        if not self.free:
            self.free = store.allocate_thread_ids(self.conn, 64)[::-1]
        return self.free.pop()


def _add_loaded_threads(conn: psycopg.Connection, state: State, rows: list[dict],
                        params: Params) -> None:
    threads = [t for t in map(thread_from_row, rows) if t.id not in state.threads]
    _load_members(conn, threads, params)
    for thread in threads:
        state.add_thread(thread)
    state.ensure_df(sorted(held_keys(threads)))


def _add_signatures(state: State, rows: list[store.SignatureRow]) -> None:
    for article_id, thread_id, mh, size, dup, start, end, seq in rows:
        sig = from_bytes(mh)
        state.dups.add(article_id, sig, Entry(
            np.asarray(sig.hashvalues), size, thread_id, int(dup) if dup is not None else None,
            start, end, seq))


def load_state(conn: psycopg.Connection, params: Params) -> State:
    """The state as one long run would have it in memory: counters, the threads an in-order
    article may still join, and the signatures in the duplicate window. Document frequencies
    are loaded on demand."""
    n_docs, seq, hwm = store.read_counters(conn)
    state = State(n_docs=n_docs, seq=seq, hwm=hwm,
                  df_loader=lambda terms: store.read_df(conn, terms))
    since = hwm - timedelta(days=params.window_days) - SLACK if hwm is not None else None
    state.swept_before = since
    _add_loaded_threads(conn, state, store.active_thread_rows(conn, since,
                                                              seq - params.undated_span), params)
    dup_since = hwm - timedelta(days=params.dup_days + 2) if hwm is not None else None
    state.sigs_swept_before = dup_since
    _add_signatures(state, store.recent_signatures(conn, dup_since, seq - params.dup_span))
    return state


class _Runner:
    """One state in memory, reused across the batches of a run (which holds the lock)."""

    def __init__(self, conn: psycopg.Connection, params: Params, model: Model | None,
                 stats: ClusterStats, writer: BatchWriter | None = None) -> None:
        self.conn = conn
        self.writer = writer  # the batch being written, if any (see writeback)
        self.params = params
        self.stats = stats
        self.state = load_state(conn, params)
        self._df_kept = 0
        self.unfolded: Counter[str] = Counter()  # increments journalled, not yet added
        self.journalled = 0  # batches they came from
        self.clusterer = Clusterer(self.state, params=params, model=model,
                                   new_id=_IdBlock(conn), fetch=self._fetch_late)

    def _fetch_late(self, clusterer: Clusterer, item: Item, keys: list[str], threads: bool,
                    signatures: bool) -> None:
        assert item.start is not None and item.end is not None
        self.stats.late += 1
        if self.writer is not None:
            # What the fetch reads back is final unless a thread or signature of the batch
            # in flight has left memory (swept, or merged away) since it was taken.
            st = self.state
            self.writer.wait_unless(lambda b: (
                not b.splits.dropped and all(t in st.threads for t in b.touched)
                and all(t in st.threads for t in b.renormed)
                and all(a in st.dups.entries for a in b.signed)))
        if threads:
            window = timedelta(days=self.params.window_days)
            lo, hi = item.start - window, item.end + window
            # Not what memory holds, nor a thread this batch merged away: it is deleted when
            # the batch is written, and read back before that it would be joined again.
            known = self.state.threads.keys() | clusterer.dropped
            if self.stats.late <= LATE_ONE_BY_ONE:  # one late article: the threads it may join
                rows = store.late_thread_rows(self.conn, lo, hi, keys, known)
            else:  # an old archive coming in: every thread of its next weeks, kept in memory
                hi += window
                rows = store.window_thread_rows(self.conn, lo, hi, known)
                self.state.late_cover = (lo, hi)
            _add_loaded_threads(self.conn, self.state, rows, self.params)
        if signatures:
            # Everything from the article's reach back to what memory already holds, so the
            # articles after it (in order, so not earlier) need no fetch of their own: a
            # month-dated article threaded early in its month puts the mark at the month's
            # end, and a fetch of each article's own week cost a query and the whole week's
            # signatures an article. Loading more cannot change a decision: a copy is looked
            # for among eligible signatures only, and those were fetched either way.
            st, lo = self.state, item.start - timedelta(days=self.params.dup_days)
            assert st.sigs_swept_before is not None
            hi = max(item.end + timedelta(days=self.params.dup_days), st.sigs_swept_before)
            _add_signatures(st, store.signatures_between(self.conn, lo, hi))
            st.sigs_swept_before = lo  # the sweep raises it again when it lets them go

    def process(self, items: list[Item], run_id: int | None,
                counted: Counter[str] | None = None, *, add_all: bool = False) -> Batch:
        """Cluster ``items``; returns what the batch writes, encoded (see ``writeback``).
        ``counted``: ``keys_counted(items)`` when the analysis worker has counted them.
        ``add_all``: the batch adds every journalled count (the run's last one does)."""
        st, stats = self.state, self.stats
        increments = counted if counted is not None else keys_counted(items)
        st.ensure_df(increments)  # the batch's counts, in one query; none is
        # forgotten before the batch ends (``bound_memory`` runs between batches)
        assignments = []
        for item in items:
            decision = self.clusterer.assign(item, df_loaded=True)
            stats.assigned += 1
            stats.new_threads += decision.new_thread
            stats.duplicates += decision.duplicate_of is not None
            assignments.append(_assignment(item, decision, run_id, st.seq))
        return self.snapshot(assignments, increments, add_all=add_all)

    def needs_bounding(self) -> bool:
        """Have the document frequencies outgrown what was kept last time?"""
        return len(self.state.df) > max(DF_KEEP_MIN, 2 * self._df_kept)

    def bound_memory(self, pending: Iterable[str] = ()) -> None:
        """Forget document frequencies no active thread needs once they outgrow what was
        kept last time (amortised: the check walks every active term). The counts of
        ``pending`` (a batch not yet committed) and of the journal not yet added are kept:
        ``thread_term_df`` does not have them."""
        if self.needs_bounding():
            self.state.forget_df(keep=chain(pending, self.unfolded))
            self._df_kept = len(self.state.df)

    def df_writes(self, increments: Counter[str], add_all: bool) -> tuple[bytes, bytes, bool,
                                                                        Collection[str]]:
        """The batch's document-frequency writes: its ``increments`` journalled, or, every
        ``DF_FOLD_EVERY`` batches and when told to ``add_all``, added to the counts together
        with the journal's. Returns (added now, journalled, journal emptied, keys counted
        by either)."""
        if not add_all and self.journalled + 1 < DF_FOLD_EVERY:
            self.unfolded.update(increments)
            self.journalled += 1
            return b"{}", store.df_params(increments), False, increments.keys()
        total, emptied = increments, self.journalled > 0
        if emptied:
            total = self.unfolded
            total.update(increments)
        self.unfolded, self.journalled = Counter(), 0
        return store.df_params(total), b"{}", emptied, total.keys()

    def snapshot(self, assignments: list[dict], increments: Counter[str], *,
                 add_all: bool = False) -> Batch:
        """The batch's writes as values: threads touched (encoded now, the dicts go on
        changing), assignments, increments, counters. The threads count as saved from here:
        the writer commits them before anything reads them back (see ``writeback``)."""
        st = self.state
        done = self.clusterer.settle()
        touched = done.touched
        writes = _split_writes(done, touched, assignments)
        self.stats.moved += writes.moved
        added, journal, fold, counted = self.df_writes(increments, add_all)
        batch = Batch(threads=store.thread_params([thread_to_row(t) for t in touched]),
                      assignments=store.assignment_params(assignments),
                      increments=added, journal=journal, fold=fold,
                      counters=(st.n_docs, st.seq, st.hwm), touched=[t.id for t in touched],
                      norms=store.norm_params([
                          (t.id, t.norm_text, t.norm_ents, t.norm_xling, t.norm_epoch)
                          for t in done.renormed]),
                      renormed=[t.id for t in done.renormed],
                      signed=[a["article_id"] for a in assignments if a["minhash"] is not None],
                      counted=counted, splits=writes)
        self.stats.splits += self.clusterer.splits
        self.stats.merges += self.clusterer.merges
        self.clusterer.splits = self.clusterer.merges = 0
        self.stats.batches += 1
        return batch


def _batch_sizes(batch_size: int, ramp: bool) -> Iterator[int]:
    """Batch sizes of a run: with a worker, ``FIRST_BATCH`` doubling up to ``batch_size``
    (analysing a batch takes about half as long as clustering one, so once started the
    worker keeps up; a full second batch would add its analysis to the wait for the
    worker's start); without, ``batch_size`` throughout."""
    size = min(batch_size, FIRST_BATCH) if ramp else batch_size
    while True:
        yield size
        size = min(batch_size, 2 * size)


def _tapered(size: int, remaining: int, taper: bool) -> int:
    """The next batch's size with ``remaining`` articles left: with ``taper`` (batches
    written in the background), the last batches halve down to ``FIRST_BATCH``, so that the
    one write nothing overlaps, the last batch's, is short (a 2,000-article batch took half
    a second to write, 5% of a 10,000-article run's time)."""
    return min(size, max(FIRST_BATCH, remaining // 2)) if taper else size


def _split_writes(done: Settled, threads: list[Thread],
                  assignments: list[dict]) -> SplitWrites:
    """What the split repair adds to a batch's writes: new assignments are pointed (in
    place) at the threads splits moved them to; moves of earlier articles, threads merged
    away, the kept members' features of the new articles (of ``threads``) and the threads
    that outgrew the repair, encoded."""
    moves = done.moves
    new = {a["article_id"] for a in assignments}
    for a in assignments:
        a["thread_id"] = moves.get(a["article_id"], a["thread_id"])
    members = [{"article_id": m.article_id, "features": member_to_json(m)}
               for t in threads for m in t.members if m.article_id in new]
    if moves:
        log.info("split repair: %d articles moved to other threads", len(moves))
    return SplitWrites(
        moves=store.move_params({a: t for a, t in moves.items() if a not in new}),
        dropped=done.dropped, members=store.member_params(members), outgrown=done.outgrown,
        moved=len(moves))


def _assignment(item: Item, decision: Decision, run_id: int | None, seq: int) -> dict:
    assert item.minhash is not None
    size = item.shingle_count
    return {"article_id": item.article_id, "thread_id": decision.thread_id,
            "score": decision.score, "duplicate_of": decision.duplicate_of, "run_id": run_id,
            "seq": seq, "minhash": to_bytes(item.minhash) if size else None, "shingles": size,
            "dated_start": item.start, "dated_end": item.end}


def cluster_pending(conn: psycopg.Connection, *, run_id: int | None = None,
                    limit: int | None = None, batch_size: int = BATCH,
                    params: Params | None = None, model: Model | None = None,
                    worker: bool | None = None,
                    follow: Callable[[], bool] | None = None) -> ClusterStats:
    """Assign every article not yet in a thread, in publication order (undated last).

    Writes ``threads``/``thread_articles`` (``duplicate_of`` for near-copies), labels, spans,
    imputed dates for undated members, and the clustering state, one committed transaction per
    batch under ``pg_advisory_xact_lock`` (see the module docstring). What is pending when the
    run starts is processed; articles arriving meanwhile wait for the next run. ``limit`` stops
    after that many articles; the next call continues exactly where this one stopped.
    ``worker`` analyses the next batch in a second process (``stories.prefetch``); by default
    when at least ``MIN_ARTICLES`` are pending. The result is the same either way.

    ``follow``: while it returns True (another connection is still storing articles, see
    ``tasks.ingest_and_thread``), a run that has threaded everything pending waits for
    more instead of ending, and ends once it returns False and nothing is left: storing and
    threading overlap. Each time the run catches up it takes, in publication order, what
    nothing still to come can precede (see ``_caught_up``): an archive stored in publication
    order gets the threads of one run after the ingest; articles stored out of order are late
    arrivals, as in scheduled runs.
    """
    if follow is not None and limit is not None:
        raise ValueError("cluster_pending: follow and limit do not go together")
    with relaxed_gc():
        return _cluster_pending(conn, run_id=run_id, limit=limit, batch_size=batch_size,
                                params=params, model=model, worker=worker, follow=follow)


def _cluster_pending(conn: psycopg.Connection, *, run_id: int | None, limit: int | None,
                     batch_size: int, params: Params | None, model: Model | None,
                     worker: bool | None, follow: Callable[[], bool] | None) -> ClusterStats:
    params = params or Params()
    stats = ClusterStats()
    began = time.perf_counter()
    with store.clustering_session(conn):
        with conn.transaction():  # pending now, in order (following: see ``_caught_up``)
            queue = store.pending_ids(conn, limit)[::-1] if follow is None else []
            bounds = store.follow_bounds(conn) if follow is not None else (0, 0)
        # Following, what is pending now says nothing of what is coming: the worker and the
        # background writer start as for a long run.
        expect = len(queue) if follow is None else max(len(queue), MIN_ARTICLES)
        if worker is None:
            worker = expect >= MIN_ARTICLES
        prefetch = Prefetcher(enabled=worker and batch_size < expect)
        # A second connection sees only what is committed: not the caller's own open
        # transaction (articles it has just inserted, say), so then batches stay on ``conn``.
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        writer = BatchWriter(conn, background=idle and expect > batch_size)
        try:
            _run_batches(conn, queue, batch_size, run_id, params, model, stats, prefetch,
                         writer, follow, bounds)
        finally:
            writer.close()
            stats.worker_peak_mb = prefetch.close()
        stats.imputed += writer.imputed
        if stats.batches >= VACUUM_EVERY:
            store.vacuum_state(conn)
        with conn.transaction():
            stats.imputed += store.impute_missing(conn)
    stats.seconds = time.perf_counter() - began
    log.info("clustered %d articles: %d new threads, %d duplicates, %d dates imputed, "
             "%d threads split and %d parts merged (%d articles moved) in %.2fs%s",
             stats.assigned, stats.new_threads, stats.duplicates, stats.imputed, stats.splits,
             stats.merges, stats.moved, stats.seconds, "" if ACCELERATED else
             " (C kernels not built: pure Python, same threads, about 2x slower; reinstall"
             " the package with a C compiler present)")
    return stats


def _run_batches(conn: psycopg.Connection, queue: list[int], batch_size: int,
                 run_id: int | None, params: Params, model: Model | None,
                 stats: ClusterStats, prefetch: Prefetcher, writer: BatchWriter,
                 follow: Callable[[], bool] | None = None,
                 bounds: tuple[int, int] = (0, 0)) -> None:
    """Batch k clusters here while the worker analyses k+1 and the writer commits k-1.

    The run holds the clustering lock throughout (``store.clustering_session``), so the
    state in memory stays the database's: nothing else moves it. Reads on ``conn`` are short
    transactions of their own and see only committed batches, so whatever reads back what
    the batch in flight writes waits for it (late arrivals fetching swept threads:
    ``_Runner``'s fetch) or does not touch it (forgetting document frequencies keeps the
    counts it increments; the rest come back from the database equal). VACUUM runs on the
    writer's connection after its commit."""
    with conn.transaction():
        store.fold_df_journal(conn)  # what a run that died between additions left
        if not queue and follow is None:
            return  # a scheduled run with nothing new: loading the state took seconds
        runner = _Runner(conn, params, model, stats, writer=writer)
    sizes = _batch_sizes(batch_size, prefetch.active)
    taper = writer.background and follow is None  # following, the last batch is not known
    size = _tapered(next(sizes), len(queue), taper)
    sent: dict[int, tuple[int, ArticleRow]] = {}  # the rows read for the worker, by id
    while True:
        if not queue:
            if follow is None or not _caught_up(conn, queue, follow, bounds, writer, stats):
                break
            # Nothing of these was sent to the worker: ramp up again, the first batch
            # analysed here while the worker takes the second (not a full batch here).
            sizes = _batch_sizes(batch_size, prefetch.active)
            size = next(sizes)
        with conn.transaction():
            ids = [queue.pop() for _ in range(min(size, len(queue)))]
            size = _tapered(next(sizes), len(queue), taper)
            rows = current_rows(conn, ids, sent)  # an edit or a rethread may have moved some
            sent = {}
            if prefetch.active and queue:
                sent = {row.id: (version, row) for version, row
                        in store.still_pending_versioned(conn, queue[:-size - 1:-1])}
            upcoming = [row for _, row in sent.values()]
        items = prefetch.items(rows)
        prefetch.submit(upcoming)  # the next batch, analysed while this one clusters
        if not items:
            continue
        with conn.transaction():  # document frequencies and late threads read on demand
            # The run's last batch adds every journalled count, and so does its last full
            # one when batches taper: the small ones after it leave the last write little
            # to add.
            add_all = not queue or (writer.background
                                    and len(queue) < batch_size <= len(queue) + len(ids))
            batch = runner.process(items, run_id, prefetch.counted, add_all=add_all)
        vacuum = (store.vacuum_state if (stats.batches % VACUUM_EVERY == 0 and queue)
                  else None)
        writer.submit(batch, then=vacuum)  # VACUUM after the commit, on the writer's thread
        runner.clusterer.sweep()
        # Every batch before this one is committed (submit waited for it): what is not in
        # memory comes back from the database, except the counts of the batch in flight.
        runner.bound_memory(pending=batch.counted)
    writer.wait()
    if runner.journalled:  # the last batch had nothing left to cluster, so added nothing
        with conn.transaction():
            store.fold_df_journal(conn, leftover=False)
        runner.unfolded, runner.journalled = Counter(), 0
    swept = runner.clusterer.settle().outgrown
    if swept:  # members of threads the last sweep let go (see Clusterer.sweep)
        with conn.transaction():
            store.forget_members(conn, swept)


def _caught_up(conn: psycopg.Connection, queue: list[int], follow: Callable[[], bool],
               bounds: tuple[int, int], writer: BatchWriter, stats: ClusterStats) -> bool:
    """A following run has threaded its queue: wait until more articles can be taken (into
    ``queue``, True) or ``follow`` says storing is over and none are pending (False). While
    storing goes on, only articles nothing still to come sorts before are taken
    (``store.pending_settled_ids``): an archive stored in publication order is threaded in
    the order of one run after the ingest, so a month-dated article is no late arrival.
    ``follow`` is asked before each look, so the last look sees every article stored."""
    writer.wait()  # every batch committed: what it threaded is not pending any more
    while True:
        storing = follow()
        with conn.transaction():
            more = (store.pending_settled_ids(conn, *bounds) if storing
                    else store.pending_ids(conn))
        if more:
            queue.extend(reversed(more))
            stats.caught_up += 1
            return True
        if not storing:
            return False
        time.sleep(FOLLOW_POLL_S)


def current_rows(conn: psycopg.Connection, ids: list[int],
                 read: dict[int, tuple[int, ArticleRow]]) -> list[ArticleRow]:
    """The rows of ``ids`` still in no thread, in order. A row already ``read`` (id →
    (version, row), the batch's rows as they were sent to the worker) is used as it was
    when its version is unchanged; only the others are read again (their text is most of a
    batch's bytes)."""
    if not read:
        return store.still_pending(conn, ids)
    versions = store.pending_versions(conn, ids)
    kept = {i: read[i][1] for i, version in versions if i in read and read[i][0] == version}
    stale = [i for i, _ in versions if i not in kept]
    fresh = {row.id: row for row in store.still_pending(conn, stale)} if stale else {}
    # an id in neither was deleted between the two reads
    return [kept[i] if i in kept else fresh[i] for i, _ in versions if i in kept or i in fresh]


def rethread(conn: psycopg.Connection, start: datetime, end: datetime, *,
             dry_run: bool = False, params: Params | None = None,
             model: Model | None = None) -> RethreadResult:
    """Re-cluster the articles published in [start, end) from scratch, deterministically.

    The window's articles (and the undated members of threads they are in) leave their threads
    and are clustered again by a fresh clusterer, in publication order, with document
    frequencies counted over the window only: the same input always gives the same threads,
    and rethreading everything gives what a first run on an empty database gives. Threads that
    also hold articles outside the window keep those and have their state rebuilt. With
    ``dry_run`` nothing is written (the transaction is rolled back) but the result tells how
    many articles would change company.
    """
    params = params or Params()
    result = RethreadResult(dry_run=dry_run)
    began = time.perf_counter()
    tx = conn.transaction(force_rollback=dry_run)
    with tx:
        store.lock_clustering(conn)
        store.fold_df_journal(conn)  # before any count is read
        rows = store.window_articles(conn, start, end)
        ids = [r.id for r in rows]
        result.articles = len(ids)
        before = store.thread_assignment_rows(conn, ids)
        result.threads_before = len({t for _, t, _ in before})
        counted = store.counted_articles(conn, ids)
        left = store.clear_assignments(conn, ids)
        deleted = set(store.delete_empty_threads(conn, left))
        n_docs, seq, hwm = store.read_counters(conn)

        fresh = State()
        clusterer = Clusterer(fresh, params=params, model=model, new_id=_IdBlock(conn))
        stats = result.stats
        assignments = []
        df_new: Counter[str] = Counter()
        new_docs = 0
        for row in rows:
            item = item_from_row(row)
            decision = clusterer.assign(item)
            stats.assigned += 1
            stats.new_threads += decision.new_thread
            stats.duplicates += decision.duplicate_of is not None
            assignments.append(_assignment(item, decision, None, seq + fresh.seq))
            if item.article_id not in counted:
                new_docs += 1
                df_new.update(doc_keys(item))
            hwm = advanced_mark(hwm, item)
        # The window's threads join the global stream: shift their sequence numbers and let
        # their norms be recomputed with the global document frequencies when next used.
        # The fresh state's index holds the unshifted created_seq: nothing reads it again,
        # and it is emptied so that nothing can.
        clusterer.state.index.clear()
        new_threads = list(clusterer.state.threads.values())
        for thread in new_threads:
            thread.created_seq += seq
            thread.last_seq += seq
            thread.norm_epoch = -1
        stats.splits, stats.merges = clusterer.splits, clusterer.merges
        ordered = sorted(new_threads, key=lambda t: t.id)
        writes = _split_writes(clusterer.settle(), ordered, assignments)
        stats.moved = writes.moved
        write_batch(conn, Batch(
            threads=store.thread_params([thread_to_row(t) for t in new_threads]),
            assignments=store.assignment_params(assignments),
            increments=store.df_params(df_new),
            counters=(n_docs + new_docs, seq + fresh.seq, hwm), touched=[], splits=writes))
        _rebuild_threads(conn, [t for t in left if t not in deleted], params)
        stats.imputed = store.impute_dates(conn, None)
        after = store.thread_assignment_rows(conn, ids)
        result.threads_after = len({t for _, t, _ in after})
        result.moved = _moved(before, after)
    stats.seconds = time.perf_counter() - began
    return result


def _rebuild_threads(conn: psycopg.Connection, thread_ids: list[int], params: Params) -> None:
    """Recompute the state of threads that lost members to a rethread, from what is left,
    with the global document frequencies."""
    if not thread_ids:
        return
    n_docs, seq, hwm = store.read_counters(conn)
    state = State(n_docs=n_docs, seq=seq, hwm=hwm,
                  df_loader=lambda terms: store.read_df(conn, terms))
    clusterer = Clusterer(state, params=params)
    for old in store.thread_rows(conn, thread_ids):
        members = store.thread_member_rows(conn, int(old["thread_id"]))
        rebuilt = Thread(id=int(old["thread_id"]), created_seq=int(old["created_seq"]),
                         last_seq=int(old["last_seq"]))
        state.add_thread(rebuilt)
        for row in members:
            item = item_from_row(row)
            state.ensure_df(doc_keys(item))
            clusterer.join(rebuilt, item)
        rebuilt.last_seq = int(old["last_seq"])
        store.save_threads(conn, store.thread_params([thread_to_row(rebuilt)]))


def _moved(before: list[tuple[int, int, int | None]],
           after: list[tuple[int, int, int | None]]) -> int:
    """Articles whose thread-mates (within the compared set) differ after the change."""
    def groups(rows: list[tuple[int, int, int | None]]) -> dict[int, frozenset[int]]:
        by_thread: dict[int, set[int]] = {}
        for a, t, _ in rows:
            by_thread.setdefault(t, set()).add(a)
        return {a: frozenset(by_thread[t]) for a, t, _ in rows}

    b, a = groups(before), groups(after)
    return sum(1 for art in set(b) | set(a) if b.get(art) != a.get(art))
