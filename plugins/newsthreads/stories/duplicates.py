"""Near-duplicate detection: MinHash over word 3-shingles (datasketch's), LSH for candidates.

Wire copies are the common case: the same NTB text in several outlets, re-titled, trimmed or
with a lead added. Jaccard catches full copies; *containment* (how much of the shorter text
is inside the longer) catches excerpts and copies with paragraphs added. Both are estimated from
the signatures and the shingle-set sizes, so the index keeps 512 bytes per article, not text.

The banding is our own (:class:`DuplicateIndex`), not datasketch's ``MinHashLSH``: at the low
threshold containment needs (37 bands of 3), ``MinHashLSH`` hashes each band in Python and
keeps a set per bucket plus a reverse map, about 0.3 ms an insert-and-query here, a sixth of
all clustering time; one C call (``textkernels.band_keys``) computes all 37 band keys and a
dict of small lists holds the buckets (bench/bench_threading.py measures it).

The signatures are datasketch's affine32 MinHash values (tests/test_stories_analyse.py checks
them against ``datasketch.MinHash``), but this module does not import datasketch: its package
``__init__`` imports every sketch it has, and its LSH classes import scipy, about a second of
start-up for each process that threads (the CLI, each Airflow task, the analysis worker) for a
class of which only the values were used. :class:`Signature` holds the values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from newsthreads.stories.textkernels import band_keys as _band_keys
from newsthreads.stories.textkernels import minhash_into

NUM_PERM = 128
SCHEME = "affine32"
LSH_THRESHOLD = 0.3  # candidates only; the decision below is made on the estimates
JACCARD_MIN = 0.5
CONTAINMENT_MIN = 0.75
# A copy that was trimmed *and* had paragraphs added: half of the shorter text inside the
# longer, and a third of all shingles shared. Articles that only share a paragraph or two
# (the seeds 000 and 003: 0.42 / 0.16) stay apart.
PARTIAL_CONTAINMENT, PARTIAL_JACCARD = 0.5, 0.3
MIN_SHINGLES = 25  # a few sentences: shorter texts share boilerplate too easily

# Bands and rows per band for LSH_THRESHOLD, chosen as datasketch chooses them (equal weight on
# false positives and negatives): 37 bands of 3 rows for 128 permutations at 0.3.
# (tests/test_stories_analyse.py checks this against datasketch's MinHashLSH)
BANDS, ROWS = 37, 3
# A band's rows folded into one 64-bit key (odd multipliers, arithmetic mod 2**64); a rare
# collision only adds a candidate, which the Jaccard/containment estimate then rejects.
_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)[:ROWS]
_BAND_SALT = tuple(b * 0xD6E8FEB86659FD93 % 2**64 for b in range(BANDS))


def permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of ``datasketch.MinHash(num_perm=NUM_PERM, seed=seed, scheme=SCHEME)``,
    drawn as its ``_init_permutations`` draws them: a odd, b any, both uint32."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


# datasketch's affine32 scheme, as MinHash.update_batch computes it, is textkernels.minhash_into
# (one pass over the shingle set, C when built): crc32, the MurmurHash3 finalizer, a * h + b
# (mod 2**32), the least value per permutation.
_A, _B = permutations(seed=1)


@dataclass(frozen=True, eq=False, slots=True)
class Signature:
    """A shingle set's MinHash values (uint32, one per permutation)."""

    hashvalues: np.ndarray

    def jaccard(self, other: Signature) -> float:
        """The estimated Jaccard similarity: the share of permutations whose minima agree."""
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / NUM_PERM

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Signature)
                and np.array_equal(self.hashvalues, other.hashvalues))


def signature(shingles: Iterable[str]) -> Signature:
    """The MinHash of a shingle set: a minimum per permutation, so the order of the
    shingles does not matter."""
    values = np.empty(NUM_PERM, dtype=np.uint32)
    minhash_into(shingles, _A, _B, values)
    return Signature(values)


def to_bytes(mh: Signature) -> bytes:
    return np.asarray(mh.hashvalues, dtype=np.uint32).tobytes()


def from_bytes(data: bytes) -> Signature:
    return Signature(np.frombuffer(data, dtype=np.uint32).copy())


@dataclass(frozen=True)
class Match:
    """An earlier article this one nearly copies."""

    article_id: int
    jaccard: float
    containment: float  # share of the shorter text found in the longer one


def is_near_copy(jaccard: float, containment: float, smaller: int) -> bool:
    """The duplicate rule: near-identical, or one text (of some length) inside the other."""
    if smaller < MIN_SHINGLES:
        return jaccard >= 0.8
    return (jaccard >= JACCARD_MIN or containment >= CONTAINMENT_MIN
            or (containment >= PARTIAL_CONTAINMENT and jaccard >= PARTIAL_JACCARD))


@dataclass
class Entry:
    """A signature in the index and what the duplicate window needs to know about it."""

    values: np.ndarray  # the MinHash values (512 bytes): no MinHash object is kept
    size: int  # shingles
    thread_id: int
    root: int | None  # the original this article copies, if it is a copy
    start: datetime | None  # its date interval (None: undated or imputed)
    end: datetime | None
    seq: int  # when it was processed


def band_keys(values: np.ndarray) -> list[int]:
    """The LSH bucket of each band of a signature, as Python ints (one per band): in C
    where built (the numpy expression cost ~20 µs a call, a few percent of clustering)."""
    return _band_keys(values, _MIX, _BAND_SALT)


class DuplicateIndex:
    """LSH over the signatures of recent articles (the duplicate window, not the archive)."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[int]] = {}
        self.entries: dict[int, Entry] = {}
        # The band keys of the last signature queried, which is normally the next one added
        # (``matches`` then ``add`` for each article), and of each entry for its removal: a
        # signature's keys are computed once, not three times.
        self._last: tuple[np.ndarray, bytes, list[int]] | None = None
        self._keys: dict[int, np.ndarray] = {}

    def _band_keys(self, values: np.ndarray) -> list[int]:
        last = self._last
        if last is not None and last[0] is values and last[1] == values.tobytes():
            return last[2]
        keys = band_keys(values)
        self._last = (values, values.tobytes(), keys)
        return keys

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, article_id: int) -> bool:
        return article_id in self.entries

    def add(self, article_id: int, mh: Signature, entry: Entry) -> None:
        if article_id in self.entries or entry.size == 0:
            return
        buckets = self._buckets
        keys = self._band_keys(entry.values)
        for key in keys:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [article_id]
            else:
                bucket.append(article_id)
        self.entries[article_id] = entry
        self._keys[article_id] = np.array(keys, dtype=np.uint64)

    def remove(self, article_id: int) -> None:
        entry = self.entries.pop(article_id, None)
        if entry is None:
            return
        buckets = self._buckets
        for key in self._keys.pop(article_id).tolist():
            bucket = buckets.get(key)
            if bucket is not None:
                bucket.remove(article_id)
                if not bucket:
                    del buckets[key]

    def matches(self, mh: Signature, size: int) -> list[Match]:
        """Indexed articles this one nearly copies, best first (ties by article id)."""
        if size == 0:
            return []
        found = []
        values = np.asarray(mh.hashvalues)
        others: set[int] = set()
        buckets = self._buckets
        for key in self._band_keys(values):
            bucket = buckets.get(key)
            if bucket is not None:
                others.update(bucket)
        for other in others:
            entry = self.entries[other]
            j = float(np.count_nonzero(values == entry.values)) / NUM_PERM
            inter = j * (size + entry.size) / (1.0 + j)
            smaller = min(size, entry.size)
            c = min(1.0, inter / smaller) if smaller else 0.0
            if is_near_copy(j, c, smaller):
                found.append(Match(other, j, c))
        found.sort(key=lambda m: (-max(m.jaccard, m.containment), m.article_id))
        return found
