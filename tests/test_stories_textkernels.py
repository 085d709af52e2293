"""The text kernels (``stories/_textkernels.c``) against their definitions (``textkernels.py``).

Random text from Hypothesis, weighted towards what the tokeniser and the sentence rule turn
on (word characters of every script, joiners, sentence ends, spaces, case-blind look-alikes);
then whole analyses with and without the C code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from newsthreads.stories import textkernels
from newsthreads.stories.analyse import _Memo, fold
from newsthreads.stories.duplicates import _A, _B

C = pytest.importorskip("newsthreads.stories._textkernels", reason="C kernels not built")
PY = textkernels.PYTHON
ROOT = Path(__file__).resolve().parent.parent

TRICKY = list("aZ_9-'’.!?:;«»\"“”()[]–—\n\t \r\u00a0\u2028\u3000٢２²½ⅫſKıİǅǄǆÆøßﬁΣσςΩ")
TRICKY += ["\u0301", "\u0307", "\u200b", "\ufeff", "\U0001d400", "\U0001f600", "Ⅻ", "ǈ"]
chars = st.one_of(st.sampled_from(TRICKY), st.characters(blacklist_categories=["Cs"]))
texts = st.text(chars, max_size=80)


@pytest.mark.skipif(bool(os.environ.get("NEWSTHREADS_PURE_PYTHON")),
                    reason="the Python definitions are asked for")
def test_the_extension_was_built_and_is_used() -> None:
    assert textkernels.ACCELERATED
    assert textkernels.words is C.words


@settings(max_examples=2000, deadline=None)
@given(texts)
def test_words(text: str) -> None:
    assert C.words(text) == PY["words"](text)
    assert C.words(text.lower()) == PY["words"](text.lower())


@settings(max_examples=2000, deadline=None)
@given(texts)
def test_name_candidates(text: str) -> None:
    assert C.name_candidates(text) == PY["name_candidates"](text)


@settings(max_examples=2000, deadline=None)
@given(texts, st.data())
def test_has_token(text: str, data: st.DataObject) -> None:
    """Tokens of the text (lower-cased too, as _entities asks), pieces of it, anything."""
    pieces = [*PY["words"](text), *(w.lower() for w in PY["words"](text)), text[1:4], "a"]
    word = data.draw(st.one_of(st.sampled_from(pieces), st.text(chars, max_size=4)))
    assert C.has_token(text, word) is PY["has_token"](text, word)


word_lists = st.lists(st.sampled_from(["Kim", "kim", "og", "the", "møte", "x", "2019", "æ",
                                       "ǅemal", "İs", "\U0001d400x"]), max_size=40)


@settings(max_examples=500, deadline=None)
@given(word_lists)
def test_count_pairs(words: list[str]) -> None:
    assert list(C.word_counts(words).items()) == list(PY["word_counts"](words).items())

    def keys(w: str) -> tuple[str | None, str | None]:
        return (None if len(w) < 2 else fold(w)[:3]), (None if w == "x" else "~" + w[:2])

    tables = [_Memo(keys) for _ in range(2)]
    tables[0]["og"] = tables[1]["og"] = (None, None)
    c = C.count_pairs(tables[0], C.word_counts(words))
    p = PY["count_pairs"](tables[1], PY["word_counts"](words))
    assert type(c) is tuple and len(c) == 2
    for side_c, side_p in zip(c, p, strict=True):  # the order too: norms are summed in it
        assert list(side_c.items()) == list(side_p.items())
    assert list(tables[0].items()) == list(tables[1].items())  # misses asked the memo alike
    for side in (0, 1):  # and what counting word by word gives
        by_word = Counter(tables[1][w][side] for w in words)
        by_word.pop(None, None)
        assert list(c[side].items()) == list(by_word.items())


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(chars, max_size=6), st.integers(1, 10**6), max_size=30))
def test_unit(counts: dict[str, int]) -> None:
    c, p = C.unit(counts), PY["unit"](counts)
    assert list(c) == list(p) and [v.hex() for v in c.values()] == [v.hex() for v in p.values()]
    if sys.version_info < (3, 12) and textkernels.ACCELERATED:  # where the C one is used
        assert textkernels.unit is C.unit


@settings(max_examples=500, deadline=None)
@given(word_lists)
def test_shingles(words: list[str]) -> None:
    c, p = C.shingles(words), PY["shingles"](words)
    assert type(c) is frozenset and c == p
    assert sorted(map(ascii, c)) == sorted(map(ascii, p))


def minhash(fn, shingles: list[str]) -> np.ndarray:
    out = np.zeros(len(_A), dtype=np.uint32)
    fn(shingles, _A, _B, out)
    return out


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(chars, max_size=12), max_size=60))
def test_minhash_into(shingles: list[str]) -> None:
    assert np.array_equal(minhash(C.minhash_into, shingles),
                          minhash(PY["minhash_into"], shingles))
    assert np.array_equal(minhash(C.minhash_into, frozenset(shingles)),
                          minhash(C.minhash_into, shingles))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=128, max_size=128),
       st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=8),
       st.lists(st.integers(0, 2**64 - 1), max_size=16))
def test_band_keys(values: list[int], mix: list[int], salt: list[int]) -> None:
    from newsthreads.stories.duplicates import _BAND_SALT, _MIX, BANDS, ROWS

    sig = np.array(values, dtype=np.uint32)
    assert C.band_keys(sig, mix, salt) == PY["band_keys"](sig, mix, salt)
    keys = C.band_keys(sig, _MIX, _BAND_SALT)
    assert keys == PY["band_keys"](sig, _MIX, _BAND_SALT) and len(keys) == BANDS
    # the definition: each band's rows folded with 64-bit wrap-around
    b = BANDS - 1
    assert keys[b] == (sum(values[b * ROWS + r] * _MIX[r] for r in range(ROWS))
                       + _BAND_SALT[b]) % 2**64
    for fn in (C.band_keys, PY["band_keys"]):
        with pytest.raises(ValueError):
            fn(sig[:3], _MIX, _BAND_SALT)  # too few values for 37 bands


def test_minhash_of_odd_lengths_and_bad_input() -> None:
    a, b = _A[:37].copy(), _B[:37].copy()  # not a whole block of 128 permutations
    for shingles in ([], ["a b c"], [f"ord {i} æøå" for i in range(300)]):
        out_c, out_p = np.zeros(37, np.uint32), np.zeros(37, np.uint32)
        C.minhash_into(shingles, a, b, out_c)
        PY["minhash_into"](shingles, a, b, out_p)
        assert np.array_equal(out_c, out_p)
    out = np.zeros(len(_A), np.uint32)
    for fn in (C.minhash_into, PY["minhash_into"]):
        with pytest.raises(UnicodeEncodeError):  # a lone surrogate, as str.encode
            fn(["ok", "bad \ud800"], _A, _B, out)
    with pytest.raises(TypeError):
        C.minhash_into(["x"], _A.astype(np.int64), _B, out)


def analyses(pure: bool) -> str:
    """Features and signatures of tricky texts, in a fresh process."""
    code = (
        "import json, sys\n"
        "from newsthreads.stories.items import item_from_fields\n"
        "out = []\n"
        "for t in json.loads(sys.stdin.read()):\n"
        "    i = item_from_fields(0, title=t[:20] or None, lead=None, body=t, language='nb',"
        " start=None, end=None)\n"
        "    f = i.features\n"
        "    out.append([list(f.terms.items()), list(f.entities.items()),"
        " list(f.xling.items()), list(f.display.items()), f.title_terms,"
        " sorted(f.shingles), f.tokens, i.minhash.hashvalues.tolist()])\n"
        "print(json.dumps(out))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
    env.pop("NEWSTHREADS_PURE_PYTHON", None)
    if pure:
        env["NEWSTHREADS_PURE_PYTHON"] = "1"
    body = ("Statsminister Erna Solberg møtte Kim Jong-un 28. juli 2019. Deretter reiste "
            "Solbergs rådgivere hjem.  «Møtet» ble avsluttet kl. 12:30; NATO-sjefen kom. ")
    inputs = [body * k for k in range(1, 4)] + [body.upper(), body.lower(), "", "٢٠١٣ İstanbul"]
    return subprocess.run([sys.executable, "-c", code], input=json.dumps(inputs), env=env,
                          capture_output=True, text=True, check=True).stdout


def test_analysis_is_the_same_without_the_extension() -> None:
    assert analyses(pure=False) == analyses(pure=True)
