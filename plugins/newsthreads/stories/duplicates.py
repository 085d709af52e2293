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

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SCHEME = "affine32"
LSH_THRESHOLD = 0.3  # candidates only; the decision below is made on the estimates
JACCARD_MIN = 0.5
CONTAINMENT_MIN = 0.75
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
    return jaccard >= JACCARD_MIN or containment >= CONTAINMENT_MIN


class DuplicateIndex:
    """LSH over the signatures of articles in the active window."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self._entries: dict[int, tuple[MinHash, int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: int) -> bool:
        return article_id in self._entries

    def add(self, article_id: int, mh: MinHash, size: int) -> None:
        if article_id in self._entries or size == 0:
            return
        self._lsh.insert(article_id, mh)
        self._entries[article_id] = (mh, size)

    def remove(self, article_id: int) -> None:
        if self._entries.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def matches(self, mh: MinHash, size: int) -> list[Match]:
        """Earlier articles this one nearly copies, best first (ties by article id)."""
        if size == 0:
            return []
        found = []
        for other in self._lsh.query(mh):
            other_mh, other_size = self._entries[other]
            j = mh.jaccard(other_mh)
            inter = j * (size + other_size) / (1.0 + j)
            smaller = min(size, other_size)
            c = min(1.0, inter / smaller) if smaller else 0.0
            if is_near_copy(j, c, smaller):
                found.append(Match(other, j, c))
        found.sort(key=lambda m: (-max(m.jaccard, m.containment), m.article_id))
        return found
