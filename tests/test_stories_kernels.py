"""The C kernels (``stories/_kernels.c``) against their Python definitions (``stories/kernels.py``).

Bit for bit: dict contents *and order* (later sums walk dicts in order) and every float exactly,
on random input from Hypothesis; then a whole clustering run with and without the C code.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from newsthreads.stories import kernels
from newsthreads.stories.cluster import State

C = pytest.importorskip("newsthreads.stories._kernels", reason="C kernels not built")
PY = kernels.PYTHON
ROOT = Path(__file__).resolve().parent.parent

# Keys as the clusterer has them: stems, '@' entities, '@#' numbers, '~' language-blind keys,
# some shared between vectors so that lookups hit and miss.
keys = st.sampled_from([f"{p}{w}" for p in ("", "@", "@#", "~")
                        for w in ("kim", "putin", "møte", "2019", "a", "zz", "æøå", "summit")])
weights = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=True)
vectors = st.dictionaries(keys, weights, max_size=24)
counts = st.dictionaries(keys, st.integers(min_value=0, max_value=5_000_000), max_size=24)


def same(a: object, b: object) -> bool:
    """Equal, with dicts also in the same order and floats identical to the bit."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex()
    return a == b


def idf_cache(df: dict[str, int], n_docs: int) -> dict[str, float]:
    """A real IDF cache, empty, as the clusterer hands it to the kernels."""
    state = State(df=dict(df), n_docs=n_docs)
    return state.idf_map()


@pytest.mark.skipif(bool(os.environ.get("NEWSTHREADS_PURE_PYTHON")),
                    reason="NEWSTHREADS_PURE_PYTHON=1 asks for the Python definitions")
def test_the_extension_was_built_and_is_used() -> None:
    # pip install builds it (setup.py); a silent build failure would fall back to Python
    assert kernels.ACCELERATED
    assert kernels.dot is C.dot


@settings(max_examples=300, deadline=None)
@given(vectors, vectors)
def test_dot(vec: dict[str, float], centroid: dict[str, float]) -> None:
    assert same(C.dot(vec, centroid), PY["dot"](vec, centroid))


@settings(max_examples=300, deadline=None)
@given(vectors, vectors, counts, st.integers(0, 10**6), st.floats(0, 1e6))
def test_add_into_and_the_idf_the_c_code_computes(sums: dict[str, float], vec: dict[str, float],
                                                   df: dict[str, int], n_docs: int,
                                                   sq: float) -> None:
    a, b = dict(sums), dict(sums)
    idf_c, idf_py = idf_cache(df, n_docs), idf_cache(df, n_docs)
    assert same(C.add_into(a, vec, idf_c, sq), PY["add_into"](b, vec, idf_py, sq))
    assert same(a, b)
    # the C code computes IDF from the counts (without filling the cache), the Python code
    # through the cache's own __missing__: the same values
    assert all(same(idf_py[t], v) for t, v in idf_c.items())
    fresh = idf_cache(df, n_docs)
    assert same(C.idf_local(fresh, vec), {t: idf_py[t] for t in vec})


@settings(max_examples=200, deadline=None)
@given(vectors, counts, st.integers(0, 10**6), st.integers(0, 30))
def test_weights_norms_and_rankings(vec: dict[str, float], df: dict[str, int], n_docs: int,
                                    k: int) -> None:
    for name, args in [("scaled", ()), ("squares", ()), ("top_keys", (k,)),
                       ("unit_weighted", (k,))]:
        got = getattr(C, name)(vec, idf_cache(df, n_docs), *args)
        want = PY[name](vec, idf_cache(df, n_docs), *args)
        assert same(got, want), name
    assert same(C.heaviest(vec, k), PY["heaviest"](vec, k))
    terms = tuple(sorted(vec))[::2] + ("absent",)
    assert same(C.title_weight(vec, terms, idf_cache(df, n_docs)),
                PY["title_weight"](vec, terms, idf_cache(df, n_docs)))
    assert same(C.names(vec), PY["names"](vec))


@settings(max_examples=200, deadline=None)
@given(counts, st.lists(vectors, max_size=3), st.integers(0, 10**6))
def test_count_doc_and_missing(df: dict[str, int], vecs: list[dict[str, float]],
                               n_docs: int) -> None:
    assert same(C.missing(df, *vecs), PY["missing"](df, *vecs))
    df_c, df_py = dict(df), dict(df)
    idf_c, idf_py = idf_cache(df, n_docs), idf_cache(df, n_docs)
    for t in df:  # a full cache, so that dropping stale entries shows
        idf_c[t], idf_py[t] = idf_c[t], idf_py[t]
    C.count_doc(df_c, idf_c, *vecs)
    PY["count_doc"](df_py, idf_py, *vecs)
    assert df_c == df_py
    assert same(dict(sorted(idf_c.items())), dict(sorted(idf_py.items())))


@settings(max_examples=300, deadline=None)
@given(vectors, vectors, vectors, counts, st.integers(0, 10**6), st.integers(0, 30))
def test_index_keys_and_thread_norms(vec: dict[str, float], ents: dict[str, float],
                                     xling: dict[str, float], df: dict[str, int], n_docs: int,
                                     k: int) -> None:
    for args in [(vec, ents), (vec, {}), ({}, ents), (ents, vec)]:  # shared keys too
        assert same(C.top_keys_of(*args, idf_cache(df, n_docs), k),
                    PY["top_keys_of"](*args, idf_cache(df, n_docs), k))
    idf_c, idf_py = idf_cache(df, n_docs), idf_cache(df, n_docs)
    assert same(list(C.idf_norms(vec, ents, xling, idf_c)),
                list(PY["idf_norms"](vec, ents, xling, idf_py)))


@settings(max_examples=300, deadline=None)
@given(vectors, vectors, vectors, counts, st.integers(0, 10**6), st.integers(0, 30))
def test_a_members_vectors(terms: dict[str, float], ents: dict[str, float],
                           xling: dict[str, float], df: dict[str, int], n_docs: int,
                           k: int) -> None:
    for vec in (terms, ents, xling):
        assert same(C.sorted_cut(vec, idf_cache(df, n_docs), k),
                    PY["sorted_cut"](vec, idf_cache(df, n_docs), k))
    # the three share no key in the clusterer (stems, '@' entities, '~' language-blind keys)
    terms = {t: v for t, v in terms.items() if t[0] not in "@~"}
    ents = {t: v for t, v in ents.items() if t.startswith("@")}
    xling = {t: v for t, v in xling.items() if t.startswith("~")}
    got = C.member_vec(terms, ents, xling, idf_cache(df, n_docs), k)
    assert same(got, PY["member_vec"](terms, ents, xling, idf_cache(df, n_docs), k))


@st.composite
def triangles(draw: st.DrawFn) -> list[list[float]]:
    """Similarities of 2-20 members, often tied (a few distinct values), as split sees them."""
    n = draw(st.integers(2, 20))
    values = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]) | st.floats(-1.0, 1.0)
    return [[draw(values) for _ in range(i)] for i in range(n)]


@settings(max_examples=500, deadline=None)
@given(triangles(), st.lists(vectors, max_size=16), vectors)
def test_the_split_repairs_groups_and_similarities(tri: list[list[float]],
                                                   vecs: list[dict[str, float]],
                                                   vec: dict[str, float]) -> None:
    got, want = C.split_groups(tri), PY["split_groups"](tri)
    assert isinstance(got, tuple) and same(list(got), list(want))
    assert same(C.dots(vecs, vec), PY["dots"](vecs, vec))
    assert same(C.entity_unit(vec), PY["entity_unit"](vec))
    if vecs:
        assert same(C.cross_mean(vecs, [vec, *vecs[:3]]), PY["cross_mean"](vecs, [vec, *vecs[:3]]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e150, allow_subnormal=True), max_size=40))
def test_the_c_fsum_of_the_norms_is_math_fsum(values: list[float]) -> None:
    # wide magnitudes and cancellation-free squares: the exactly rounded sum, to the bit
    sums = {f"t{i}": v for i, v in enumerate(values)}
    idf = {t: 1.0 for t in sums}
    assert same(list(C.idf_norms(sums, {}, sums, idf)),
                list(PY["idf_norms"](sums, {}, sums, idf)))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, st.sets(st.integers(1, 40), max_size=12), max_size=8),
       st.lists(keys, max_size=10), st.dictionaries(st.integers(1, 40), st.integers(0, 5),
                                                    min_size=40, max_size=40))
def test_ranked_threads(index: dict[str, set[int]], query: list[str],
                        created: dict[int, int]) -> None:
    from types import SimpleNamespace

    threads = {tid: SimpleNamespace(created_seq=seq) for tid, seq in created.items()}
    # postings as sets, or as State.index keeps them: thread id → its created_seq (then the
    # C kernel ranks without the threads); some keys of each kind in one index
    as_dicts = {k: ({t: created[t] for t in sorted(p)} if i % 2 else p)
                for i, (k, p) in enumerate(index.items())}
    for idx in (index, as_dicts):
        got = C.ranked_threads(idx, query, threads)
        want = PY["ranked_threads"](idx, query, threads)
        assert [id(t) for t in got] == [id(t) for t in want]
        for limit in (0, 1, 3, 50):  # candidates: the first ``limit`` that a test accepts
            def accept(t: SimpleNamespace) -> bool:
                return t.created_seq % 2 == 0

            got = C.first_ranked(idx, query, threads, accept, limit)
            want = PY["first_ranked"](idx, query, threads, accept, limit)
            assert [id(t) for t in got] == [id(t) for t in want]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.integers(1, 400), max_size=250), min_size=1, max_size=6),
       st.integers(0, 60), st.integers(1, 7), st.randoms(use_true_random=False))
def test_candidates_from_long_postings_come_in_rank_order(postings: list[set[int]], limit: int,
                                                          modulus: int, rnd) -> None:
    # Levels of hundreds of threads sharing as many keys (as in a full window: most share
    # one) are walked through a heap in C, not sorted whole: the same threads, same order.
    from types import SimpleNamespace

    threads = {tid: SimpleNamespace(created_seq=rnd.randint(0, 50)) for tid in range(1, 401)}
    index = {f"k{i}": {t: threads[t].created_seq for t in sorted(p)}
             for i, p in enumerate(postings)}
    query = list(index)

    def accept(t: SimpleNamespace) -> bool:
        return t.created_seq % modulus != 1

    got = C.first_ranked(index, query, threads, accept, limit)
    want = PY["first_ranked"](index, query, threads, accept, limit)
    assert [id(t) for t in got] == [id(t) for t in want]


@settings(max_examples=300, deadline=None)
@given(vectors, vectors, counts, st.integers(0, 10**6), st.integers(0, 30), st.floats(0, 1e7))
# Found by Hypothesis: the dropped terms' squares 1 ulp apart when Python squared with
# ``x ** 2`` (libm's pow) and C with ``x * x``.
@example(vec={"kim": 2.0, "putin": 679920.6067448105}, ents={}, df={}, n_docs=1009, k=0,
         norm=7976499.0)
def test_an_articles_idf_and_pruning(vec: dict[str, float], ents: dict[str, float],
                                     df: dict[str, int], n_docs: int, k: int,
                                     norm: float) -> None:
    idf_c, idf_py = idf_cache(df, n_docs), idf_cache(df, n_docs)
    assert same(C.idf_local(idf_c, vec, ents), PY["idf_local"](idf_py, vec, ents))
    assert all(same(idf_py[t], v) for t, v in idf_c.items())
    got = C.pruned(vec, idf_cache(df, n_docs), k, norm)
    want = PY["pruned"](vec, idf_cache(df, n_docs), k, norm)
    assert isinstance(got, tuple) and same(list(got), list(want))


@settings(max_examples=200, deadline=None)
@given(counts, st.lists(vectors, min_size=1, max_size=6), st.integers(0, 10**6))
def test_the_idf_the_c_code_computes_follows_the_counts(df: dict[str, int],
                                                        docs: list[dict[str, float]],
                                                        n_docs: int) -> None:
    # as the clusterer does: documents counted one by one, the cache partly filled by Python
    # lookups in between, IDF read by the C code from the counts
    state = State(df=dict(df), n_docs=n_docs)
    for vec in docs:
        idf = state.idf_map()
        for t in list(vec)[::2]:
            idf[t]  # noqa: B018 -- Python fills the cache
        want = {t: math.log(idf.nq1 / (kernels.quantised_df(state.df.get(t, 0)) + 1)) + 1.0
                for t in vec}
        assert same(C.idf_local(idf, vec), want)
        assert all(same(idf[t], want[t]) for t in vec)
        state.count_doc(vec)


def test_wrong_types_are_a_clear_error_not_a_crash() -> None:
    with pytest.raises(TypeError, match="centroid must be a dict"):
        C.dot({"a": 1.0}, [("a", 1.0)])
    with pytest.raises(TypeError, match="must be real number"):
        C.dot({"a": "x"}, {"a": 1.0})
    with pytest.raises(KeyError):
        C.scaled({"a": 1.0}, {})  # a plain dict has no IDF to compute
    with pytest.raises(TypeError):
        C.top_keys({1: 1.0, 2: 2.0}, {1: 1.0, 2: 1.0}, 1)


_RUN = """
import json, sys
sys.path.insert(0, {bench!r})
from bench_threading import stream
from newsthreads.stories import kernels
from newsthreads.stories.cluster import Clusterer, State
from newsthreads.stories.items import item_from_fields
items = [item_from_fields(a.id, title=a.title, lead=None, body=a.body, language="en",
                          start=a.start, end=a.end) for a in stream(1500)]
clusterer = Clusterer(State())
out = [clusterer.assign(i) for i in sorted(items, key=lambda i: i.start is None)]
norms = sorted((t.id, t.norm_text.hex(), t.norm_ents.hex(), t.norm_xling.hex(), t.keys)
               for t in clusterer.state.threads.values())
print(json.dumps([kernels.ACCELERATED, [(d.article_id, d.thread_id, d.duplicate_of,
                                          d.score and d.score.hex()) for d in out], norms]))
"""


def test_a_clustering_run_is_the_same_with_and_without_the_c_kernels() -> None:
    script = _RUN.format(bench=str(ROOT / "bench"))
    runs = {}
    for pure in ("", "1"):
        env = {**os.environ, "NEWSTHREADS_PURE_PYTHON": pure}
        out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                             capture_output=True, text=True, timeout=600)
        accelerated, decisions, norms = json.loads(out.stdout)
        runs[accelerated] = (decisions, norms)
    assert set(runs) == {True, False}
    assert runs[True] == runs[False]
    assert len({d[1] for d in runs[True][0]}) > 50  # threads were formed, joined and scored


def test_relaxed_gc_restores_the_process_settings() -> None:
    import gc

    from newsthreads.gcpolicy import THRESHOLDS, relaxed_gc

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), relaxed_gc():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
        raise RuntimeError("a failing run")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_pair_scores_is_the_models_probability_of_every_pair_in_a_real_run() -> None:
    """``Clusterer.scores`` (one C call an article) against its definition,
    ``model.probability(pair(...))``, on every scored pair of the synthetic stream: dated,
    month-dated and undated articles (the numbers' cosine), shortlist cosines reused."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_threading import stream
    from newsthreads.stories.cluster import Clusterer
    from newsthreads.stories.items import item_from_fields

    assert kernels.pair_scores is C.pair_scores or os.environ.get("NEWSTHREADS_PURE_PYTHON")
    seen = {"dated": 0, "undated": 0, "reused": 0}

    class Checked(Clusterer):
        def scores(self, item, threads, weighted):  # type: ignore[no-untyped-def]
            got = super().scores(item, threads, weighted)
            want = [self.model.probability(self.pair(item, t, weighted)) for t in threads]
            assert [g.hex() for g in got] == [w.hex() for w in want]
            seen["dated" if item.dated else "undated"] += len(threads)
            seen["reused"] += self._xcos_for is weighted
            return got

    arts = list(stream(1500))
    runs = [  # the stream as it is; undated; and short (title and first sentence only)
        [item_from_fields(a.id, title=a.title, lead=None, body=a.body, language="en",
                          start=a.start, end=a.end) for a in arts],
        [item_from_fields(a.id, title=a.title, lead=None, body=a.body, language="en",
                          start=None, end=None)
         for a in arts[:600]],
        [item_from_fields(a.id, title=a.title, lead=None, body=a.body.split(". ")[0],
                          language="en", start=a.start, end=a.end) for a in arts[:800]],
    ]
    for items in runs:
        clusterer = Checked(State())
        for item in sorted(items, key=lambda i: i.start is None):
            clusterer.assign(item)
    assert seen["dated"] > 1000 and seen["undated"] > 1000 and seen["reused"] > 10, seen


def test_pair_scores_rejects_what_is_not_its_input() -> None:
    with pytest.raises(AttributeError, match="norm_text"):  # not a Thread
        C.pair_scores([object()], ({}, {}, {}, {}), {}, "en", None, None, False, None, {},
                      (0.0,) * 13, (0.0,) * 11)
    with pytest.raises(ValueError, match="model weights"):
        C.pair_scores([], ({}, {}, {}, {}), {}, "en", None, None, False, None, {},
                      (0.0,) * 12, (0.0,) * 11)
