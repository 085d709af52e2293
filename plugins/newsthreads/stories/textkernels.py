"""The text analysis's hot loops: their definitions, and their C versions.

Each function below is the reference: plain Python (regular expressions, ``Counter``, numpy)
that says what the result is. When the extension ``_textkernels`` (``_textkernels.c``) is
importable, the names are rebound to its functions, which return the same values (the tests
compare both on random text); they skip the regex engine's generic matching and the
interpreter's per-token work. ``ACCELERATED`` says which is in use. As with ``kernels``,
``NEWSTHREADS_PURE_PYTHON=1`` keeps the Python versions.

The patterns live here, not in ``analyse``, so that the definitions need nothing of it.
"""

from __future__ import annotations

import math
import os
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from operator import mul, truediv

import numpy as np

WORD_RE = r"\w+(?:[-'’]\w+)*"
WORD = re.compile(WORD_RE, re.UNICODE)
END = r"[.!?:;«»\"“”()\[\]–—\n]"  # what ends a sentence (or opens a quote)
# WORD's tokens, in group 1 if a sentence end and at most two spaces come before the token
# (END in the three characters before it), else in group 2: one findall instead of a
# finditer and a look-back search per capitalised token. Neither sentence ends nor spaces are
# ever part of a token, so consuming them leaves the tokens as WORD finds them.
WORD_AT = re.compile(rf"{END}\s{{0,2}}({WORD_RE})|({WORD_RE})", re.UNICODE)
SEP = "\n"  # never inside a shingle (words of WORD, folded, joined by spaces)


def words(text: str) -> list[str]:
    """The tokens of ``text``: words, with inner hyphens and apostrophes (``Jong-un``)."""
    return WORD.findall(text)


def has_token(text: str, word: str) -> bool:
    """Whether ``word`` is one of the tokens of ``text``."""
    return word in WORD.findall(text)


def tokens_at(text: str) -> list[tuple[str, str]]:
    """WORD's tokens as (token, '') if sentence-initial, else ('', token)."""
    pairs = WORD_AT.findall(text)
    if pairs and WORD.match(text):  # the first token starts the text
        pairs[0] = (max(pairs[0]), "")
    return pairs


def may_be_name(token: str) -> bool:
    """Capitalised, not all lower case, no digits."""
    return (not token.islower() and token[0].isupper()
            and not any(ch.isdigit() for ch in token))


def name_candidates(text: str) -> list[tuple[str, str]]:
    """The pairs of :func:`tokens_at` whose token may be a name."""
    return [pair for pair in tokens_at(text) if may_be_name(max(pair))]


def word_counts(words: list[str]) -> dict[str, int]:
    """How often each word occurs, in order of first occurrence."""
    return dict(Counter(words))


def count_pairs(table: Mapping[str, tuple[str | None, str | None]],
                counts: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Per key of ``table[word]`` (a pair of keys; None is no key) the summed counts of its
    words, one dict per side, in order of first occurrence: what counting each side word by
    word gives (the first word of a key comes first), with one lookup per distinct word.
    The order matters: the unit vectors' float sums follow it."""
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for word, n in counts.items():
        a, b = table[word]
        if a is not None:
            first[a] = first.get(a, 0) + n
        if b is not None:
            second[b] = second.get(b, 0) + n
    return first, second


def _weight(count: int) -> float:
    return 1.0 + math.log(count)  # sublinear TF


def unit(counts: dict[str, int]) -> dict[str, float]:
    """The unit vector of sublinear TF weights, by sorted key; the norm is summed in the
    counts' order (float addition is not associative)."""
    weights = list(map(_weight, counts.values()))
    norm = math.sqrt(sum(map(mul, weights, weights)))
    if not norm:
        return {}
    keys = sorted(counts)
    return dict(zip(keys, map(truediv, map(_weight, map(counts.__getitem__, keys)),
                              repeat(norm)), strict=True))


def shingles(words: list[str]) -> frozenset[str]:
    """Word 3-shingles, joined by spaces."""
    return frozenset(map(" ".join, zip(words, words[1:], words[2:], strict=False)))


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _crc32s(shingles: list[str]) -> np.ndarray:
    """``zlib.crc32`` of each shingle's UTF-8; encoded in one piece, which is cheaper."""
    parts = SEP.join(shingles).encode("utf-8").split(SEP.encode())
    if len(parts) != len(shingles):  # a shingle that holds the separator after all
        parts = [s.encode("utf-8") for s in shingles]
    return np.fromiter(map(zlib.crc32, parts), dtype=np.uint32, count=len(parts))


def minhash_into(shingles: Iterable[str], a: np.ndarray, b: np.ndarray,
                 out: np.ndarray) -> None:
    """datasketch's affine32 MinHash of ``shingles`` into ``out`` (uint32): each crc32 mixed
    with the MurmurHash3 finalizer, permuted as a·h + b (mod 2**32), the least value per
    permutation kept; all ones when there are no shingles."""
    batch = list(shingles)
    if batch:
        permuted = np.multiply.outer(a, _fmix32(_crc32s(batch)))
        permuted += b[:, None]
        out[:] = permuted.min(axis=1)
    else:
        out[:] = np.iinfo(np.uint32).max


def band_keys(values: np.ndarray, mix: Sequence[int], salt: Sequence[int]) -> list[int]:
    """LSH band keys of a signature: for each band b < len(salt), with R = len(mix) rows a
    band, (Σ_r values[b·R + r] · mix[r]) + salt[b] (mod 2**64), as Python ints."""
    bands, rows = len(salt), len(mix)
    if not 1 <= rows <= 8 or len(values) < bands * rows:
        raise ValueError("1 to 8 rows a band, and values for every band")
    block = np.asarray(values, dtype=np.uint32)[:bands * rows].astype(np.uint64)
    with np.errstate(over="ignore"):
        keys = (block.reshape(bands, rows) * np.array(mix, dtype=np.uint64)).sum(
            axis=1, dtype=np.uint64) + np.array(salt, dtype=np.uint64)
    return keys.tolist()


PYTHON = {f.__name__: f for f in (words, has_token, name_candidates, word_counts, count_pairs,
                                  unit, shingles, minhash_into, band_keys)}

ACCELERATED = False
if not os.environ.get("NEWSTHREADS_PURE_PYTHON"):
    try:
        from newsthreads.stories._textkernels import (  # type: ignore[no-redef]  # noqa: F811
            band_keys,
            count_pairs,
            has_token,
            minhash_into,
            name_candidates,
            shingles,
            word_counts,
            words,
        )

        # sum() of floats is a plain left-to-right addition up to 3.11, compensated from
        # 3.12: the C unit() adds plainly, so it stands in for the definition only where
        # that is what sum() does.
        if sys.version_info < (3, 12):
            from newsthreads.stories._textkernels import unit  # type: ignore[no-redef]

        ACCELERATED = True
    except ImportError:  # no compiler at install time, or plugins/ used as a bare folder
        pass
