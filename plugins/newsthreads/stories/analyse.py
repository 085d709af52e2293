"""Turn an article's text into the features threading compares: stems, entities, shingles.

Per-language analysis (Snowball stemmer + stopwords) makes "møtet"/"møtene" one term; entities
(capitalised sequences, folded to ASCII, genitive ``s`` dropped) are kept language-neutral so
that "Putins" in Norwegian and "Putin's" in English meet; word shingles feed near-duplicate
detection. Everything here is a pure function of the text: rethreading the same input gives the
same features, which determinism and restart-equivalence rest on.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Generic, TypeVar

import snowballstemmer

from newsthreads.stories.stopwords import ANY_STOPWORD, STOPWORDS
from newsthreads.stories.textkernels import (
    END,
    WORD,
    WORD_AT,
    WORD_RE,
    count_pairs,
    has_token,
    name_candidates,
    tokens_at,
    word_counts,
)
from newsthreads.stories.textkernels import shingles as word_shingles
from newsthreads.stories.textkernels import unit as _unit
from newsthreads.stories.textkernels import words as tokenise

# ISO 639-1 → Snowball algorithm. Languages without one fall back to prefix truncation.
SNOWBALL = {
    "nb": "norwegian", "nn": "norwegian", "no": "norwegian", "en": "english",
    "da": "danish", "sv": "swedish", "de": "german", "nl": "dutch", "fr": "french",
    "es": "spanish", "it": "italian", "pt": "portuguese", "fi": "finnish",
    "hu": "hungarian", "ro": "romanian", "ru": "russian", "pl": "polish", "cs": "czech",
    "el": "greek", "tr": "turkish", "ca": "catalan", "lt": "lithuanian", "ar": "arabic",
    "id": "indonesian", "ga": "irish", "sr": "serbian", "et": "estonian",
}
FALLBACK_PREFIX = 6  # crude but language-blind stemming: "politikere" and "politikk" → "politi"
ENTITY_PREFIX = "@"  # entity keys share the document-frequency table with stems
XLING_PREFIX = "~"  # language-blind word keys (see xling_key)

# The token patterns and the loops over tokens are in textkernels (C when built).
_WORD_RE, _WORD, _END, _WORD_AT = WORD_RE, WORD, END, WORD_AT
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d", "þ": "th",
                       "ð": "d", "œ": "oe", "ı": "i"})


# Month names and common abbreviations (folded) → month number, for dates written in the text.
MONTHS: dict[str, int] = {}
for _i, _names in enumerate((
        "january jan januar janvier enero gennaio januari janeiro styczen",
        "february feb februar fevrier febrero febbraio februari fevereiro luty",
        "march mar mars marz maart marzo marco",
        "april apr avril abril aprile",
        "may mai mei mayo maggio maio maj",
        "june jun juni juin junio giugno junho",
        "july jul juli juillet julio luglio julho",
        "august aug august aout agosto augustus augusti",
        "september sep sept septembre septiembre settembre setembro",
        "october oct oktober octobre octubre ottobre outubro okt",
        "november nov novembre noviembre novembro",
        "december dec desember dezember decembre diciembre dicembre dezembro"), start=1):
    for _n in _names.split():
        MONTHS[_n] = _i
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
# The patterns that start at a digit look at what comes before it *after* the first digit(s):
# '\d(?<!\w\d)' is '\b\d', '\d(?<![...]\d)' is '(?<![...])\d'. The same matches, but a pattern
# that starts with a digit lets the regex engine skip ahead to the next digit in C, where one
# that starts with a look-behind is tried at every position of the text. (The plain forms are
# in tests/test_stories_analyse.py, which checks that both match alike.)
_DAY_MONTH = re.compile(r"(\d(?<!\w\d)\d?)(?:\.|st|nd|rd|th)?\s+(?:of\s+)?(" + _MONTH_RE
                        + r")\b\.?", re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b(" + _MONTH_RE + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?![.,]?\d)",
                        re.IGNORECASE)
_YEAR = re.compile(r"((?:19|20)(?<![\d.,:/-]\d\d)\d\d)(?![\d:])")
_NUMBER = re.compile(r"(\d(?<![\d.,:/\w-]\d)\d*(?:[.,]\d+)*)(?:st|nd|rd|th|e|er)?"
                     r"(?![\d:/]|[.,]\d|\w)")
_DIGIT = re.compile(r"\d")  # every pattern above needs one (the same \d: Unicode decimals)
# Where _MONTH_DAY can match: before a digit, spaces, maybe a full stop, and a whole word as
# long as a month name (every character that the month names match case-blind, 'ſ', 'K', 'ı'
# too, is a word character). Trying the case-blind alternation of ~90 names at every word, as
# _MONTH_DAY.finditer does, was most of the analysis time; spaces before digits are few and
# the engine finds them in C. _MONTH_BEFORE reads back from such a space in the reversed text.
# (Found by their digit, '\d(?<=\s\d)': a pattern that starts with a space is tried at every
# space of the text, one that starts with a digit only at digits.)
_DIGIT_AFTER_SPACE = re.compile(r"\d(?<=\s\d)")
_MONTH_BEFORE = re.compile(rf"\s+\.?(\w{{{min(map(len, MONTHS))},{max(map(len, MONTHS))}}})\b")
NUMBER_PREFIX = "#"  # entity keys of numbers and dates written in the text: '@#2013', '@#07-28'


def _month_days(text: str) -> list[re.Match[str]]:
    """``list(_MONTH_DAY.finditer(text))``, with the pattern tried only where it can match:
    in order, and never inside an earlier match, as finditer would."""
    found: list[re.Match[str]] = []
    end = 0
    backwards = ""
    for digit in _DIGIT_AFTER_SPACE.finditer(text):
        backwards = backwards or text[::-1]
        word = _MONTH_BEFORE.match(backwards, len(text) - digit.start())  # at the space
        if word is None:
            continue
        start = len(text) - word.end(1)  # where the word starts (hints come in text order)
        if start >= end and (m := _MONTH_DAY.match(text, start)) is not None:
            found.append(m)
            end = m.end()
    return found


def _numbers(text: str) -> list[str]:
    """Dates and numbers written in the text as language-blind keys: years ('#2013'),
    day and month ('#07-28' for 'July 28', '28. juli', '28th of July'), other numbers of two
    or more digits, with decimals or as ordinals ('#95', '#7.1', '#81' for '81st', '#1.000'
    for both '1,000' and '1.000'). Clock times and numbers inside a date are left out."""
    if _DIGIT.search(text) is None:
        return []
    out: list[str] = []
    used: list[tuple[int, int]] = []
    for m in _DAY_MONTH.finditer(text):
        day, month = int(m.group(1)), MONTHS[fold(m.group(2))]
        if 1 <= day <= 31:
            out.append(f"#{month:02d}-{day:02d}")
            used.append(m.span())
    for m in _month_days(text):
        day, month = int(m.group(2)), MONTHS[fold(m.group(1))]
        # 'may 5' in lower case is a verb more often than a month
        if 1 <= day <= 31 and (m.group(1)[0].isupper() or len(m.group(1)) > 3):
            out.append(f"#{month:02d}-{day:02d}")
            used.append(m.span())
    for m in _YEAR.finditer(text):
        out.append("#" + m.group(1))
        used.append(m.span())
    for m in _NUMBER.finditer(text):
        a, b = m.span()
        if any(u0 <= a < u1 for u0, u1 in used):
            continue
        if text[max(0, a - 2):a].rstrip().endswith(":") or text[b:b + 2].lstrip().startswith(":"):
            continue  # a clock time
        num = m.group(1).replace(",", ".")
        if num[0] == "0" or (num.isdigit() and len(num) == 4 and num[:2] in ("19", "20")):
            continue  # leading zero, or a year already counted
        if len(num) >= 2:
            out.append("#" + num)
    return out


@dataclass(frozen=True)
class Features:
    """What threading needs of one article; ``terms``/``entities`` are unit-length TF vectors.

    TF is sublinear (1 + log tf) and L2-normalised per article *before* IDF, so a thread's
    centroid (a sum of these) never depends on when document frequencies were counted; IDF is
    applied at comparison time with the current counts.
    """

    language: str
    terms: dict[str, float]
    entities: dict[str, float]  # keys start with ENTITY_PREFIX; numbers/dates with '@#'
    xling: dict[str, float]  # keys start with XLING_PREFIX
    display: dict[str, str]  # entity key → a surface form, for labels
    title_terms: tuple[str, ...]
    shingles: frozenset[str]  # word 3-shingles of lead+body, folded, for MinHash
    tokens: int


@lru_cache(maxsize=500_000)
def fold(word: str) -> str:
    """Casefold and strip diacritics: 'Ørnulf' → 'ornulf', 'Nepomnjasjtsjij' stays as is."""
    if word.isascii():  # nothing to translate, decompose or strip: casefold is lower()
        return word.lower()
    word = word.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Memo(dict[_K, _V], Generic[_K, _V]):
    """A pure function's results by argument, read with plain dict lookups (``memo[word]``,
    ``map(memo.__getitem__, words)``): cheaper than a call per word, and words repeat.
    Bounded: emptied when it grows past ``limit``."""

    def __init__(self, function: Callable[[_K], _V], limit: int = 300_000) -> None:
        super().__init__()
        self.function = function
        self.limit = limit

    def __missing__(self, key: _K) -> _V:
        if len(self) >= self.limit:
            self.clear()
        value = self[key] = self.function(key)
        return value


_FOLDED: _Memo[str, str] = _Memo(fold)


_PHONETIC = (("sch", "s"), ("tsj", "ch"), ("ch", "k"), ("ck", "k"), ("ph", "f"), ("th", "t"),
             ("sj", "s"), ("sh", "s"), ("c", "k"), ("q", "k"), ("w", "v"), ("z", "s"),
             ("x", "ks"), ("y", "i"), ("j", "i"), ("ae", "e"), ("aa", "a"))
_DOUBLE = re.compile(r"(\w)\1+")
_GENITIVE = re.compile(r"['’]s?$")


def xling_key(word: str) -> str | None:
    """A language-blind key for a content word: folded, spelled phonetically, cut to five
    letters, so cognates meet across languages ('evakuert', 'evacuated', 'evakuiert' →
    'evaku'; 'sanksjoner'/'Sanktionen' → 'sanks'). Numbers are kept as they are."""
    if word.isdigit():
        return word if len(word) >= 2 else None
    # (no character is both alphabetic and a digit, so an alphabetic word has no digit)
    if len(word) < 4 or (not word.isalpha() and any(ch.isdigit() for ch in word)):
        return None
    key = fold(word)
    if key in ANY_STOPWORD:
        return None
    for a, b in _PHONETIC:
        key = key.replace(a, b)
    if _DOUBLE.search(key) is not None:  # most words have no double letter: skip the sub
        key = _DOUBLE.sub(r"\1", key)
    return key[:5] if len(key) >= 4 else None


def entity_key(token: str) -> str | None:
    """Normalise one capitalised token to a cross-language key, or None if it is no name.

    The genitive/possessive is dropped the same way in every language ('Kims', "Kim's" → 'kim';
    'Brussels' → 'brussel' as in Norwegian), so keys agree even when the rule is crude.
    """
    key = fold(token)
    if "'" in key or "’" in key:  # the only characters _GENITIVE can match at
        key = _GENITIVE.sub("", key)
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        key = key[:-1]
    if len(key) < 2 or key.isdigit() or key in ANY_STOPWORD:
        return None
    return key


@lru_cache(maxsize=64)
def _stemmer(language: str):
    algorithm = SNOWBALL.get(language)
    stemmer = snowballstemmer.stemmer(algorithm) if algorithm else None
    if hasattr(stemmer, "maxCacheSize"):
        # PyStemmer's own cache (10,000 words, purged by a scan when full) cost twice the
        # stemming of a new word; _WordTable already keeps every word's stem.
        stemmer.maxCacheSize = 0
    return stemmer


def _xling(word: str) -> str | None:
    key = xling_key(word)
    return sys.intern(XLING_PREFIX + key) if key else None


_XLING: _Memo[str, str | None] = _Memo(_xling)


class _WordTable:
    """Per language, word → (stem or None for a stopword, language-blind key or None).

    News vocabulary repeats: each word is stemmed once per language and process. Both keys
    of a word come from one lookup (the tables are large, and a lookup is mostly cache
    misses). Bounded: a language's table is emptied when it grows past ``limit``.
    """

    def __init__(self, limit: int = 300_000) -> None:
        self.tables: dict[str, _Memo[str, tuple[str | None, str | None]]] = {}
        self.limit = limit

    def table(self, language: str) -> _Memo[str, tuple[str | None, str | None]]:
        table = self.tables.get(language)
        if table is None:
            table = self.tables[language] = _Memo(partial(self.info, language), self.limit)
        return table

    @staticmethod
    def info(language: str, word: str) -> tuple[str | None, str | None]:
        return _WordTable.stem_of(language, word), _XLING[word]

    @staticmethod
    def stem_of(language: str, word: str) -> str | None:
        if word in STOPWORDS.get(language, ()) or len(word) < 2:
            return None
        stemmer = _stemmer(language)
        stem = fold(stemmer.stemWord(word) if stemmer else word[:FALLBACK_PREFIX])
        return sys.intern(stem) if len(stem) >= 2 else None

    def stem(self, language: str, word: str) -> str | None:
        return self.table(language)[word][0]


_WORDS = _WordTable()


def normalise_language(language: str | None, text: str) -> str:
    """The article's ISO 639-1 code; detect it with py3langid when the store has none."""
    if language:
        return language.lower().split("-")[0].split("_")[0]
    try:
        import py3langid

        return py3langid.classify(text[:2000])[0]
    except Exception:  # detection is best effort: unknown text gets the fallback analysis
        return "und"


def _name_parts(token: str) -> tuple[tuple[str, str], ...]:
    """(entity key, display form) of each name in a capitalised token:
    'Jong-un' → ('@jong', 'Jong')."""
    found: list[tuple[str, str]] = []
    for part in token.split("-"):
        if len(part) < 2 or not part[0].isupper():
            continue
        key = entity_key(part)
        if key:
            # Show the name as written, less a genitive: 'Putins' → 'Putin'.
            if len(part) > len(key) and fold(part[:len(key)]) == key:
                part = part[:len(key)]
            found.append((sys.intern(ENTITY_PREFIX + key), part.rstrip("'’")))
    return tuple(found)


_NAME_PARTS: _Memo[str, tuple[tuple[str, str], ...]] = _Memo(_name_parts)
_tokens_at = tokens_at  # the tests' name for it


def _entities(text: str) -> list[tuple[str, str]]:
    """Capitalised tokens that look like names: (entity key, display form).

    A sentence-initial capitalised word ("Deretter", "The") counts only if it also occurs
    capitalised inside a sentence and never in lower case: names recur, function words do not.
    """
    candidates = name_candidates(text)
    inside = {token for _, token in candidates}  # names seen inside a sentence ('' too)
    found: list[tuple[str, str]] = []
    for initial_token, token in candidates:
        if initial_token:
            token = initial_token
            if not token.isupper():
                if token not in inside:
                    continue
                lower = token.lower()
                # a function word if it also occurs in lower case
                if lower.islower() and has_token(text, lower):
                    continue
        found.extend(_NAME_PARTS[token])
    return found


def _shingle_words(text: str, dup_text: str | None, words: list[str]) -> list[str]:
    """The folded words of ``dup_text`` (or ``text``), for shingles. ``words`` are the words of
    ``text.lower()``; when ``dup_text`` is ASCII (folding is lower-casing then) and ends
    ``text`` after a line break (items join title, lead and body so), they end with its words:
    no line break is part of a word, and none changes how lower-casing treats what is before."""
    dup = text if dup_text is None else dup_text
    if dup.isascii() and text.endswith(dup):
        head = text[:len(text) - len(dup)]
        if not head:
            return words
        if head.endswith("\n"):
            return words[len(tokenise(head.lower())):]
    return list(map(_FOLDED.__getitem__, tokenise(dup)))


def analyse(text: str, *, title: str | None = None, language: str | None = None,
            dup_text: str | None = None) -> Features:
    """Features of an article. ``text`` is everything to compare (title, lead, body);
    ``dup_text`` is the part that near-duplicate detection shingles (lead and body: outlets
    re-title wire copies, so titles are left out)."""
    lang = normalise_language(language, text)
    words = tokenise(text.lower())
    # Counted in order of first occurrence, as word by word: the unit vectors' float sums
    # depend on the order.
    distinct = word_counts(words)
    counts, xl_counts = count_pairs(_WORDS.table(lang), distinct)
    tokens = len(words)
    ent_counts: dict[str, int] = {}
    display: dict[str, str] = {}
    for key, surface in _entities(text):
        ent_counts[key] = ent_counts.get(key, 0) + 1
        display.setdefault(key, surface)
    num_counts: dict[str, int] = {}
    for key in _numbers(text):
        k = sys.intern(ENTITY_PREFIX + key)
        num_counts[k] = num_counts.get(k, 0) + 1
        display.setdefault(k, key[1:])
    title_terms: tuple[str, ...] = ()
    if title:
        title_terms = tuple(sorted({t for w in tokenise(title.lower())
                                    if (t := _WORDS.stem(lang, w)) is not None}))
    words = _shingle_words(text, dup_text, words)
    shingles = word_shingles(words)
    # Names and numbers are unit vectors apart (numbers never dilute the names' weights).
    entities = {**_unit(ent_counts), **_unit(num_counts)}
    return Features(language=lang, terms=_unit(counts), entities=entities,
                    xling=_unit(xl_counts), display=display, title_terms=title_terms,
                    shingles=shingles, tokens=tokens)
