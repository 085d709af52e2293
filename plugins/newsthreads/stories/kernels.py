"""The clustering's hot loops over term → weight dicts: the definitions, and their C versions.

Each function below is the reference: plain Python that says what the result is. When the
extension ``_kernels`` (``_kernels.c``, built by ``pip install``) is importable, the names are
rebound to its functions, which return the same values bit for bit (the tests compare both on
random input); they only skip the interpreter's per-term overhead. Without a C compiler, or
when ``plugins/`` is used as a plain folder, the Python versions run and threads come out the
same, only slower. ``ACCELERATED`` says which is in use (logged by ``cluster_pending``).

Float operations keep one order and association in both versions: dicts are walked in
insertion order and sums are plain left-to-right additions (not ``sum()``, which Python 3.12
made compensated), so a restarted run still equals one long run.
"""

from __future__ import annotations

import heapq
import math
import os
from collections import Counter
from collections.abc import Collection, Mapping
from itertools import chain
from typing import Any

from newsthreads.stories.analyse import ENTITY_PREFIX, NUMBER_PREFIX

NUMBER_KEY = ENTITY_PREFIX + NUMBER_PREFIX  # entity keys of numbers and dates in the text: '@#'
DF_EXACT_BITS = 6  # document frequencies keep this many significant bits in IDF


def quantised_df(df: int) -> int:
    """``df`` rounded down to 6 significant bits (steps under 3 %, so IDF moves by < 0.03):
    a common term's IDF then stays cached across many documents instead of being recomputed
    after each one."""
    shift = df.bit_length() - DF_EXACT_BITS
    return df >> shift << shift if shift > 0 else df


def dot(vec: dict[str, float], centroid: dict[str, float]) -> float:
    """Σ vec[t]·centroid[t] over the terms of ``vec`` that ``centroid`` holds."""
    total = 0.0
    get = centroid.get
    for t, w in vec.items():
        c = get(t)
        if c is not None:
            total += w * c
    return total


def add_into(sums: dict[str, float], vec: dict[str, float], idf: Mapping[str, float],
             sq: float) -> float:
    """``sums += vec`` in place; returns the squared IDF-weighted norm ``sq`` moved to match."""
    for t, v in vec.items():
        old = sums.get(t, 0.0)
        new = old + v
        sums[t] = new
        w = idf[t]
        sq += (new * new - old * old) * w * w
    return sq


def scaled(vec: dict[str, float], idf: Mapping[str, float]) -> dict[str, float]:
    """{t: vec[t]·idf[t]}."""
    return {t: v * idf[t] for t, v in vec.items()}


def squares(sums: dict[str, float], idf: Mapping[str, float]) -> list[float]:
    """[(sums[t]·idf[t])²]: the terms of a norm, for an exactly rounded ``math.fsum``."""
    out = []
    for t, v in sums.items():
        x = v * idf[t]
        out.append(x * x)
    return out


def _by_weight(tv: tuple[str, float]) -> tuple[float, str]:
    return -tv[1], tv[0]


def top_keys(vec: dict[str, float], idf: Mapping[str, float], k: int) -> list[str]:
    """The k keys of heaviest weight × IDF, ties by key (deterministic)."""
    scored = [(-v * idf[t], t) for t, v in vec.items()]
    if len(scored) > 4 * k:
        return [t for _, t in heapq.nsmallest(k, scored)]
    scored.sort()
    return [t for _, t in scored[:k]]


def heaviest(vec: dict[str, float], k: int) -> dict[str, float]:
    """The k largest entries, heaviest first, ties by key."""
    return dict(heapq.nsmallest(k, vec.items(), key=_by_weight))


def unit_weighted(vec: dict[str, float], idf: Mapping[str, float], k: int) -> dict[str, float]:
    """The k heaviest of vec·idf as a unit vector, times IDF once more: its dot product with a
    centroid of TF sums is then Σ w·S with IDF applied to both sides."""
    w = scaled(vec, idf)
    if len(w) > k:
        w = dict(sorted(w.items(), key=_by_weight)[:k])
    sq = 0.0
    for x in w.values():
        sq += x * x
    norm = math.sqrt(sq)
    return {t: x * idf[t] / norm for t, x in w.items()} if norm else {}


def names(ents: dict[str, float]) -> dict[str, float]:
    """Entities less the numbers and dates (``@#…``)."""
    return {t: v for t, v in ents.items() if not t.startswith(NUMBER_KEY)}


def count_doc(df: dict[str, int], idf: dict[str, float], *vecs: dict[str, float]) -> None:
    """One more document holding every key of ``vecs``; a key whose count moved to another
    quantisation step loses its cached IDF."""
    pop = idf.pop
    for vec in vecs:
        for t in vec:
            old = df.get(t, 0)
            df[t] = old + 1
            if quantised_df(old + 1) != quantised_df(old):
                pop(t, None)


def missing(df: Mapping[str, int], *vecs: dict[str, float]) -> list[str]:
    """The keys of ``vecs`` that ``df`` does not hold yet."""
    return [t for vec in vecs for t in vec if t not in df]


def idf_local(idf: Mapping[str, float], *vecs: dict[str, float]) -> dict[str, float]:
    """{t: idf[t]} for the keys of ``vecs``: an article's IDF looked up once in the big
    cache, then read from a dict small enough to stay in the CPU cache."""
    return {t: idf[t] for vec in vecs for t in vec}


def pruned(sums: dict[str, float], idf: Mapping[str, float], k: int,
           norm: float) -> tuple[dict[str, float], float]:
    """The k heaviest sums (weight × IDF), in their order, and the IDF-weighted ``norm``
    less what was dropped."""
    keep = set(PYTHON["top_keys"](sums, idf, k))
    sq = norm * norm
    for t, v in sums.items():
        if t not in keep:
            x = v * idf[t]
            sq -= x * x  # not x ** 2: libm's pow may round the square differently
    return {t: v for t, v in sums.items() if t in keep}, math.sqrt(sq) if sq > 0 else 0.0


def top_keys_of(vec: dict[str, float], ents: dict[str, float], idf: Mapping[str, float],
                k: int) -> list[str]:
    """``top_keys`` of the terms and entity names together (the index keys of an article or
    a thread)."""
    py = PYTHON  # the definitions, also when the names are bound to the C versions
    return py["top_keys"]({**vec, **py["names"](ents)}, idf, k)


def _idf_norm(sums: dict[str, float], idf: Mapping[str, float]) -> float:
    # fsum: exactly rounded, hence independent of dict order (a thread built in memory and
    # one read back from jsonb hold their keys in different orders)
    out = []
    for t, v in sums.items():
        x = v * idf[t]
        out.append(x * x)
    return math.sqrt(math.fsum(out)) if sums else 0.0


def idf_norms(text: dict[str, float], ents: dict[str, float], xling: dict[str, float],
              idf: Mapping[str, float]) -> tuple[float, float, float]:
    """|Σ tf·idf| of a thread's text sums, entity names (not the numbers) and language-blind
    sums, each summed with ``fsum``."""
    return (_idf_norm(text, idf), _idf_norm(PYTHON["names"](ents), idf),
            _idf_norm(xling, idf))


def ranked_threads(index: Mapping[str, Collection[int]], query: list[str],
                   threads: Mapping[int, Any]) -> list[Any]:
    """The threads indexed under any key of ``query``: most keys shared first, then by
    creation (``created_seq``, then id); a total order, whatever the sets' order."""
    counts = Counter(chain.from_iterable([index[k] for k in query if k in index]))
    ranked = sorted([(-c, threads[tid].created_seq, tid) for tid, c in counts.items()])
    return [threads[tid] for _, _, tid in ranked]


def first_ranked(index: Mapping[str, Collection[int]], query: list[str],
                 threads: Mapping[int, Any],
                 accept: Any, limit: int) -> list[Any]:
    """The first ``limit`` threads of ``ranked_threads`` that ``accept`` (a pure test)
    passes: an article's candidate threads."""
    out: list[Any] = []
    for thread in PYTHON["ranked_threads"](index, query, threads):
        if len(out) >= limit:
            break
        if accept(thread):
            out.append(thread)
    return out


def sorted_cut(vec: dict[str, float], idf: Mapping[str, float], k: int) -> dict[str, float]:
    """``vec`` cut to its k keys of heaviest weight × IDF (all when it has no more), in key
    order: how a small thread's member keeps an article's vectors."""
    if len(vec) > k:
        return {t: vec[t] for t in sorted(PYTHON["top_keys"](vec, idf, k))}
    return dict(sorted(vec.items()))


def member_vec(terms: dict[str, float], ents: dict[str, float], xling: dict[str, float],
               idf: Mapping[str, float], k: int) -> dict[str, float]:
    """The unit TF-IDF vector of a member: the k heaviest of the three vectors scaled by IDF
    (they share no key: stems, '@' entities, '~' language-blind keys), in key order,
    divided by their exactly rounded norm; {} when that is 0."""
    py = PYTHON
    top = py["heaviest"]({**py["scaled"](terms, idf), **py["scaled"](ents, idf),
                          **py["scaled"](xling, idf)}, k)
    norm = math.sqrt(math.fsum([w * w for w in top.values()]))
    return {t: w / norm for t, w in sorted(top.items())} if norm else {}


def dots(vecs: list[dict[str, float]], vec: dict[str, float]) -> list[float]:
    """[dot(v, vec) for v in vecs]: a new member's similarities to the earlier ones."""
    return [PYTHON["dot"](v, vec) for v in vecs]


def cross_mean(vecs_a: list[dict[str, float]], vecs_b: list[dict[str, float]]) -> float:
    """The mean similarity of two groups of members: dot(a, b) for a in one, b in the other."""
    dot_ = PYTHON["dot"]
    return mean([dot_(a, b) for a in vecs_a for b in vecs_b])


def entity_unit(vec: dict[str, float]) -> dict[str, float]:
    """``vec`` cut to its entity keys (names, numbers and dates written) and renormalised
    (exactly rounded norm): what the split repair compares members on."""
    keep = {t: w for t, w in vec.items() if t.startswith(ENTITY_PREFIX)}
    norm = math.sqrt(math.fsum([w * w for w in keep.values()]))
    return {t: w / norm for t, w in keep.items()} if norm else {}


def title_weight(sums: dict[str, float], terms: tuple[str, ...],
                 idf: Mapping[str, float]) -> float:
    """Σ sums[t]·idf[t] over a title's terms (0 for a term the sums lack), left to right:
    how central a title is to a thread."""
    total = 0.0
    for t in terms:
        total += sums.get(t, 0.0) * idf[t]
    return total


def mean(values: list[float]) -> float:
    total = 0.0  # left to right, as the C code adds (``sum()`` is compensated from 3.12)
    for x in values:
        total += x
    return total / len(values)


def split_groups(tri: list[list[float]]) -> tuple[list[int], list[int], float, float | None]:
    """The split repair's two groups of a small thread's members, from their similarities
    (``tri[i][j]``, j < i): the newest member and the one least like it (ties: the first)
    seed them, and every other member goes to the group it is more like on average (ties:
    the newest's), in up to three rounds. Returns the groups (indexes in order), their mean
    similarity to each other, and the lower of their inner mean similarities (None when a
    group has one member)."""
    n = len(tri)
    sim = [row + [0.0] * (n - i) for i, row in enumerate(tri)]
    for i in range(n):
        for j in range(i):
            sim[j][i] = sim[i][j]
    newest = n - 1
    far = min(range(newest), key=lambda j: (sim[newest][j], j))
    groups = ([newest], [far])
    for _ in range(3):
        a: list[int] = []
        b: list[int] = []
        for i in range(n):
            if i == newest or i == far:
                (a if i == newest else b).append(i)
                continue
            row = sim[i]
            ga = [row[j] for j in groups[0] if j != i]
            gb = [row[j] for j in groups[1] if j != i]
            (a if (mean(ga) if ga else 0.0) >= (mean(gb) if gb else 0.0) else b).append(i)
        if (a, b) == groups:
            break
        groups = (a, b)
    a, b = groups
    between = mean([sim[i][j] for i in a for j in b])
    if min(len(a), len(b)) < 2:
        return a, b, between, None
    inner = min(mean([sim[i][j] for i in g for j in g if i < j]) for g in (a, b))
    return a, b, between, inner


PYTHON = {f.__name__: f for f in (dot, add_into, scaled, squares, top_keys, heaviest,
                                  unit_weighted, names, count_doc, missing, idf_local, pruned,
                                  top_keys_of, idf_norms, ranked_threads, sorted_cut,
                                  member_vec, dots, split_groups, cross_mean,
                                  entity_unit, title_weight, first_ranked)}

# pair_scores(threads, weighted, entities, language, start, end, precise, xcos, idf, dated,
# undated) -> [probability]: ``Model.probability(Clusterer.pair(...))`` for each thread in one
# call (see ``Clusterer.scores``, which defines it by those two). C only: its Python version
# *is* those two functions.
pair_scores: Any = None

ACCELERATED = False
if not os.environ.get("NEWSTHREADS_PURE_PYTHON"):
    try:
        from newsthreads.stories._kernels import (  # type: ignore[no-redef]  # noqa: F811
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
            member_vec,
            missing,
            names,
            pair_scores,  # noqa: F401 - read by cluster.py through this module
            pruned,
            ranked_threads,
            scaled,
            sorted_cut,
            split_groups,
            squares,
            title_weight,
            top_keys,
            top_keys_of,
            unit_weighted,
        )

        ACCELERATED = True
    except ImportError:  # no compiler at install time, or plugins/ used as a bare folder
        pass
