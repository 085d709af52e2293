"""Text analysis, near-duplicates, labels and the evaluation metrics: no database needed.

Texts are synthetic (written for these tests) or the repository's seed files.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

import newsthreads.stories.analyse as analysis
import numpy as np
import pytest
from conftest import SEEDS
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st
from newsthreads.normalise.seedtext import parse_seed_text
from newsthreads.stories.analyse import analyse, entity_key, xling_key
from newsthreads.stories.cluster import Clusterer, Item, State, interval_gap_days
from newsthreads.stories.duplicates import (
    DuplicateIndex,
    Entry,
    from_bytes,
    signature,
    to_bytes,
)
from newsthreads.stories.evaluate import bcubed, cross_pairs, pairwise
from newsthreads.stories.label import thread_label


def seed(prefix: str) -> str:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8")


def seed_parts(prefix: str) -> tuple[str | None, str]:
    fields = parse_seed_text(seed(prefix))
    return fields.title, "\n".join(p for p in (fields.lead, fields.body) if p)


@pytest.mark.parametrize(("token", "key"), [
    ("Kims", "kim"), ("Kim's", "kim"), ("Putins", "putin"), ("Putin’s", "putin"),
    ("Brussels", "brussel"), ("Brussel", "brussel"), ("Støre", "store"), ("NATO", "nato"),
    ("Grøvan", "grovan"), ("Erdoğan", "erdogan"), ("Det", None), ("The", None),
])
def test_entity_keys_agree_across_languages(token: str, key: str | None) -> None:
    assert entity_key(token) == key


def test_language_blind_keys_meet_for_cognates() -> None:
    assert xling_key("evakuert") == xling_key("evacuated") == xling_key("evakuiert")
    assert xling_key("sanktionen") == xling_key("sanctions")
    assert xling_key("2019") == "2019"
    assert xling_key("og") is None


def test_analyse_norwegian_entities_and_stems() -> None:
    text = ("Statsminister Erna Solberg møtte Kim Jong-un. Deretter reiste Solbergs rådgivere "
            "hjem, og møtet ble avsluttet. Møtene fortsetter i Vladivostok.")
    f = analyse(text, language="nb")
    assert {"@solberg", "@kim", "@jong", "@vladivostok", "@erna"} <= set(f.entities)
    assert "@deretter" not in f.entities  # sentence-initial function word, not a name
    assert "og" not in f.terms  # stopword
    assert "mot" in f.terms  # 'møtte'/'møtet'/'møtene' share a Snowball stem (folded)
    assert abs(sum(v * v for v in f.terms.values()) - 1.0) < 1e-9
    assert f.display["@solberg"] == "Solberg"
    assert analyse(text, language="nb") == f  # a pure function of the text


def test_unknown_language_falls_back_to_prefixes() -> None:
    f = analyse("Politikerne diskuterte politikken lenge", language="xx")
    assert "politi" in f.terms


UNICODE_DIGITS = "٢٠١٣ ١٢ ２０１９ 10² september ٢"
# Strings that the fast paths of the analysis (prefilters, one-pass tokenising) must treat as
# the plain regular-expression scans do: dates in many spellings, case-blind look-alikes of
# month letters, clock times, Unicode digits, sentence ends with up to three spaces.
TRICKY = [
    "", "1234", "...", "\n\n", "x" * 40 + " 5", " " * 60 + "7", "ſeptember 12 oKt 3 Aprıl 5",
    "May 5 and may 5, June 12th. Sept. 3 1999; 28. juli 2019, 28th of July. DEC 24",
    "Dec 32, Dec 0, Dec 31, 2020 at 12:30; jan. 1 jan.1 JAN  1 mayo\n\n7 marzo3 augustus 15th",
    "1,000 and 1.000 and 7.1 and 007 and 81st, 12e 12er, 1999-2000 2000/01 10:15",
    UNICODE_DIGITS,
    "Mr. Smith. The The. «Deretter» sa Kim. \n\nDeretter kom NATO-sjefen.\n \n Kim",
    "Putin's visit: Putins.   Erdoğan. — Erdoğan! (Kim) [Jong-un] “Moon” ;  Moon:\tMoon",
    "İstanbul. İSTANBUL istanbul. Ǆemal ǅemal. ÆØÅ æøå. Ωμέγα ΩΜΈΓΑ",
]


def plain_xling_key(word: str) -> str | None:
    """xling_key as first written: no prefilters."""
    if word.isdigit():
        return word if len(word) >= 2 else None
    if len(word) < 4 or any(ch.isdigit() for ch in word):
        return None
    key = analysis.fold(word)
    if key in analysis.ANY_STOPWORD:
        return None
    for a, b in analysis._PHONETIC:
        key = key.replace(a, b)
    key = re.sub(r"(\w)\1+", r"\1", key)
    return key[:5] if len(key) >= 4 else None


def plain_entity_key(token: str) -> str | None:
    key = re.sub(r"['’]s?$", "", analysis.fold(token))
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        key = key[:-1]
    if len(key) < 2 or key.isdigit() or key in analysis.ANY_STOPWORD:
        return None
    return key


def plain_fold(word: str) -> str:
    word = word.casefold().translate(analysis._FOLD)
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list("aAsS'’-_9²ßøæÆİıﬁ\u0301ǅ") + ["ss", "aa", "sch"]),
                         st.characters(blacklist_categories=["Cs"])), max_size=12).map("".join))
def test_key_prefilters_change_nothing(word: str) -> None:
    """fold's ASCII path, xling_key's isalpha and double-letter checks, entity_key's
    apostrophe check: the same keys as the plain definitions."""
    assert analysis.fold(word) == plain_fold(word)
    for token in {word, *analysis._WORD.findall(word)}:
        assert xling_key(token) == plain_xling_key(token)
        assert entity_key(token) == plain_entity_key(token)


def test_month_day_hints_find_what_finditer_finds() -> None:
    for text in TRICKY + [t.upper() for t in TRICKY] + [t.lower() for t in TRICKY]:
        assert ([m.span() for m in analysis._month_days(text)]
                == [m.span() for m in analysis._MONTH_DAY.finditer(text)]), text


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(["May", "may", "jan.", "Sept", "oKt", "ſeptember", "of", " ", "  ",
                                 "\n", "\t", "\u3000", ".", "5", "12", "٢", "31st", "2019", "x"]),
                max_size=14).map("".join))
def test_month_day_hints_on_random_text(text: str) -> None:
    assert ([m.span() for m in analysis._month_days(text)]
            == [m.span() for m in analysis._MONTH_DAY.finditer(text)])


def test_digit_first_patterns_match_as_the_plain_ones() -> None:
    plain = {
        analysis._DAY_MONTH: re.compile(r"\b(\d{1,2})(?:\.|st|nd|rd|th)?\s+(?:of\s+)?("
                                        + analysis._MONTH_RE + r")\b\.?", re.IGNORECASE),
        analysis._YEAR: re.compile(r"(?<![\d.,:/-])((?:19|20)\d\d)(?![\d:])"),
        analysis._NUMBER: re.compile(r"(?<![\d.,:/\w-])(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|e|er)?"
                                     r"(?![\d:/]|[.,]\d|\w)"),
    }
    texts = TRICKY + [a + b for a in ("", "x", "1", ".", "-", ":", " ", "\n")
                      for b in ("19", "2019", "12 may", "3,5", "81st", "1 of June", "07")]
    for fast, reference in plain.items():
        for text in texts:
            assert ([(m.span(), m.groups()) for m in fast.finditer(text)]
                    == [(m.span(), m.groups()) for m in reference.finditer(text)]), text


def test_numbers_prefilter_agrees_with_the_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = [analysis._numbers(text) for text in TRICKY]
    monkeypatch.setattr(analysis, "_DIGIT", re.compile(""))  # every text "has a digit"
    monkeypatch.setattr(analysis, "_month_days", analysis._MONTH_DAY.finditer)
    assert [analysis._numbers(text) for text in TRICKY] == fast
    # Unicode digits are digits to every pattern, so to the prefilter too
    assert fast[TRICKY.index(UNICODE_DIGITS)] == ["#09-02", "#٢٠١٣", "#١٢", "#２０１９"]


def test_sentence_initial_tokens_are_the_look_back_ones() -> None:
    """A token is sentence-initial if a sentence end and only spaces are in the three
    characters before it (or it starts the text)."""
    sentence_end = re.compile(analysis._END + r"\s*$")
    for text in TRICKY:
        expected = [(m.group(), m.start() == 0 or sentence_end.search(
            text, max(0, m.start() - 3), m.start()) is not None)
            for m in analysis._WORD.finditer(text)]
        assert [(a or b, bool(a)) for a, b in analysis._tokens_at(text)] == expected, text


def entry(mh, size: int) -> Entry:
    return Entry(np.asarray(mh.hashvalues), size, 0, None, None, None, 0)


def test_seed_wire_copies_are_near_duplicates() -> None:
    """001 and 003 carry the same NTB text (001 with a title, lead and kicker)."""
    sigs = {}
    for prefix in ("000", "001", "002", "003", "004"):
        title, body = seed_parts(prefix)
        f = analyse(body, title=title, language="nb", dup_text=body)
        sigs[prefix] = (signature(f.shingles), len(f.shingles))
    index = DuplicateIndex()
    for i, prefix in enumerate(("000", "002", "003", "004")):
        mh, size = sigs[prefix]
        index.add(i, mh, entry(mh, size))
    matches = index.matches(*sigs["001"])
    assert [m.article_id for m in matches] == [2]  # 003 only
    assert matches[0].containment > 0.75
    # the articles that merely share a paragraph or two are not copies
    assert not DuplicateIndex().matches(*sigs["000"])
    index2 = DuplicateIndex()
    index2.add(0, sigs["000"][0], entry(*sigs["000"]))
    assert not index2.matches(*sigs["002"])


def test_banding_is_the_one_datasketch_would_choose() -> None:
    from datasketch import MinHashLSH
    from newsthreads.stories.duplicates import BANDS, LSH_THRESHOLD, NUM_PERM, ROWS

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    assert (lsh.b, lsh.r) == (BANDS, ROWS)


def test_index_forgets_removed_signatures() -> None:
    f = analyse(" ".join(f"Ord {i} i en lang setning om flom og ras." for i in range(20)),
                language="nb")
    mh = signature(f.shingles)
    index = DuplicateIndex()
    index.add(1, mh, entry(mh, len(f.shingles)))
    index.add(2, mh, entry(mh, len(f.shingles)))
    assert [m.article_id for m in index.matches(mh, len(f.shingles))] == [1, 2]
    index.remove(1)
    assert [m.article_id for m in index.matches(mh, len(f.shingles))] == [2]
    index.remove(2)
    assert not index.matches(mh, len(f.shingles)) and not index._buckets


def test_signature_round_trips_and_excerpts_match() -> None:
    sentences = [f"Setning nummer {i} handler om {w} og mer enn det." for i, w in
                 enumerate(["flom", "ras", "vind", "regn", "bro", "vei", "tog", "ferge",
                            "strøm", "skole", "sykehus", "hytte"])]
    full = " ".join(sentences)
    excerpt = " ".join(sentences[:8])
    f_full, f_ex = analyse(full, language="nb"), analyse(excerpt, language="nb")
    mh = signature(f_full.shingles)
    assert from_bytes(to_bytes(mh)).jaccard(mh) == 1.0
    index = DuplicateIndex()
    index.add(1, mh, entry(mh, len(f_full.shingles)))
    match = index.matches(signature(f_ex.shingles), len(f_ex.shingles))
    assert match and match[0].containment >= 0.75


def test_signature_is_datasketchs() -> None:
    import zlib

    from newsthreads.stories.duplicates import NUM_PERM, SCHEME, Signature, permutations

    template = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    a, b = permutations(seed=1)
    assert a.dtype == b.dtype == np.uint32
    assert np.array_equal(np.array([a, b]), template.permutations)
    for shingles in (set(), {"a b c"}, {f"ord {i} æøå" for i in range(300)}, {"x\ny z", "y"}):
        # our shingle hash is crc32 of the UTF-8 (deterministic across processes, unlike
        # hash(); textkernels.minhash_into computes it)
        mh = MinHash(num_perm=NUM_PERM, hashfunc=zlib.crc32,
                     permutations=template.permutations, scheme=SCHEME)
        mh.update_batch([s.encode("utf-8") for s in sorted(shingles)])
        fast = signature(shingles)
        assert isinstance(fast, Signature) and fast.hashvalues.dtype == mh.hashvalues.dtype
        assert np.array_equal(fast.hashvalues, mh.hashvalues)
        assert from_bytes(to_bytes(fast)) == fast
        other = signature(set(list(shingles)[: len(shingles) // 2]) | {"ny tekst her"})
        ref = MinHash(num_perm=NUM_PERM, hashvalues=other.hashvalues, scheme=SCHEME)
        assert fast.jaccard(other) == mh.jaccard(ref)


@pytest.mark.parametrize(("module", "unwanted"), [
    ("newsthreads.stories.service", ("datasketch", "scipy")),
    ("newsthreads.stories.prefetch", ("datasketch", "scipy", "psycopg")),
])
def test_threading_starts_without_heavy_imports(module: str, unwanted: tuple[str, ...]) -> None:
    """The CLI and each task start without datasketch's scipy (about a second); the
    analysis worker, whose start the first batches wait for, without psycopg too."""
    import subprocess
    import sys

    code = (f"import sys, {module}; "
            f"print(sorted(m for m in {unwanted!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_interval_gap_respects_precision() -> None:
    april = (datetime(2019, 4, 1, tzinfo=UTC), datetime(2019, 5, 1, tzinfo=UTC))
    day = (datetime(2019, 4, 25, tzinfo=UTC), datetime(2019, 4, 26, tzinfo=UTC))
    later = (datetime(2019, 5, 11, tzinfo=UTC), datetime(2019, 5, 12, tzinfo=UTC))
    assert interval_gap_days(*day, *april) == 0.0
    assert interval_gap_days(*later, *april) == 10.0
    assert interval_gap_days(*april, *later) == 10.0


def test_label_names_entities_and_a_title() -> None:
    clusterer = Clusterer(State())
    for i, prefix in enumerate(("000", "002", "004")):
        title, body = seed_parts(prefix)
        text = "\n".join(p for p in (title, body) if p)
        clusterer.assign(Item(i + 1, analyse(text, title=title, language="nb"),
                              title=title))
    thread = next(iter(clusterer.state.threads.values()))
    label = thread_label(thread)
    assert "Putin" in label or "Kim" in label
    assert "—" in label and label.endswith(thread.title or "")
    # the leading entities are the thread's heaviest names, in order, as written
    heaviest = [thread.display[k] for k in thread.top_ents[:3]]
    assert label.startswith(", ".join(heaviest))


def test_metrics_on_a_toy_partition() -> None:
    gold = {("s", "a"): "x", ("s", "b"): "x", ("s", "c"): "y", ("s", "d"): "y"}
    assert pairwise(gold, {k: 1 for k in gold}).precision == pytest.approx(2 / 6)
    perfect = {("s", "a"): 1, ("s", "b"): 1, ("s", "c"): 2, ("s", "d"): 2}
    assert bcubed(gold, perfect).f1 == 1.0 and pairwise(gold, perfect).f1 == 1.0
    split = {k: i for i, k in enumerate(gold)}  # every article alone
    b = bcubed(gold, split)
    assert b.precision == 1.0 and b.recall == 0.5
    assert bcubed(gold, {}).recall == 0.5  # missing articles count as singletons
    lang = {("s", "a"): "nb", ("s", "b"): "en", ("s", "c"): "nb", ("s", "d"): "en"}
    xl = cross_pairs(gold, perfect, lang, {"nb"}, {"en"})
    assert xl.precision == 1.0 and xl.recall == 1.0
    xl = cross_pairs(gold, split, lang, {"nb"}, {"en"})
    assert xl.recall == 0.0


def test_shipped_model_matches_its_features() -> None:
    from newsthreads.stories.model import FEATURES_DATED, FEATURES_UNDATED, MODEL

    assert len(MODEL.dated) == len(FEATURES_DATED) + 1
    assert len(MODEL.undated) == len(FEATURES_UNDATED) + 1
    assert any(MODEL.dated[1:]) and any(MODEL.undated[1:]) and 0 < MODEL.threshold < 1


def test_which_threads_an_article_may_join() -> None:
    """Dated with dated: within the window (21 days) of both intervals; otherwise threads
    joined within ``undated_span`` articles, and for an undated article also dated threads
    that in-order articles can still reach (ending after the horizon)."""
    from newsthreads.stories.cluster import SLACK, Params, Thread

    clusterer = Clusterer(State(), params=Params(window_days=21, undated_span=100))
    st = clusterer.state
    st.seq, st.hwm = 1000, datetime(2019, 6, 1, tzinfo=UTC)
    horizon = st.hwm - timedelta(days=21) - SLACK
    day = timedelta(days=1)

    def thread(last_seq: int, first: datetime | None = None,
               last: datetime | None = None) -> Thread:
        return Thread(id=1, created_seq=1, last_seq=last_seq, first_at=first, last_end=last)

    april = datetime(2019, 4, 10, tzinfo=UTC)
    dated = Item(1, analyse("Kim møter Putin.", language="nb"), april, april + day)
    undated = Item(2, analyse("Kim møter Putin.", language="nb"))
    cases = [
        (dated, thread(1, april - 30 * day, april - 20 * day), True),  # 20 days before
        (dated, thread(1, april - 40 * day, april - 22 * day), False),  # 22 days before
        (dated, thread(1, april + 23 * day, april + 30 * day), False),  # 22 days after its end
        (dated, thread(1, april + 22 * day, april + 30 * day), True),  # 21 days after
        (dated, thread(950), True),  # an undated thread joined recently
        (dated, thread(900), False),  # ... or not
        (undated, thread(950, april, april), True),  # recent
        (undated, thread(900, horizon, horizon), True),  # not recent, ends at the horizon
        (undated, thread(900, horizon - day, horizon - day), False),
        (undated, thread(901), True),
        (undated, thread(900), False),
    ]
    for item, t, want in cases:
        assert clusterer.eligible(t, item) is want, (item.start, t)
        assert clusterer.eligibility(item)(t) is want
