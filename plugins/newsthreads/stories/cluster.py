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

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from newsthreads.stories.analyse import ENTITY_PREFIX, Features
from newsthreads.stories.duplicates import DuplicateIndex, Entry, Signature, signature
from newsthreads.stories.kernels import (
    NUMBER_KEY,
    add_into,
    count_doc,
    cross_mean,
    dot,
    dots,
    entity_unit,
    first_ranked,
    heaviest,
    idf_local,
    idf_norms,
    mean,
    member_vec,
    missing,
    names,
    pair_scores,
    pruned,
    quantised_df,
    scaled,
    sorted_cut,
    split_groups,
    title_weight,
    top_keys,
    top_keys_of,
    unit_weighted,
)
from newsthreads.stories.model import MODEL, Model, PairFeatures

DAY = 86400.0
EPOCH_GROWTH = 1.25  # IDF's document count moves in steps of this factor
SLACK = timedelta(days=32)  # the longest interval processed in order (a month)
TOP_ENTS = 5  # the "who and where" of an article or thread


@dataclass(frozen=True)
class Params:
    """Knobs of the clustering that are not learnt weights (see ``stories/README.md``)."""

    window_days: float = 21.0  # a dated thread is a candidate while its span is this close
    undated_span: int = 20_000  # threads stay candidates for undated articles this many steps
    query_keys: int = 24  # an article's top terms/entities looked up in the index
    index_keys: int = 24  # a thread's top terms/entities it is indexed under
    max_candidates: int = 20  # threads retrieved per article, most shared keys first
    score_top: int = 6  # of which the closest (language-blind cosine) are fully scored
    shortlist_terms: int = 20  # ... the closest by the article's heaviest language-blind terms
    centroid_terms: int = 150  # a thread keeps this many terms (and half as many entities)
    item_terms: int = 100  # an article is compared on its heaviest terms (half for entities)
    sweep_every: int = 512  # free memory of inactive threads every N articles
    dup_days: float = 7.0  # a near-copy is looked for among articles this close in time
    dup_span: int = 5_000  # ... or, when either is undated, among the last this many
    # Split repair (``Clusterer.split``): a thread of at most ``split_max`` members keeps its
    # members' features; after each join it is re-checked and split in two when its members
    # form two groups whose mutual similarity is below ``split_ratio`` × the weaker group's
    # inner similarity (0 turns the repair off).
    split_max: int = 16
    split_ratio: float = 0.5
    split_min: int = 2  # members in each part, at least
    split_days: float = 2.0  # parts whose dated members are this close in time stay one
    split_lang: float = 0.5  # ... and so do parts that share less language than this
    # Parts that name different years (a year written by at least half of one part's members
    # and by under ``split_year_share`` of the other's) split up to this ratio instead.
    split_ratio_years: float = 0.6
    split_year_share: float = 0.25
    # ... and up to ``split_ratio_many`` when each of them has at least ``split_many``
    # members: a gap between the mean similarities of two groups of a few short texts is
    # mostly noise (a two-member group's inner mean rests on one pair), over six members a
    # side (fifteen inner pairs each, thirty-six across) it is a measurement. ECB+'s mixed
    # threads (one product's or one law's events in two years) sat at 0.70-0.79 at every
    # check with six and more members a side; one story cut by names sat that low only
    # with a group of five or fewer.
    split_many: int = 6
    split_ratio_many: float = 0.8
    # Parts without time evidence (one of them has no dated member, so ``split_days`` cannot
    # hold them together) split only when they name different years: a split needs two
    # pieces of evidence, different names *and* different times, and the years written are
    # all the time an undated article tells (on ECB+ every undated split on names alone cut
    # one story in two).
    split_untimed_years: bool = True
    # Members are compared on their "entities" (names, numbers and dates written: who, where,
    # when, how many) or on "all" their keys.
    split_on: str = "entities"
    # A small thread just joined is merged with another thread the article also reached the
    # threshold with, when their members are as alike as this ratio asks (0: never).
    rejoin_ratio: float = 0.5
    member_terms: int = 40  # a member keeps this many keys of each kind (heaviest by TF-IDF)
    member_vec: int = 100  # ... and its similarity vector this many keys of all kinds
    # ... while the thread was joined within the last ``member_span`` articles: a wrong early
    # join shows while the thread is young, and members cost memory (~20 kB each; a stream of
    # 1,500 articles a day held 1.1 GB of them at 100,000 articles without this bound)
    member_span: int = 3_000


@dataclass
class Item:
    """An article to thread. ``start``/``end`` are None when it is undated (or imputed)."""

    article_id: int
    features: Features
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    minhash: Signature | None = None
    shingles: int | None = None  # the shingle count, when features.shingles was dropped

    @property
    def dated(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def shingle_count(self) -> int:
        return len(self.features.shingles) if self.shingles is None else self.shingles

    @property
    def precise(self) -> bool:
        """Dated to the day or better (a month date says little about which event)."""
        return (self.start is not None and self.end is not None
                and (self.end - self.start).total_seconds() <= 2 * DAY)


@dataclass
class Member:
    """What a small thread keeps of one member, so that it can be re-checked and rebuilt:
    its features (heaviest ``member_terms`` keys of each kind, no shingles) and its unit
    TF-IDF vector over all keys as it was when it joined (``vec``, frozen: similarities
    between members depend on nothing else). Dicts are in canonical (sorted) key order, so
    sums over them are the same after a round trip through the database."""

    article_id: int
    features: Features
    vec: dict[str, float]
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    seq: int = 0  # when it was processed: members are rebuilt in this order
    # ``vec`` cut to its entity keys (names, numbers and dates written), renormalised: what
    # the split repair compares members on (derived, never saved)
    ents: dict[str, float] | None = field(default=None, repr=False, compare=False)

    @property
    def dated(self) -> bool:
        return self.start is not None and self.end is not None

    def names_vec(self) -> dict[str, float]:
        if self.ents is None:
            self.ents = entity_unit(self.vec)
        return self.ents

    def item(self) -> Item:
        return Item(self.article_id, self.features, self.start, self.end, self.title,
                    shingles=0)


def canonical(features: Features, k: int | None = None,
              idf: dict[str, float] | None = None) -> Features:
    """``features`` without shingles, each vector cut to its ``k`` heaviest keys by TF × IDF
    (all when None) and in the key order ``analyse`` builds (sorted; names before
    numbers)."""
    def cut(vec: dict[str, float]) -> dict[str, float]:
        if k is not None and idf is not None:
            return sorted_cut(vec, idf, k)
        return dict(sorted(vec.items()))

    ents = features.entities
    named = names(ents)
    numbers = {t: v for t, v in ents.items() if t not in named} if len(named) < len(ents) else {}
    entities = {**cut(named), **cut(numbers)}
    return Features(
        language=features.language, terms=cut(features.terms), entities=entities,
        xling=cut(features.xling),
        display={t: d for t, d in features.display.items() if t in entities},
        title_terms=features.title_terms, shingles=frozenset(), tokens=features.tokens)


@dataclass
class Settled:
    """What the clusterer changed since it last settled (see ``Clusterer.settle``)."""

    touched: list[Thread]  # threads changed, by id
    renormed: list[Thread]  # other threads whose norms alone were refreshed, by id
    moves: dict[int, int]  # articles a split or merge moved: article id → its thread now
    dropped: list[int]  # threads merged into another (now empty)
    outgrown: list[int]  # threads whose kept members were let go


@dataclass
class Thread:
    """One thread's running state: what scoring, labelling and the index need."""

    id: int
    created_seq: int
    last_seq: int
    n: int = 0
    first_at: datetime | None = None  # span of all dated members
    last_end: datetime | None = None
    precise_first: datetime | None = None  # span of the members dated to the day or better
    precise_end: datetime | None = None
    text: dict[str, float] = field(default_factory=dict)  # Σ member unit TF vectors
    ents: dict[str, float] = field(default_factory=dict)
    xling: dict[str, float] = field(default_factory=dict)
    langs: dict[str, int] = field(default_factory=dict)  # members per language
    display: dict[str, str] = field(default_factory=dict)  # entity key → surface form
    keys: tuple[str, ...] = ()
    top_ents: tuple[str, ...] = ()  # heaviest entities, refreshed with the keys
    norm_text: float = 0.0  # |Σ tf·idf| at norm_epoch
    norm_ents: float = 0.0
    norm_xling: float = 0.0
    norm_epoch: int = -1
    title: str | None = None
    title_terms: tuple[str, ...] = ()
    dirty: bool = False
    members: list[Member] = field(default_factory=list)  # while n <= split_max, in order
    # sims[i][j], j < i: cosine of members i and j, filled in as members come (a pure
    # function of their frozen vectors, so never saved)
    sims: list[list[float]] = field(default_factory=list, repr=False, compare=False)

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


class _IdfCache(dict):
    """term → IDF at the current epoch; a missing term is computed (and kept) on lookup, so hot
    loops index it directly instead of calling a Python function per term."""

    __slots__ = ("df", "nq1")

    def __init__(self) -> None:
        super().__init__()
        self.df: dict[str, int] = {}
        self.nq1 = 1.0

    def __missing__(self, term: str) -> float:
        value = self[term] = math.log(self.nq1 / (quantised_df(self.df.get(term, 0)) + 1)) + 1.0
        return value


def held_keys(threads: Iterable[Thread], into: set[str] | None = None) -> set[str]:
    """The keys whose document frequencies ``threads`` need while in memory (added to
    ``into``): those of their sums and of their kept members (a member's key may have been
    pruned from its thread's sums; a split rejoins the member with it, with its IDF). What
    ``State.forget_df`` keeps and what loading threads brings in: where the two differ, a
    count not in memory reads as 0."""
    held = set() if into is None else into
    for thread in threads:
        held.update(thread.text, thread.ents, thread.xling)
        for m in thread.members:
            held.update(m.features.terms, m.features.entities, m.features.xling)
    return held


@dataclass
class State:
    """Everything a run continues from. ``df`` may be loaded lazily through ``df_loader``."""

    n_docs: int = 0
    seq: int = 0
    hwm: datetime | None = None  # latest end of a dated article's interval seen (``reach``)
    swept_before: datetime | None = None  # threads ending before this may be out of memory
    sigs_swept_before: datetime | None = None  # ... signatures of articles ending before this
    df: dict[str, int] = field(default_factory=dict)
    threads: dict[int, Thread] = field(default_factory=dict)
    # index key → {thread id: its created_seq}: candidates are ranked by creation without
    # looking up the threads (most that share a key or two are never taken)
    index: dict[str, dict[int, int]] = field(default_factory=dict)
    dups: DuplicateIndex = field(default_factory=DuplicateIndex)
    df_loader: Callable[[list[str]], dict[str, int]] | None = None
    # (lo, hi): every dated thread whose span comes within [lo, hi] is in memory, whatever
    # ``swept_before`` says (late articles fetched them back, see ``covers``); the sweep
    # keeps them. Memory only: what is in memory never changes a decision.
    late_cover: tuple[datetime, datetime] | None = None

    # IDF is computed with the document count rounded down to a power of 1.25 (the "epoch"),
    # so values can be cached until the epoch or the term's count changes. A pure function of
    # (n_docs, df): a restarted run computes exactly the same weights.
    _idf: _IdfCache = field(default_factory=_IdfCache, repr=False)
    _idf_n: int = field(default=-1, repr=False)
    _epoch: int = field(default=-1, repr=False)
    _nq: float = field(default=0.0, repr=False)

    def forget_df(self, keep: Iterable[str] = ()) -> int:
        """Drop the counts (and cached IDF) of terms no thread in memory holds, so memory is
        bounded by the active window, not the archive. Kept: the keys of threads in memory
        and of their kept members (a member's key may have been pruned from its thread's
        sums; a split rejoins the member with it). Only with a ``df_loader`` (the counts
        are in the database and come back on demand, with the same values); terms whose
        counts the database may not have yet (a batch still being written) are in ``keep``.
        Returns how many were dropped."""
        if self.df_loader is None:
            return 0
        held = held_keys(self.threads.values(), set(keep))
        before = len(self.df)
        self.df = {t: c for t, c in self.df.items() if t in held}
        idf = self._idf
        for t in [t for t in idf if t not in held]:
            del idf[t]
        return before - len(self.df)

    def covers(self, lo: datetime, hi: datetime) -> bool:
        """Are all dated threads whose span comes within [lo, hi] in memory by
        ``late_cover``?"""
        cover = self.late_cover
        return cover is not None and cover[0] <= lo and hi <= cover[1]

    def in_cover(self, thread: Thread) -> bool:
        """Does ``thread``'s span come within ``late_cover`` (so the sweep keeps it)?"""
        cover = self.late_cover
        return (cover is not None and thread.last_end is not None
                and thread.first_at is not None and thread.last_end >= cover[0]
                and thread.first_at <= cover[1])

    def ensure_df(self, terms: Iterable[str]) -> None:
        self._load_df([t for t in terms if t not in self.df])

    def ensure_df_of(self, features: Features) -> None:
        """``ensure_df`` for every key of an article's features."""
        self._load_df(missing(self.df, features.terms, features.entities, features.xling))

    def _load_df(self, absent: list[str]) -> None:
        """Bring the counts of ``absent`` keys into ``df`` (0 for keys never counted), in
        key order whatever order they come in."""
        if not absent:
            return
        absent.sort()
        loaded = self.df_loader(absent) if self.df_loader else {}
        for t in absent:
            self.df[t] = loaded.get(t, 0)
            self._idf.pop(t, None)

    def count_doc(self, *vecs: dict[str, float]) -> None:
        """One more document containing the keys of ``vecs``; a cached IDF is dropped only
        when the key's quantised count moved."""
        count_doc(self.df, self._idf, *vecs)
        self.n_docs += 1

    def _sync(self) -> None:
        epoch = int(math.log(self.n_docs + 1) / math.log(EPOCH_GROWTH))
        if epoch != self._epoch:
            self._epoch = epoch
            self._nq = math.floor(EPOCH_GROWTH ** epoch)
            self._idf.clear()
        self._idf_n = self.n_docs

    def idf(self, term: str) -> float:
        return self.idf_map()[term]

    def idf_fn(self) -> Callable[[str], float]:
        """``idf`` as a fast local function, valid until the next ``count_doc``."""
        return self.idf_map().__getitem__

    def idf_map(self) -> dict[str, float]:
        """term → IDF as a mapping that fills itself in (index it, do not ``get``), valid
        until the next ``count_doc``; the same values as ``idf``."""
        if self._idf_n != self.n_docs:
            self._sync()
        cache = self._idf
        cache.df, cache.nq1 = self.df, self._nq + 1
        return cache

    def epoch(self) -> int:
        """Cached thread norms are refreshed when the corpus has grown by a quarter."""
        if self._idf_n != self.n_docs:
            self._sync()
        return self._epoch

    def add_thread(self, thread: Thread) -> None:
        self.threads[thread.id] = thread
        self.index_under(thread, thread.keys)

    def drop_thread(self, thread: Thread) -> None:
        self.unindex(thread, thread.keys)
        del self.threads[thread.id]

    def index_under(self, thread: Thread, keys: Iterable[str]) -> None:
        """Post ``thread`` under ``keys``, with its creation (see ``index``)."""
        for key in keys:
            self.index.setdefault(key, {})[thread.id] = thread.created_seq

    def unindex(self, thread: Thread, keys: Iterable[str]) -> None:
        """Take ``thread`` off the postings of ``keys``; a posting left empty goes."""
        for key in keys:
            posting = self.index.get(key)
            if posting is not None:
                posting.pop(thread.id, None)
                if not posting:
                    del self.index[key]


def _written_years(m: Member) -> set[str]:
    """The years (1900-2099) a member's text writes (number keys ``@#yyyy``)."""
    return {t for t in m.features.entities if len(t) == 6 and t.startswith(NUMBER_KEY)
            and t[2:4] in ("19", "20") and t[2:].isdigit()}


def _years_apart(a: list[Member], b: list[Member], share: float) -> bool:
    """Do two groups of members name different years? Some year is written by at least half
    of one group's members and by fewer than ``share`` of the other's (counted per member,
    so one article listing a history does not count for its group)."""
    ya = Counter(y for m in a for y in _written_years(m))
    yb = Counter(y for m in b for y in _written_years(m))
    for mine, theirs, n, k in ((ya, yb, len(a), len(b)), (yb, ya, len(b), len(a))):
        if any(2 * c >= n and theirs[y] < share * k for y, c in sorted(mine.items())):
            return True
    return False


def interval_gap_days(a_start: datetime, a_end: datetime, b_start: datetime,
                      b_end: datetime) -> float:
    """Days between two [start, end) intervals; 0 when they overlap (precision respected)."""
    gap = max((b_start - a_end).total_seconds(), (a_start - b_end).total_seconds(), 0.0)
    return gap / DAY


def reach(item: Item) -> datetime | None:
    """How far ``item`` moves the high-water mark: the end of its interval, but never more
    than ``SLACK`` past its start. The horizons need only that the mark is no later than the
    end of any article still to come in order, and in order means by end, so any mark up to
    the latest end will do; a month ends within ``SLACK`` of its start, so only longer
    intervals are cut. Without the cut, a year-dated article ('2026', to 1 January 2027)
    threaded in March put the mark at the year's end: every article of the rest of the year
    came "late", each fetching threads and signatures back from the database, and the
    sweep let go of threads that live articles still join."""
    if item.start is None or item.end is None:
        return None
    return min(item.end, item.start + SLACK)


def advanced_mark(hwm: datetime | None, item: Item) -> datetime | None:
    """The high-water mark after ``item`` (``reach``): it only moves forward."""
    mark = reach(item)
    return hwm if mark is None or (hwm is not None and mark <= hwm) else mark


class Clusterer:
    """Assigns items one at a time. ``new_id`` allocates thread ids; ``fetch(clusterer, item,
    query, threads, signatures)`` brings back what a late article may need but was swept from
    memory: its era's threads, and/or the signatures of articles dated near it."""

    def __init__(self, state: State, *, params: Params | None = None,
                 model: Model | None = None, new_id: Callable[[], int] | None = None,
                 fetch: Callable[[Clusterer, Item, list[str], bool, bool], None] | None = None,
                 ) -> None:
        self.state = state
        self.params = params or Params()
        self.model = model or MODEL
        self._next = max(state.threads, default=0) + 1
        self.new_id = new_id or self._counter
        self.fetch = fetch
        self.window = timedelta(days=self.params.window_days)
        self._dup_days = timedelta(days=self.params.dup_days + 2)
        # (hwm, horizon, dup horizon): the horizons of the last high-water mark asked about.
        # The sweep asks for every thread and signature in memory, and a datetime subtraction
        # each was a few percent of a 100k run.
        self._horizons: tuple[datetime | None, datetime | None, datetime | None] | None = None
        self.touched: dict[int, Thread] = {}
        # Threads whose norms a new IDF epoch refreshed while they were scored, not joined:
        # saved too (``settle``), or a restarted run would refresh them again with the later
        # counts and go on from norms one long run never had.
        self.renormed: dict[int, Thread] = {}
        # Articles that a split moved to another thread since the caller last cleared this:
        # article id → its thread now (the caller rewrites their assignments).
        self.moves: dict[int, int] = {}
        self.splits = 0
        self.merges = 0  # parts of a split merged into another thread
        self.outgrown: set[int] = set()  # threads whose members were let go since cleared
        self.dropped: set[int] = set()  # threads merged into another since cleared (now empty)
        # The shortlist's language-blind cosines, for the ``weighted`` vectors they were
        # computed with (held, so the identity check cannot match a recycled object): ``pair``
        # reuses them instead of computing the same cosine again.
        self._xcos_for: tuple[dict[str, float], ...] | None = None
        self._xcos: dict[int, float] = {}
        # The IDF of the article being placed, looked up once (``begin``) and read from a
        # small dict until its document is counted (``finish``): the same values as
        # ``state.idf_map()``, which cannot change in between.
        self._item_idf: tuple[Item, dict[str, float]] | None = None
        # The other candidates the last decided article also reached the threshold with,
        # best first (``finish`` tries merging them with the thread it joined).
        self._also: list[int] = []

    def _counter(self) -> int:
        self._next += 1
        return self._next - 1

    # -- rules -----------------------------------------------------------------------------

    def horizon(self) -> datetime | None:
        """Dated threads ending before this can no longer be joined by an in-order article.
        Articles come in order of their interval's *end* (a month date after the days of its
        month), so one may reach back a month further than the window."""
        return self._horizons_now()[1]

    def _horizons_now(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        hwm, held = self.state.hwm, self._horizons
        if held is None or held[0] is not hwm:
            held = self._horizons = ((hwm, None, None) if hwm is None else
                                     (hwm, hwm - self.window - SLACK, hwm - self._dup_days))
        return held

    def eligible(self, thread: Thread, item: Item) -> bool:
        """May ``item`` join ``thread``? A function of both and of (seq, hwm) only."""
        return self.eligibility(item)(thread)

    def eligibility(self, item: Item) -> Callable[[Thread], bool]:
        """``eligible`` for one article, its bounds computed once (it tests ~20 candidates).
        A dated article joins a dated thread within the window of its interval; otherwise a
        thread joined within ``undated_span`` articles, and an undated article also any
        dated thread that in-order articles can still join (ending after the horizon)."""
        after = self.state.seq - self.params.undated_span
        if item.start is not None and item.end is not None:
            lo, hi = item.start - self.window, item.end + self.window

            def for_dated(thread: Thread) -> bool:
                if thread.last_end is None:
                    return thread.last_seq > after
                assert thread.first_at is not None
                return thread.last_end >= lo and thread.first_at <= hi

            return for_dated
        horizon = self.horizon()

        def for_undated(thread: Thread) -> bool:
            return thread.last_seq > after or (thread.last_end is not None and horizon
                                               is not None and thread.last_end >= horizon)

        return for_undated

    def dup_eligible(self, entry: Entry, item: Item) -> bool:
        """May ``item`` be a copy of the indexed article? A day-precise article looks among
        articles dated within ``dup_days``; a month-dated or undated one among the last
        ``dup_span`` processed (its date says too little to pick a week)."""
        if item.precise and entry.start is not None and entry.end is not None:
            assert item.start is not None and item.end is not None
            return interval_gap_days(item.start, item.end, entry.start,
                                     entry.end) <= self.params.dup_days
        return entry.seq > self.state.seq - self.params.dup_span

    def dup_horizon(self) -> datetime | None:
        """Signatures ending before this serve no in-order day-precise article."""
        return self._horizons_now()[2]

    def _sig_sweep_rule(self) -> Callable[[Entry], bool]:
        """May the sweep let a signature go? Its bounds computed once (the sweep asks it of
        every signature in the duplicate window): processed over ``dup_span`` articles ago,
        and undated or ending before the duplicate horizon."""
        after, horizon = self.state.seq - self.params.dup_span, self.dup_horizon()

        def sweepable(entry: Entry) -> bool:
            return entry.seq <= after and (
                entry.end is None or (horizon is not None and entry.end < horizon))

        return sweepable

    def _sweepable(self, thread: Thread) -> bool:
        return self._sweep_rule()(thread)

    def _sweep_rule(self) -> Callable[[Thread], bool]:
        """``_sweepable`` with this moment's bounds computed once: joined over
        ``undated_span`` articles ago, and undated or ending before the horizon."""
        after, horizon = self.state.seq - self.params.undated_span, self.horizon()

        def sweepable(thread: Thread) -> bool:
            if thread.last_seq > after:
                return False
            if thread.last_end is None:
                return True
            assert horizon is not None
            return thread.last_end < horizon

        return sweepable

    def settle(self) -> Settled:
        """Hand over what changed since the last call (for saving) and count the touched
        threads as saved, so that the sweep may let them go. A run that keeps no store (the
        benchmark's in-memory mode) calls it too: an unsaved thread is never swept, and its
        memory would grow with the stream instead of the window."""
        touched = sorted(self.touched.values(), key=lambda t: t.id)
        renormed = sorted((t for i, t in self.renormed.items()
                           if i not in self.touched and i not in self.dropped),
                          key=lambda t: t.id)
        for thread in touched + renormed:
            thread.dirty = False
        done = Settled(touched, renormed, self.moves, sorted(self.dropped),
                       sorted(self.outgrown))
        self.touched, self.renormed = {}, {}
        self.moves, self.outgrown, self.dropped = {}, set(), set()
        return done

    def _keeps_members(self, thread: Thread) -> bool:
        """Is ``thread`` still re-checked by the split repair? A rule of (seq, hwm) and the
        thread only, never of what is in memory: joined within ``member_span`` articles
        and still joinable in order (not sweepable)."""
        return (self.params.split_max > 0
                and thread.last_seq > self.state.seq - self.params.member_span
                and not self._sweepable(thread))

    def sweep(self) -> None:
        """Forget threads no in-order article can join (they stay in the database), and the
        members of threads the split repair no longer re-checks."""
        st = self.state
        for thread in list(st.threads.values()):
            if thread.members and not self._keeps_members(thread):
                thread.members, thread.sims = [], []
                self.outgrown.add(thread.id)  # never re-checked again: let the rows go
        sweepable = self._sweep_rule()
        for thread in [t for t in st.threads.values() if sweepable(t)]:
            if thread.dirty:
                continue  # not saved yet: the service sweeps again after saving
            if st.in_cover(thread):
                continue  # late articles are still coming for these (``State.late_cover``)
            st.drop_thread(thread)
        sig_sweepable = self._sig_sweep_rule()
        for article_id in [a for a, e in st.dups.entries.items() if sig_sweepable(e)]:
            st.dups.remove(article_id)
        st.swept_before = self.horizon()
        st.sigs_swept_before = self.dup_horizon()

    # -- vectors ----------------------------------------------------------------------------

    def _weighted(self, vec: dict[str, float], k: int,
                  idf: dict[str, float] | None = None) -> dict[str, float]:
        """The k heaviest terms of ``vec`` as unit TF-IDF weights, times IDF once more: the
        dot product with a centroid of TF sums is then Σ w·S (IDF applied to both sides)."""
        return unit_weighted(vec, self.state.idf_map() if idf is None else idf, k)

    def _idf_of(self, item: Item) -> dict[str, float]:
        """IDF for ``item``'s keys: its own small dict between ``begin`` and ``finish``."""
        held = self._item_idf
        return held[1] if held is not None and held[0] is item else self.state.idf_map()

    def _refresh_norms(self, thread: Thread) -> None:
        # |Σ tf·idf| of text, names(ents) and xling, each an exact fsum (dict order free)
        thread.norm_text, thread.norm_ents, thread.norm_xling = idf_norms(
            thread.text, thread.ents, thread.xling, self.state.idf_map())
        thread.norm_epoch = self.state.epoch()
        thread.dirty = True  # not swept before it is saved
        self.renormed[thread.id] = thread

    @staticmethod
    def _cos(vec: dict[str, float], centroid: dict[str, float], norm: float) -> float:
        return dot(vec, centroid) / norm if norm else 0.0

    def _top(self, vec: dict[str, float], k: int) -> list[str]:
        """The k heaviest keys by weight × IDF (ties by key: deterministic)."""
        return top_keys(vec, self.state.idf_map(), k)

    # -- the step ---------------------------------------------------------------------------

    def assign(self, item: Item, *, df_loaded: bool = False) -> Decision:
        """Thread ``item``. ``df_loaded``: the caller has already brought every document
        frequency of the item's keys into ``state.df`` (``cluster_pending`` does it for a
        whole batch in one query), so the per-article check is skipped."""
        query = self.begin(item, df_loaded=df_loaded)
        self._also = []
        mh = item.minhash if item.minhash is not None else signature(item.features.shingles)
        decision = self._duplicate(item, mh, item.shingle_count)
        if decision is None:
            decision = self._best_thread(item, query)
        thread_id = self.finish(item, decision, mh)
        if thread_id != decision.thread_id:
            decision = replace(decision, thread_id=thread_id)
        return decision

    def begin(self, item: Item, *, df_loaded: bool = False) -> list[str]:
        """Advance the stream to ``item``; returns its index query keys."""
        st, feats = self.state, item.features
        st.seq += 1
        if not df_loaded:
            st.ensure_df_of(feats)
        idf = idf_local(st.idf_map(), feats.terms, feats.entities, feats.xling)
        self._item_idf = (item, idf)
        st.hwm = advanced_mark(st.hwm, item)
        query = top_keys_of(feats.terms, feats.entities, idf, self.params.query_keys)
        if self.fetch and item.start is not None:
            threads = (st.swept_before is not None
                       and item.start - self.window < st.swept_before
                       and not st.covers(item.start - self.window, item.end + self.window))
            sigs = (item.precise and st.sigs_swept_before is not None
                    and item.start - timedelta(days=self.params.dup_days) < st.sigs_swept_before)
            if threads or sigs:
                self.fetch(self, item, query, threads, sigs)  # a late arrival
        return query

    def new_thread(self) -> Thread:
        st = self.state
        thread = Thread(id=self.new_id(), created_seq=st.seq, last_seq=st.seq)
        st.add_thread(thread)
        return thread

    def finish(self, item: Item, decision: Decision, mh: Signature | None = None) -> int:
        """Add ``item`` to the thread decided on, re-check that thread (``split``), count the
        item's terms, sweep now and then. Returns the item's thread (a split may move it)."""
        st, feats = self.state, item.features
        thread = st.threads[decision.thread_id]
        # A thread past ``_keeps_members`` is no longer re-checked: whether its members are
        # still in memory depends on when the last sweep ran, and they are let go then.
        tracked = len(thread.members) == thread.n and self._keeps_members(thread)
        self.join(thread, item)
        if mh is None:
            mh = item.minhash if item.minhash is not None else signature(feats.shingles)
        st.dups.add(item.article_id, mh, Entry(
            np.asarray(mh.hashvalues), item.shingle_count, thread.id, decision.duplicate_of,
            item.start, item.end, st.seq))
        thread_id = thread.id
        if tracked and thread.n <= self.params.split_max:
            thread.members.append(self.member(item))
            splits = self.splits
            thread_id = self.split(thread).get(item.article_id, thread_id)
            if self.params.rejoin_ratio and self.splits == splits and self._also:
                # Not split: the article also looked like other threads; one of them may be
                # the same story, split off earlier or opened before it had words in common.
                merges = self.merges
                self._remerge(thread, None, self._also, self.params.rejoin_ratio)
                thread_id = self.moves.get(item.article_id, thread_id)
                if self.merges != merges:  # the merged thread is re-checked like any other
                    thread_id = self.split(st.threads[thread_id]).get(item.article_id,
                                                                      thread_id)
        elif thread.members:
            thread.members, thread.sims = [], []  # outgrown: no more re-checks
            self.outgrown.add(thread.id)
        self._item_idf = None  # counting the document moves IDF
        st.count_doc(feats.terms, feats.entities, feats.xling)
        if st.seq % self.params.sweep_every == 0:
            self.sweep()
        return thread_id

    # -- split repair -------------------------------------------------------------------------

    def member(self, item: Item) -> Member:
        """What a small thread keeps of ``item`` (see :class:`Member`), with the current IDF
        (the article's own small dict while it is being placed: only its keys are looked up)."""
        f, k = item.features, self.params.member_terms
        idf = self._idf_of(item)
        vec = member_vec(f.terms, f.entities, f.xling, idf, self.params.member_vec)
        return Member(item.article_id, canonical(f, k, idf), vec, item.start, item.end,
                      item.title, self.state.seq)


    def split(self, thread: Thread) -> dict[int, int]:
        """Re-check a small thread after a join: the newest member and the member least like
        it seed two groups, every member goes to the group it is more like on average (three
        rounds); when both groups have ``split_min`` members, are not apart only by language
        or by two days' news, and the groups' mutual similarity is below ``split_ratio`` ×
        the weaker group's own (``split_ratio_years`` when they name different years,
        ``split_ratio_many`` when they also have ``split_many`` members each, see
        ``_ratio``; parts without time evidence split only then, see
        ``split_untimed_years``), the thread
        splits: the group with its first member keeps it, the other opens a new thread, both
        rebuilt from their members. A wrong early join in
        a small thread (two events of the same kind) is undone once the second event has
        members of its own. Members are alike by ``_msim`` (by default the cosine of what
        they name: people, places, figures, dates). Returns {article: new thread} of the
        moved members."""
        p, ms = self.params, thread.members
        n = len(ms)
        if n < 2 * p.split_min:
            return {}
        # Sums run in index order, the same in every run: no fsum needed.
        a, b, between, inner = split_groups(self._sims(thread))
        if inner is None or min(len(a), len(b)) < p.split_min:
            return {}
        group_a, group_b = [ms[i] for i in a], [ms[i] for i in b]
        if not self._separable(group_a, group_b):
            return {}
        years = self._years_differ(group_a, group_b)
        if not years and p.split_untimed_years and not (
                any(m.dated for m in group_a) and any(m.dated for m in group_b)):
            return {}  # names alone, no time evidence: not enough to cut a story
        if between >= self._ratio(group_a, group_b, years) * inner:
            return {}
        keep, move = (a, b) if 0 in a else (b, a)
        return self._split_into(thread, [ms[i] for i in sorted(keep)],
                                [ms[i] for i in sorted(move)])

    def _ratio(self, a: list[Member], b: list[Member], years: bool | None = None) -> float:
        """The split test's ratio for groups ``a`` and ``b``: ``split_ratio_years`` when
        they name different years (``_years_apart``; ``years`` when the caller has tested
        it already), ``split_ratio_many`` when they do and each has ``split_many`` members
        or more, else ``split_ratio``."""
        p = self.params
        if not (self._years_differ(a, b) if years is None else years):
            return p.split_ratio
        if p.split_many and min(len(a), len(b)) >= p.split_many:
            return max(p.split_ratio_many, p.split_ratio_years)
        return p.split_ratio_years

    def _years_differ(self, a: list[Member], b: list[Member]) -> bool:
        """Does the years rule apply to groups ``a`` and ``b`` (see ``_years_apart``)?"""
        p = self.params
        return p.split_ratio_years != p.split_ratio and _years_apart(a, b, p.split_year_share)

    def _separable(self, a: list[Member], b: list[Member]) -> bool:
        """May two groups of a thread be two events? Not when they differ only by language
        (a story in two languages is one story) or were published within ``split_days``
        of each other."""
        p = self.params
        la: Counter[str] = Counter(m.features.language for m in a)
        lb: Counter[str] = Counter(m.features.language for m in b)
        shared = math.fsum([c * lb[lang] for lang, c in la.items()]) / (len(a) * len(b))
        if shared < p.split_lang:
            return False
        da = [m for m in a if m.dated]
        db = [m for m in b if m.dated]
        if da and db:
            gap = interval_gap_days(min(m.start for m in da), max(m.end for m in da),  # type: ignore[type-var]
                                    min(m.start for m in db), max(m.end for m in db))  # type: ignore[type-var]
            if gap <= p.split_days:
                return False
        return True

    def _split_into(self, thread: Thread, keep: list[Member],
                    move: list[Member]) -> dict[int, int]:
        st = self.state
        self.splits += 1
        st.drop_thread(thread)
        rebuilt = self._rebuild(Thread(id=thread.id, created_seq=thread.created_seq,
                                       last_seq=thread.last_seq), keep)
        other = self._rebuild(Thread(id=self.new_id(), created_seq=st.seq, last_seq=st.seq),
                              move)
        self._move({m.article_id: other.id for m in move})
        self.touched[rebuilt.id] = rebuilt
        self.touched[other.id] = other
        # Each part may now belong with a thread it was kept from by the wrong join.
        for part, sibling in ((other, rebuilt.id), (rebuilt, other.id)):
            if part.id in st.threads:
                self._remerge(part, sibling)
        return {m: t for m, t in self.moves.items() if m in {x.article_id for x in keep + move}}

    def _move(self, moved: dict[int, int]) -> None:
        entries = self.state.dups.entries
        for article_id, thread_id in moved.items():
            entry = entries.get(article_id)
            if entry is not None:
                entry.thread_id = thread_id
        self.moves.update(moved)

    def _msim_vec(self, m: Member) -> dict[str, float]:
        """What ``_msim`` compares of a member."""
        return m.names_vec() if self.params.split_on == "entities" else m.vec

    def _msim(self, a: Member, b: Member) -> float:
        """How alike two members are, for the split repair: the cosine of their entity
        vectors (names, numbers and dates written) when ``split_on`` is "entities", of their
        whole vectors when it is "all"."""
        return dot(self._msim_vec(a), self._msim_vec(b))

    def _sims(self, thread: Thread) -> list[list[float]]:
        """``thread.sims`` filled in for all its members: row i holds ``_msim(m_j, m_i)``
        for j < i."""
        ms, tri = thread.members, thread.sims
        if len(tri) < len(ms):
            vecs = [self._msim_vec(m) for m in ms]
            for i in range(len(tri), len(ms)):
                tri.append(dots(vecs[:i], vecs[i]))
        return tri

    def _inner(self, thread: Thread) -> float:
        """The mean similarity of a thread's members to each other (two at least)."""
        return mean([x for row in self._sims(thread) for x in row])

    def _remerge(self, part: Thread, sibling: int | None,
                 among: Iterable[int] | None = None, ratio: float | None = None) -> None:
        """After a split: merge ``part`` into the small thread (sharing an index key, never
        its ``sibling``) whose members are on average as like its own as the split test
        asks of one thread: the same rule in the other direction. The older thread stays.
        After a join (``rejoin_ratio``): the same, ``among`` the other threads the article
        reached the threshold with."""
        st, p = self.state, self.params
        if among is None:
            among = set()
            for key in part.keys:
                among.update(st.index.get(key, ()))
        found = {t for t in among if t != part.id and t != sibling and t in st.threads}
        inner_part = self._inner(part)
        part_vecs = [self._msim_vec(m) for m in part.members]
        best: tuple[float, Thread] | None = None
        for tid in sorted(found, key=lambda t: (st.threads[t].created_seq, t)):
            t = st.threads[tid]
            if (not t.members or len(t.members) != t.n or t.n + part.n > p.split_max
                    or not self._keeps_members(t)):  # kept or not depends on sweep times
                continue
            if part.dated and t.dated:
                assert part.first_at and part.last_end and t.first_at and t.last_end
                if interval_gap_days(part.first_at, part.last_end, t.first_at,
                                     t.last_end) > p.window_days:
                    continue
            between = cross_mean([self._msim_vec(m) for m in t.members], part_vecs)
            inner = min(inner_part, self._inner(t)) if t.n > 1 else inner_part
            if between >= (ratio or self._ratio(part.members, t.members)) * inner and (
                    best is None or between > best[0]):
                best = (between, t)
        if best is None:
            return
        a, b = sorted((part, best[1]), key=lambda t: (t.created_seq, t.id))
        st.drop_thread(a)
        st.drop_thread(b)
        merged = self._rebuild(Thread(id=a.id, created_seq=a.created_seq, last_seq=a.last_seq),
                               sorted(a.members + b.members, key=lambda m: m.seq))
        self._move({m.article_id: merged.id for m in b.members})
        self.touched.pop(b.id, None)
        self.touched[merged.id] = merged
        self.dropped.add(b.id)
        self.merges += 1

    def _rebuild(self, thread: Thread, members: list[Member]) -> Thread:
        """``thread`` (empty) with ``members`` joined in order; added to the state."""
        self.state.add_thread(thread)
        for m in members:
            self.join(thread, m.item())
        thread.members = list(members)
        thread.dirty = True
        return thread

    def _duplicate(self, item: Item, mh: Signature, size: int) -> Decision | None:
        st = self.state
        for match in st.dups.matches(mh, size):
            entry = st.dups.entries[match.article_id]
            thread = st.threads.get(entry.thread_id)
            if thread is None or not self.dup_eligible(entry, item):
                continue
            original = entry.root if entry.root is not None else match.article_id
            score = max(match.jaccard, match.containment)
            return Decision(item.article_id, thread.id, False, original, score)
        return None

    def candidates(self, item: Item, query: list[str]) -> list[Thread]:
        st = self.state
        return first_ranked(st.index, query, st.threads,  # most shared keys first
                            self.eligibility(item), self.params.max_candidates)

    def shortlist(self, item: Item, candidates: list[Thread],
                  weighted: tuple[dict[str, float], ...]) -> list[Thread]:
        """The candidates worth full scoring: the best by language-blind cosine."""
        k = self.params.score_top
        if len(candidates) <= k:
            return candidates
        epoch = self.state.epoch()
        ranked = []
        xcos: dict[int, float] = {}
        xl = weighted[2]
        n = self.params.shortlist_terms
        # Ranking needs only the heaviest terms; the cosine the model scores is the full one
        # (``pair``), so the shortlist's values are reused only when they are full ones.
        full = len(xl) <= n
        probe = xl if full else heaviest(xl, n)
        for thread in candidates:
            if thread.norm_epoch != epoch:
                self._refresh_norms(thread)
            cos = xcos[thread.id] = self._cos(probe, thread.xling, thread.norm_xling)
            ranked.append((-cos, thread.created_seq, thread))
        if full:
            self._xcos_for, self._xcos = weighted, xcos
        ranked.sort(key=lambda r: r[:2])
        return [r[2] for r in ranked[:k]]

    def weighted(self, item: Item) -> tuple[dict[str, float], ...]:
        """The item's unit TF-IDF vectors (text, entities, xling) with the current IDF, and
        its heaviest entities with their weights."""
        f, k = item.features, self.params.item_terms
        idf = self._idf_of(item)
        ents = self._weighted(names(f.entities), k // 2, idf)
        top = heaviest(ents, TOP_ENTS)
        return self._weighted(f.terms, k, idf), ents, self._weighted(f.xling, k, idf), top

    def pair(self, item: Item, thread: Thread,
             weighted: tuple[dict[str, float], ...]) -> PairFeatures:
        """The features the model scores for (item, thread)."""
        if thread.norm_epoch != self.state.epoch():
            self._refresh_norms(thread)
        text_w, ents_w, xl_w, top = weighted
        gap, coarse = None, False
        if item.dated and thread.dated:
            assert item.start and item.end and thread.first_at and thread.last_end
            if item.precise and thread.precise_first and thread.precise_end:
                gap = interval_gap_days(item.start, item.end, thread.precise_first,
                                        thread.precise_end)
            else:
                gap = interval_gap_days(item.start, item.end, thread.first_at, thread.last_end)
                coarse = True
        same_lang = thread.langs.get(item.features.language, 0) / thread.n if thread.n else 0.0
        total = found = 0.0  # plain left-to-right sums, as the C ``pair_scores`` adds
        for w in top.values():
            total += w
        for e, w in top.items():
            if e in thread.ents:
                found += w
        cover_item = found / total if total else 0.0
        cover_thread = (sum(1 for e in thread.top_ents if e in item.features.entities)
                        / len(thread.top_ents) if thread.top_ents else 0.0)
        cos_xling = self._xcos.get(thread.id) if self._xcos_for is weighted else None
        if cos_xling is None:
            cos_xling = self._cos(xl_w, thread.xling, thread.norm_xling)
        return PairFeatures(
            cos_nums=self._cos_nums(item, thread),
            cos_text=self._cos(text_w, thread.text, thread.norm_text),
            cos_ents=self._cos(ents_w, thread.ents, thread.norm_ents),
            cos_xling=cos_xling,
            cover_item=cover_item, cover_thread=cover_thread,
            gap_days=gap, coarse=coarse, same_lang=same_lang, size=thread.n)

    def _cos_nums(self, item: Item, thread: Thread) -> float:
        """TF-IDF cosine of the numbers and dates written in the article and in the thread
        (entity keys ``@#…``, kept in ``ents`` but outside ``norm_ents``): '28 July 2004',
        '95', '7.1' agree or disagree on the event. Computed afresh (a thread holds a few
        dozen), exactly rounded with fsum, so dict order does not matter."""
        mine = {t: v for t, v in item.features.entities.items() if t.startswith(NUMBER_KEY)}
        if not mine:
            return 0.0
        idf = self.state.idf_map()
        mine = scaled(mine, idf)  # {t: v * idf[t]}, IDF from the counts in C
        theirs = scaled({t: v for t, v in thread.ents.items() if t.startswith(NUMBER_KEY)}, idf)
        dot = math.fsum([w * mine[t] for t, w in theirs.items() if t in mine])
        if not dot:
            return 0.0
        return dot / (math.sqrt(math.fsum([w * w for w in mine.values()]))
                      * math.sqrt(math.fsum([w * w for w in theirs.values()])))

    def scores(self, item: Item, threads: list[Thread],
               weighted: tuple[dict[str, float], ...]) -> list[float]:
        """The model's probability that ``item`` belongs to each of ``threads``: by
        definition ``model.probability(pair(...))``, computed in one C call when the kernels
        are built (the same floats, tested on every pair of real runs)."""
        model = self.model
        if pair_scores is None or type(model) is not Model:
            return [model.probability(self.pair(item, t, weighted)) for t in threads]
        epoch = self.state.epoch()
        for thread in threads:
            if thread.norm_epoch != epoch:
                self._refresh_norms(thread)
        feats = item.features
        xcos = self._xcos if self._xcos_for is weighted else None
        return pair_scores(threads, weighted, feats.entities, feats.language, item.start,
                           item.end, item.precise, xcos, self.state.idf_map(), model.dated,
                           model.undated)

    def _best_thread(self, item: Item, query: list[str]) -> Decision:
        weighted = self.weighted(item)
        best: tuple[float, int] | None = None
        passed: list[tuple[float, int, int]] = []
        shortlisted = self.shortlist(item, self.candidates(item, query), weighted)
        for thread, s in zip(shortlisted, self.scores(item, shortlisted, weighted),
                             strict=True):
            if best is None or s > best[0]:
                best = (s, thread.id)
            if s >= self.model.threshold:
                passed.append((-s, thread.created_seq, thread.id))
        if best is not None and best[0] >= self.model.threshold:
            self._also = [tid for _, _, tid in sorted(passed) if tid != best[1]]
            return Decision(item.article_id, best[1], False, None, best[0])
        return Decision(item.article_id, self.new_thread().id, True, None, None)

    def join(self, thread: Thread, item: Item) -> None:
        """Add ``item`` to ``thread``: vectors, span, title, index keys, norms."""
        st, p = self.state, self.params
        feats = item.features
        # Norms follow the sums incrementally within an epoch (adding and pruning terms);
        # a new epoch recomputes them. Either way a pure function of the event sequence.
        exact = thread.norm_epoch == st.epoch()
        idf = self._idf_of(item)
        thread.norm_text = self._add(thread.text, feats.terms, thread.norm_text, idf)
        names_ = names(feats.entities)
        thread.norm_ents = self._add(thread.ents, names_, thread.norm_ents, idf)
        if len(names_) < len(feats.entities):  # numbers: summed, outside the names' norm
            for t, v in feats.entities.items():
                if t not in names_:
                    thread.ents[t] = thread.ents.get(t, 0.0) + v
        thread.norm_xling = self._add(thread.xling, feats.xling, thread.norm_xling, idf)
        for t in feats.entities:
            if t not in thread.display:
                thread.display[t] = feats.display.get(t, t.removeprefix(ENTITY_PREFIX))
        thread.langs[feats.language] = thread.langs.get(feats.language, 0) + 1
        k = p.centroid_terms
        if len(thread.xling) > 3 * k:  # prune in big steps: pruning costs a sort
            thread.xling, thread.norm_xling = self._prune(thread.xling, k, thread.norm_xling)
        if len(thread.text) > 3 * k:
            thread.text, thread.norm_text = self._prune(thread.text, k, thread.norm_text)
        if len(thread.ents) > 3 * k // 2:
            # Names and numbers (``@#…``) are pruned apart, each to its own budget: numbers
            # never crowd out names, and ``norm_ents`` stays the names' norm.
            kept = names(thread.ents)
            numbers = {t: v for t, v in thread.ents.items() if t not in kept}
            if len(kept) > 3 * k // 2:
                kept, thread.norm_ents = self._prune(kept, k // 2, thread.norm_ents)
            if len(numbers) > 3 * k // 4:
                numbers, _ = self._prune(numbers, k // 4, 0.0)
            if len(kept) + len(numbers) < len(thread.ents):
                thread.ents = {t: v for t, v in thread.ents.items()
                               if t in kept or t in numbers}
                thread.display = {t: s for t, s in thread.display.items() if t in thread.ents}
        if not exact:
            self._refresh_norms(thread)
        thread.n += 1
        thread.last_seq = st.seq
        if item.dated:
            assert item.start is not None and item.end is not None
            thread.first_at = item.start if thread.first_at is None else min(
                thread.first_at, item.start)
            thread.last_end = item.end if thread.last_end is None else max(
                thread.last_end, item.end)
            if item.precise:
                thread.precise_first = item.start if thread.precise_first is None else min(
                    thread.precise_first, item.start)
                thread.precise_end = item.end if thread.precise_end is None else max(
                    thread.precise_end, item.end)
        if item.title and feats.title_terms:
            if thread.title is None or (self._title_score(thread, feats.title_terms)
                                        > self._title_score(thread, thread.title_terms)):
                thread.title, thread.title_terms = item.title, feats.title_terms
        if thread.n <= 4 or thread.n % 8 == 0:  # keys settle as a thread grows
            self._reindex(thread)
        thread.dirty = True
        self.touched[thread.id] = thread

    def _add(self, sums: dict[str, float], vec: dict[str, float], norm: float,
             idf: dict[str, float] | None = None) -> float:
        """Add ``vec`` to ``sums`` in place; returns the IDF-weighted norm updated to match."""
        sq = add_into(sums, vec, self.state.idf_map() if idf is None else idf, norm * norm)
        return math.sqrt(sq) if sq > 0 else 0.0

    def _prune(self, sums: dict[str, float], k: int,
               norm: float) -> tuple[dict[str, float], float]:
        """Keep the k heaviest terms (weight × IDF); the norm loses what was dropped."""
        return pruned(sums, self.state.idf_map(), k, norm)

    def _reindex(self, thread: Thread) -> None:
        st = self.state
        keys = tuple(sorted(top_keys_of(thread.text, thread.ents, st.idf_map(),
                                        self.params.index_keys)))
        thread.top_ents = tuple(self._top(names(thread.ents), TOP_ENTS))
        if keys == thread.keys:
            return
        st.unindex(thread, set(thread.keys) - set(keys))
        st.index_under(thread, set(keys) - set(thread.keys))
        thread.keys = keys

    def _title_score(self, thread: Thread, terms: tuple[str, ...]) -> float:
        """How central a title is: its terms' weight in the centroid (most central wins)."""
        if not terms or not thread.norm_text:
            return 0.0
        total = title_weight(thread.text, terms, self.state.idf_map())
        return total / (thread.norm_text * math.sqrt(len(terms)))
