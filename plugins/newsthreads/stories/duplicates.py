"""Near-duplicate detection: MinHash over word 3-shingles, LSH for candidates (datasketch).

Wire copies are the common case: the same NTB text in several outlets, re-titled, trimmed or
with a lead added. Jaccard catches full copies; *containment* (how much of the shorter text
is inside the longer) catches excerpts and copies with paragraphs added. Both are estimated from
the signatures and the shingle-set sizes, so the index keeps 512 bytes per article, not text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from datasketch import MinHash, MinHashLSH

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

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)


def _hash(shingle: bytes) -> int:
    # Deterministic across processes (Python's hash() is salted), and faster than SHA-1.
    return zlib.crc32(shingle)


def signature(shingles: Iterable[str]) -> MinHash:
    """The MinHash of a shingle set; shingles are sorted so the result is order-free."""
    mh = MinHash(num_perm=NUM_PERM, hashfunc=_hash, permutations=_TEMPLATE.permutations,
                 scheme=SCHEME)
    mh.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    return mh


def to_bytes(mh: MinHash) -> bytes:
    return np.asarray(mh.hashvalues, dtype=np.uint32).tobytes()


def from_bytes(data: bytes) -> MinHash:
    values = np.frombuffer(data, dtype=np.uint32).copy()
    return MinHash(hashvalues=values, hashfunc=_hash, permutations=_TEMPLATE.permutations,
                   scheme=SCHEME)


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


class DuplicateIndex:
    """LSH over the signatures of recent articles (the duplicate window, not the archive)."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self.entries: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, article_id: int) -> bool:
        return article_id in self.entries

    def add(self, article_id: int, mh: MinHash, entry: Entry) -> None:
        if article_id in self.entries or entry.size == 0:
            return
        self._lsh.insert(article_id, mh)
        self.entries[article_id] = entry

    def remove(self, article_id: int) -> None:
        if self.entries.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def matches(self, mh: MinHash, size: int) -> list[Match]:
        """Indexed articles this one nearly copies, best first (ties by article id)."""
        if size == 0:
            return []
        found = []
        values = np.asarray(mh.hashvalues)
        for other in self._lsh.query(mh):
            entry = self.entries[other]
            j = float(np.count_nonzero(values == entry.values)) / NUM_PERM
            inter = j * (size + entry.size) / (1.0 + j)
            smaller = min(size, entry.size)
            c = min(1.0, inter / smaller) if smaller else 0.0
            if is_near_copy(j, c, smaller):
                found.append(Match(other, j, c))
        found.sort(key=lambda m: (-max(m.jaccard, m.containment), m.article_id))
        return found
