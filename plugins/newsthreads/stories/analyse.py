"""Turn an article's text into the features threading compares: stems, entities, shingles.

Per-language analysis (Snowball stemmer + stopwords) makes "møtet"/"møtene" one term; entities
(capitalised sequences, folded to ASCII, genitive ``s`` dropped) are kept language-neutral so
that "Putins" in Norwegian and "Putin's" in English meet; word shingles feed near-duplicate
detection. Everything here is a pure function of the text: rethreading the same input gives the
same features, which determinism and restart-equivalence rest on.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from newsthreads.stories.stopwords import ANY_STOPWORD, STOPWORDS

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

_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:;«»\"“”()\[\]–—\n]\s*$")
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
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:\.|st|nd|rd|th)?\s+(?:of\s+)?(" + _MONTH_RE + r")\b\.?",
                        re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b(" + _MONTH_RE + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?![.,]?\d)",
                        re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d.,:/-])((?:19|20)\d\d)(?![\d:])")
_NUMBER = re.compile(r"(?<![\d.,:/\w-])(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|e|er)?(?![\d:/]|[.,]\d|\w)")
NUMBER_PREFIX = "#"  # entity keys of numbers and dates written in the text: '@#2013', '@#07-28'


def _numbers(text: str) -> list[str]:
    """Dates and numbers written in the text as language-blind keys: years ('#2013'),
    day and month ('#07-28' for 'July 28', '28. juli', '28th of July'), other numbers of two
    or more digits, with decimals or as ordinals ('#95', '#7.1', '#81' for '81st', '#1.000'
    for both '1,000' and '1.000'). Clock times and numbers inside a date are left out."""
    out: list[str] = []
    used: list[tuple[int, int]] = []
    for m in _DAY_MONTH.finditer(text):
        day, month = int(m.group(1)), MONTHS[fold(m.group(2))]
        if 1 <= day <= 31:
            out.append(f"#{month:02d}-{day:02d}")
            used.append(m.span())
    for m in _MONTH_DAY.finditer(text):
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
    word = word.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_PHONETIC = (("sch", "s"), ("tsj", "ch"), ("ch", "k"), ("ck", "k"), ("ph", "f"), ("th", "t"),
             ("sj", "s"), ("sh", "s"), ("c", "k"), ("q", "k"), ("w", "v"), ("z", "s"),
             ("x", "ks"), ("y", "i"), ("j", "i"), ("ae", "e"), ("aa", "a"))
_DOUBLE = re.compile(r"(\w)\1+")


def xling_key(word: str) -> str | None:
    """A language-blind key for a content word: folded, spelled phonetically, cut to five
    letters, so cognates meet across languages ('evakuert', 'evacuated', 'evakuiert' →
    'evaku'; 'sanksjoner'/'Sanktionen' → 'sanks'). Numbers are kept as they are."""
    if word.isdigit():
        return word if len(word) >= 2 else None
    if len(word) < 4 or any(ch.isdigit() for ch in word):
        return None
    key = fold(word)
    if key in ANY_STOPWORD:
        return None
    for a, b in _PHONETIC:
        key = key.replace(a, b)
    key = _DOUBLE.sub(r"\1", key)
    return key[:5] if len(key) >= 4 else None


def entity_key(token: str) -> str | None:
    """Normalise one capitalised token to a cross-language key, or None if it is no name.

    The genitive/possessive is dropped the same way in every language ('Kims', "Kim's" → 'kim';
    'Brussels' → 'brussel' as in Norwegian), so keys agree even when the rule is crude.
    """
    key = fold(token)
    key = re.sub(r"['’]s?$", "", key)
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        key = key[:-1]
    if len(key) < 2 or key.isdigit() or key in ANY_STOPWORD:
        return None
    return key


@lru_cache(maxsize=64)
def _stemmer(language: str):
    algorithm = SNOWBALL.get(language)
    return snowballstemmer.stemmer(algorithm) if algorithm else None


class _WordTable:
    """Per language, word → (stem or None for a stopword, cross-language key or None).

    Snowball is pure Python and news vocabulary repeats: each word is analysed once per
    language and process. Bounded: the table is emptied when it grows past ``limit``.
    """

    def __init__(self, limit: int = 300_000) -> None:
        self.tables: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        self.limit = limit

    def table(self, language: str) -> dict[str, tuple[str | None, str | None]]:
        table = self.tables.get(language)
        if table is None or len(table) > self.limit:
            table = self.tables[language] = {}
        return table

    @staticmethod
    def info(language: str, word: str) -> tuple[str | None, str | None]:
        xk = _xling(word)
        if word in STOPWORDS.get(language, ()) or len(word) < 2:
            return None, xk
        stemmer = _stemmer(language)
        stem = fold(stemmer.stemWord(word) if stemmer else word[:FALLBACK_PREFIX])
        return (sys.intern(stem) if len(stem) >= 2 else None), xk

    def stem(self, language: str, word: str) -> str | None:
        table = self.table(language)
        info = table.get(word)
        if info is None:
            info = table[word] = self.info(language, word)
        return info[0]


_WORDS = _WordTable()


def _xling(word: str) -> str | None:
    key = xling_key(word)
    return sys.intern(XLING_PREFIX + key) if key else None


def normalise_language(language: str | None, text: str) -> str:
    """The article's ISO 639-1 code; detect it with py3langid when the store has none."""
    if language:
        return language.lower().split("-")[0].split("_")[0]
    try:
        import py3langid

        return py3langid.classify(text[:2000])[0]
    except Exception:  # detection is best effort: unknown text gets the fallback analysis
        return "und"


def _unit(counts: dict[str, int]) -> dict[str, float]:
    weights = {t: 1.0 + math.log(c) for t, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {t: w / norm for t, w in sorted(weights.items())} if norm else {}


def _entities(text: str) -> list[tuple[str, str]]:
    """Capitalised tokens that look like names: (key, surface).

    A sentence-initial capitalised word ("Deretter", "The") counts only if it also occurs
    capitalised inside a sentence and never in lower case: names recur, function words do not.
    """
    candidates: list[tuple[str, bool]] = []
    inside: set[str] = set()
    lowercase: set[str] = set()
    for match in _WORD.finditer(text):
        token = match.group()
        if token.islower():
            lowercase.add(token)
            continue
        if not token[0].isupper() or any(ch.isdigit() for ch in token):
            continue
        start = match.start()
        initial = start == 0 or _SENTENCE_END.search(text, max(0, start - 3), start) is not None
        if not initial:
            inside.add(token)
        candidates.append((token, initial))
    found: list[tuple[str, str]] = []
    for token, initial in candidates:
        if initial and not token.isupper() and (
                token not in inside or token.lower() in lowercase):
            continue
        for part in token.split("-"):
            if len(part) < 2 or not part[0].isupper():
                continue
            key = entity_key(part)
            if key:
                # Show the name as written, less a genitive: 'Putins' → 'Putin'.
                if len(part) > len(key) and fold(part[:len(key)]) == key:
                    part = part[:len(key)]
                found.append((key, part))
    return found


def analyse(text: str, *, title: str | None = None, language: str | None = None,
            dup_text: str | None = None) -> Features:
    """Features of an article. ``text`` is everything to compare (title, lead, body);
    ``dup_text`` is the part that near-duplicate detection shingles (lead and body: outlets
    re-title wire copies, so titles are left out)."""
    lang = normalise_language(language, text)
    counts: dict[str, int] = {}
    xl_counts: dict[str, int] = {}
    table = _WORDS.table(lang)
    info = _WORDS.info
    words = _WORD.findall(text.lower())
    for word in words:
        hit = table.get(word)
        if hit is None:
            hit = table[word] = info(lang, word)
        stem, xk = hit
        if stem is not None:
            counts[stem] = counts.get(stem, 0) + 1
        if xk is not None:
            xl_counts[xk] = xl_counts.get(xk, 0) + 1
    tokens = len(words)
    ent_counts: dict[str, int] = {}
    display: dict[str, str] = {}
    for key, surface in _entities(text):
        k = sys.intern(ENTITY_PREFIX + key)
        ent_counts[k] = ent_counts.get(k, 0) + 1
        display.setdefault(k, surface.rstrip("'’"))
    num_counts: dict[str, int] = {}
    for key in _numbers(text):
        k = sys.intern(ENTITY_PREFIX + key)
        num_counts[k] = num_counts.get(k, 0) + 1
        display.setdefault(k, key[1:])
    title_terms: tuple[str, ...] = ()
    if title:
        title_terms = tuple(sorted({t for w in _WORD.findall(title.lower())
                                    if (t := _WORDS.stem(lang, w)) is not None}))
    words = [fold(w) for w in _WORD.findall(dup_text if dup_text is not None else text)]
    shingles = frozenset(" ".join(words[i:i + 3]) for i in range(max(0, len(words) - 2)))
    # Names and numbers are unit vectors apart (numbers never dilute the names' weights).
    entities = {**_unit(ent_counts), **_unit(num_counts)}
    return Features(language=lang, terms=_unit(counts), entities=entities,
                    xling=_unit(xl_counts), display=display, title_terms=title_terms,
                    shingles=shingles, tokens=tokens)
