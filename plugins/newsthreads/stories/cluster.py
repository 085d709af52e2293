"""Online story clustering: each article, in publication order, joins a thread or opens one.

The state (document frequencies, active threads with their term sums, an inverted index from
top terms/entities to threads, MinHash signatures of recent articles) is plain data in
:class:`State`; ``stories.service`` loads it from and saves it to Postgres, ``stories.evaluate``
and the benchmark run it in memory. No SQL here.

Rules that make a run reproducible and a restart equal to one long run:

* Every decision depends only on the state and the article, never on what happens to be
  cached: a thread is a *candidate* by rule (:meth:`Clusterer.eligible`), the in-memory set of
  active threads is only a superset of the candidates, and threads that a late article needs
  but that were swept out of memory are fetched back through ``fetch``.
* Thread vectors are sums of per-article unit TF vectors, IDF is applied when comparing, and
  cached norms are recomputed on deterministic events and saved with the thread.
* Ties are broken by creation order, never by dict or set order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from datasketch import MinHash

from newsthreads.stories.analyse import ENTITY_PREFIX, Features
from newsthreads.stories.duplicates import DuplicateIndex, signature
from newsthreads.stories.model import MODEL, Model, PairFeatures, pair_features

DAY = 86400.0


@dataclass(frozen=True)
class Params:
    """Knobs of the clustering that are not learnt weights (see ``stories/README.md``)."""

    window_days: float = 30.0  # a dated thread is a candidate while its span is this close
    undated_span: int = 20_000  # threads stay candidates for undated articles this many steps
    query_keys: int = 24  # an article's top terms/entities looked up in the index
    index_keys: int = 24  # a thread's top terms/entities it is indexed under
    max_candidates: int = 40  # threads scored per article, most shared keys first
    centroid_terms: int = 240  # a thread keeps this many terms (and half as many entities)
    sweep_every: int = 512  # free memory of inactive threads every N articles


@dataclass
class Item:
    """An article to thread. ``start``/``end`` are None when it is undated (or imputed)."""

    article_id: int
    features: Features
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    minhash: MinHash | None = None

    @property
    def dated(self) -> bool:
        return self.start is not None and self.end is not None


@dataclass
class Thread:
    """One thread's running state: what scoring, labelling and the index need."""

    id: int
    created_seq: int
    last_seq: int
    n: int = 0
    first_at: datetime | None = None
    last_end: datetime | None = None
    text: dict[str, float] = field(default_factory=dict)  # Σ member unit TF vectors
    ents: dict[str, float] = field(default_factory=dict)
    display: dict[str, str] = field(default_factory=dict)  # entity key → surface form
    keys: tuple[str, ...] = ()
    norm_text: float = 0.0  # |Σ tf·idf| at norm_epoch
    norm_ents: float = 0.0
    norm_epoch: int = -1
    title: str | None = None
    title_terms: tuple[str, ...] = ()
    members: list[int] = field(default_factory=list)  # article ids with a signature in memory
    dirty: bool = False

    @property
    def dated(self) -> bool:
        return self.last_end is not None


@dataclass(frozen=True)
class Decision:
    """Where one article went and why."""

    article_id: int
    thread_id: int
    new_thread: bool
    duplicate_of: int | None = None
    score: float | None = None


@dataclass
class State:
    """Everything a run continues from. ``df`` may be loaded lazily through ``df_loader``."""

    n_docs: int = 0
    seq: int = 0
    hwm: datetime | None = None  # latest article start seen
    swept_hwm: datetime | None = None  # dated threads ending before this - window were swept
    df: dict[str, int] = field(default_factory=dict)
    threads: dict[int, Thread] = field(default_factory=dict)
    index: dict[str, set[int]] = field(default_factory=dict)
    dups: DuplicateIndex = field(default_factory=DuplicateIndex)
    dup_thread: dict[int, int] = field(default_factory=dict)  # article → thread (signatures)
    dup_root: dict[int, int] = field(default_factory=dict)  # article → its original
    df_dirty: dict[str, int] = field(default_factory=dict)  # increments not yet saved
    df_loader: Callable[[list[str]], dict[str, int]] | None = None

    def ensure_df(self, terms: Iterable[str]) -> None:
        missing = [t for t in terms if t not in self.df]
        if not missing:
            return
        loaded = self.df_loader(sorted(missing)) if self.df_loader else {}
        for t in missing:
            self.df[t] = loaded.get(t, 0)

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def epoch(self) -> int:
        # Cached thread norms are refreshed when the corpus has grown by 10 %.
        return int(math.log(self.n_docs + 1) / math.log(1.1))

    def add_thread(self, thread: Thread) -> None:
        self.threads[thread.id] = thread
        for key in thread.keys:
            self.index.setdefault(key, set()).add(thread.id)

    def drop_thread(self, thread: Thread) -> None:
        for key in thread.keys:
            posting = self.index.get(key)
            if posting is not None:
                posting.discard(thread.id)
                if not posting:
                    del self.index[key]
        for article_id in thread.members:
            self.dups.remove(article_id)
            self.dup_thread.pop(article_id, None)
            self.dup_root.pop(article_id, None)
        del self.threads[thread.id]

    def add_signature(self, article_id: int, thread_id: int, mh: MinHash, size: int,
                      root: int | None) -> None:
        if size == 0:
            return
        self.dups.add(article_id, mh, size)
        self.dup_thread[article_id] = thread_id
        if root is not None:
            self.dup_root[article_id] = root
        self.threads[thread_id].members.append(article_id)


def interval_gap_days(a_start: datetime, a_end: datetime, b_start: datetime,
                      b_end: datetime) -> float:
    """Days between two [start, end) intervals; 0 when they overlap (precision respected)."""
    gap = max((b_start - a_end).total_seconds(), (a_start - b_end).total_seconds(), 0.0)
    return gap / DAY


class Clusterer:
    """Assigns items one at a time. ``new_id`` allocates thread ids; ``fetch`` returns threads
    (with member signatures) that a late article may join but that are no longer in memory."""

    def __init__(self, state: State, *, params: Params | None = None,
                 model: Model | None = None, new_id: Callable[[], int] | None = None,
                 fetch: Callable[[Clusterer, Item, list[str]], None] | None = None) -> None:
        self.state = state
        self.params = params or Params()
        self.model = model or MODEL
        self._next = max(state.threads, default=0) + 1
        self.new_id = new_id or self._counter
        self.fetch = fetch
        self.window = timedelta(days=self.params.window_days)
        self.touched: dict[int, Thread] = {}

    def _counter(self) -> int:
        self._next += 1
        return self._next - 1

    # -- rules -----------------------------------------------------------------------------

    def eligible(self, thread: Thread, item: Item) -> bool:
        """May ``item`` join ``thread``? A function of both and of (seq, hwm) only."""
        st, p = self.state, self.params
        recent = thread.last_seq > st.seq - p.undated_span
        if item.dated and thread.dated:
            assert item.start and item.end and thread.first_at and thread.last_end
            return (thread.last_end >= item.start - self.window
                    and thread.first_at <= item.end + self.window)
        if thread.dated and not item.dated:
            assert thread.last_end is not None
            return recent or (st.hwm is not None and thread.last_end >= st.hwm - self.window)
        return recent

    def _sweepable(self, thread: Thread) -> bool:
        st, p = self.state, self.params
        if thread.last_seq > st.seq - p.undated_span:
            return False
        if not thread.dated:
            return True
        assert thread.last_end is not None and st.hwm is not None
        return thread.last_end < st.hwm - self.window

    def sweep(self) -> None:
        """Forget threads no in-order article can join; they stay in the database."""
        st = self.state
        for thread in [t for t in st.threads.values() if self._sweepable(t)]:
            if thread.dirty:
                continue  # not saved yet: the service sweeps again after saving
            st.drop_thread(thread)
        st.swept_hwm = st.hwm

    # -- vectors ----------------------------------------------------------------------------

    def _weighted(self, vec: dict[str, float]) -> dict[str, float]:
        idf = self.state.idf
        w = {t: v * idf(t) for t, v in vec.items()}
        norm = math.sqrt(sum(x * x for x in w.values()))
        return {t: x / norm for t, x in w.items()} if norm else {}

    def _refresh_norms(self, thread: Thread) -> None:
        idf = self.state.idf
        thread.norm_text = math.sqrt(sum((v * idf(t)) ** 2 for t, v in thread.text.items()))
        thread.norm_ents = math.sqrt(sum((v * idf(t)) ** 2 for t, v in thread.ents.items()))
        thread.norm_epoch = self.state.epoch()

    def _cos(self, vec: dict[str, float], centroid: dict[str, float], norm: float) -> float:
        if not norm:
            return 0.0
        idf = self.state.idf
        dot = 0.0
        for t, w in vec.items():
            c = centroid.get(t)
            if c is not None:
                dot += w * c * idf(t)
        return dot / norm

    def _top(self, vec: dict[str, float], k: int) -> list[str]:
        idf = self.state.idf
        return [t for _, t in heapq.nsmallest(k, ((-v * idf(t), t) for t, v in vec.items()))]

    # -- the step ---------------------------------------------------------------------------

    def assign(self, item: Item) -> Decision:
        query = self.begin(item)
        mh = item.minhash if item.minhash is not None else signature(item.features.shingles)
        decision = self._duplicate(item, mh, len(item.features.shingles))
        if decision is None:
            decision = self._best_thread(item, query)
        self.finish(item, decision, mh)
        return decision

    def begin(self, item: Item) -> list[str]:
        """Advance the stream to ``item``; returns its index query keys."""
        st, feats = self.state, item.features
        st.seq += 1
        st.ensure_df(list(feats.terms) + list(feats.entities))
        if item.dated:
            assert item.start is not None
            if st.hwm is None or item.start > st.hwm:
                st.hwm = item.start
        query = self._top({**feats.terms, **feats.entities}, self.params.query_keys)
        if self.fetch and item.dated and st.swept_hwm is not None and item.start < st.swept_hwm:
            self.fetch(self, item, query)  # a late arrival: bring back its era's threads
        return query

    def new_thread(self) -> Thread:
        st = self.state
        thread = Thread(id=self.new_id(), created_seq=st.seq, last_seq=st.seq)
        st.add_thread(thread)
        return thread

    def finish(self, item: Item, decision: Decision, mh: MinHash | None = None) -> None:
        """Add ``item`` to the thread decided on, count its terms, sweep now and then."""
        st, feats = self.state, item.features
        thread = st.threads[decision.thread_id]
        self.join(thread, item)
        if mh is None:
            mh = item.minhash if item.minhash is not None else signature(feats.shingles)
        st.add_signature(item.article_id, thread.id, mh, len(feats.shingles),
                         decision.duplicate_of)
        for t in list(feats.terms) + list(feats.entities):
            st.df[t] = st.df.get(t, 0) + 1
            st.df_dirty[t] = st.df_dirty.get(t, 0) + 1
        st.n_docs += 1
        if st.seq % self.params.sweep_every == 0:
            self.sweep()

    def _duplicate(self, item: Item, mh: MinHash, size: int) -> Decision | None:
        st = self.state
        for match in st.dups.matches(mh, size):
            thread = st.threads.get(st.dup_thread.get(match.article_id, -1))
            if thread is None or not self.eligible(thread, item):
                continue
            original = st.dup_root.get(match.article_id, match.article_id)
            score = max(match.jaccard, match.containment)
            return Decision(item.article_id, thread.id, False, original, score)
        return None

    def candidates(self, item: Item, query: list[str]) -> list[Thread]:
        st = self.state
        counts: dict[int, int] = {}
        for key in query:
            for tid in st.index.get(key, ()):
                counts[tid] = counts.get(tid, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], st.threads[kv[0]].created_seq))
        out = []
        for tid, _ in ranked:
            thread = st.threads[tid]
            if self.eligible(thread, item):
                out.append(thread)
                if len(out) >= self.params.max_candidates:
                    break
        return out

    def weighted(self, item: Item) -> tuple[dict[str, float], dict[str, float]]:
        """The item's unit TF-IDF vectors (text, entities) with the current IDF."""
        return self._weighted(item.features.terms), self._weighted(item.features.entities)

    def pair(self, item: Item, thread: Thread, text_w: dict[str, float],
             ents_w: dict[str, float]) -> PairFeatures:
        """The features the model scores for (item, thread)."""
        if thread.norm_epoch != self.state.epoch():
            self._refresh_norms(thread)
        cos_text = self._cos(text_w, thread.text, thread.norm_text)
        cos_ents = self._cos(ents_w, thread.ents, thread.norm_ents)
        gap = None
        if item.dated and thread.dated:
            assert item.start and item.end and thread.first_at and thread.last_end
            gap = interval_gap_days(item.start, item.end, thread.first_at, thread.last_end)
        return pair_features(cos_text, cos_ents, gap, thread.n)

    def _best_thread(self, item: Item, query: list[str]) -> Decision:
        text_w, ents_w = self.weighted(item)
        best: tuple[float, int] | None = None
        for thread in self.candidates(item, query):
            s = self.model.probability(self.pair(item, thread, text_w, ents_w))
            if best is None or s > best[0]:
                best = (s, thread.id)
        if best is not None and best[0] >= self.model.threshold:
            return Decision(item.article_id, best[1], False, None, best[0])
        return Decision(item.article_id, self.new_thread().id, True, None, None)

    def join(self, thread: Thread, item: Item) -> None:
        """Add ``item`` to ``thread``: vectors, span, title, index keys, norms."""
        st, p = self.state, self.params
        feats = item.features
        for t, v in feats.terms.items():
            thread.text[t] = thread.text.get(t, 0.0) + v
        for t, v in feats.entities.items():
            thread.ents[t] = thread.ents.get(t, 0.0) + v
            if t not in thread.display:
                thread.display[t] = feats.display.get(t, t.removeprefix(ENTITY_PREFIX))
        if len(thread.text) > 2 * p.centroid_terms:
            keep = set(self._top(thread.text, p.centroid_terms))
            thread.text = {t: v for t, v in thread.text.items() if t in keep}
        if len(thread.ents) > p.centroid_terms:
            keep = set(self._top(thread.ents, p.centroid_terms // 2))
            thread.ents = {t: v for t, v in thread.ents.items() if t in keep}
            thread.display = {t: s for t, s in thread.display.items() if t in keep}
        thread.n += 1
        thread.last_seq = st.seq
        if item.dated:
            assert item.start is not None and item.end is not None
            thread.first_at = item.start if thread.first_at is None else min(
                thread.first_at, item.start)
            thread.last_end = item.end if thread.last_end is None else max(
                thread.last_end, item.end)
        self._refresh_norms(thread)
        if item.title and feats.title_terms:
            if thread.title is None or (self._title_score(thread, feats.title_terms)
                                        > self._title_score(thread, thread.title_terms)):
                thread.title, thread.title_terms = item.title, feats.title_terms
        keys = tuple(sorted(self._top({**thread.text, **thread.ents}, p.index_keys)))
        if keys != thread.keys:
            for key in set(thread.keys) - set(keys):
                posting = st.index.get(key)
                if posting is not None:
                    posting.discard(thread.id)
                    if not posting:
                        del st.index[key]
            for key in set(keys) - set(thread.keys):
                st.index.setdefault(key, set()).add(thread.id)
            thread.keys = keys
        thread.dirty = True
        self.touched[thread.id] = thread

    def _title_score(self, thread: Thread, terms: tuple[str, ...]) -> float:
        """How central a title is: its terms' weight in the centroid (most central wins)."""
        if not terms or not thread.norm_text:
            return 0.0
        idf = self.state.idf
        total = sum(thread.text.get(t, 0.0) * idf(t) for t in terms)
        return total / (thread.norm_text * math.sqrt(len(terms)))
