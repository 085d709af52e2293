"""Article language as ISO 639-1, with Norwegian split into bokmål (nb) and nynorsk (nn).

Decisions:

- **A declared language wins.** A feed's or dump's ``lang`` (``no``, ``nb-NO``, ``en-US``) is the
  publisher's word; detection on a short text is weaker. A valid hint is returned as is, except
  the generic ``no``, which the text splits into ``nb``/``nn`` (bokmål when it can't tell).
- **py3langid** (langid.py's model, shipped in the wheel, ~0.1 ms a sentence) detects the rest.
  Its model knows ``no`` (in practice bokmål) and ``nn``, but on one or two sentences it often
  reads nynorsk as bokmål. So a short list of **marker words** decides nb/nn first: forms that
  exist in one written standard and not the other (``ikkje``/``ikke``, ``kva``/``hva``,
  ``frå``/``fra``...). The model decides only when the markers tie.
- **Danish and Norwegian** are close, and a short text can be scored as the wrong one. When the
  model is unsure between them (top score below ``SURE``), marker words (``af``/``av``,
  ``hvad``/``hva``, ``efter``/``etter``, ``blev``/``ble``...) decide if they clearly point one way.
  A sentence of three or four words with no marker can still come out wrong: pass a hint.
- **Too little text is no evidence**: under ``MIN_LETTERS`` letters, the answer is the hint or None.
- **A bounded prefix is enough**: only the first ``MAX_CHARS`` characters are read.
- The model is loaded once, on first use (numpy and a ~0.5 s load), never at import time.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["MIN_LETTERS", "detect_language", "normalise_language_code"]

MIN_LETTERS = 20  # fewer letters than this carry no reliable signal
# The model's cost grows with the text and its answer does not: on the 1,265 articles of
# shared/eval/threads (1,700 characters on average) a prefix of 400, 600, 1,000 or 5,000
# characters gave the same language for every article; 1,000 costs a third of 5,000.
MAX_CHARS = 1000
MIN_CONFIDENCE = 0.5  # below this (normalised probability), answer None rather than guess
SURE = 0.95  # the model's top score above which marker words are not consulted for da/no

# ISO 639-1, the two-letter codes (ISO 639 Registration Authority list).
_ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la
    lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj
    om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv
    sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    """.split()
)
# Other spellings seen in feeds and dumps: ISO 639-2/3 codes, withdrawn codes, names.
_ALIASES = {
    "nob": "nb", "nno": "nn", "nor": "no", "eng": "en", "dan": "da", "swe": "sv",
    "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "fin": "fi",
    "isl": "is", "ice": "is", "sme": "se", "nld": "nl", "dut": "nl", "ita": "it",
    "por": "pt", "pol": "pl", "rus": "ru", "ukr": "uk", "ara": "ar", "zho": "zh",
    "chi": "zh", "jpn": "ja", "kor": "ko", "fao": "fo",
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv",
    "norwegian": "no", "norsk": "no", "bokmål": "nb", "bokmal": "nb", "nynorsk": "nn",
    "english": "en", "engelsk": "en", "danish": "da", "dansk": "da", "swedish": "sv",
    "svenska": "sv", "svensk": "sv", "german": "de", "deutsch": "de", "tysk": "de",
    "french": "fr", "fransk": "fr",
}
# Whole tags whose meaning is not in the first subtag (RFC 5646 grandfathered forms).
_TAGS = {"no-bok": "nb", "no-nyn": "nn", "i-bok": "nb", "i-nyn": "nn"}
# py3langid labels that are not ISO 639-1 but have a 639-1 macrolanguage.
_MODEL_LABELS = {"arz": "ar", "ary": "ar", "kik": "ki", "gug": "gn", "uzs": "uz",
                 "yue": "zh", "wuu": "zh"}

# Marker words: spellings found in one standard and not in the other. Only counted after the
# text is known to be Norwegian (nb/nn) or Scandinavian (da/no), so English "eg" or "me" in
# other languages do not matter.
_NYNORSK = frozenset(
    """ikkje eg kva korleis kvifor kven kvar frå berre noko nokon nokre vere vore dei deira
    dykk ein eit eitt mykje heile heilt meir gjere seier kjem fekk vart ho hennar sjølv òg
    hjå skule skulen kyrkje difor sidan me""".split()
)
_BOKMAL = frozenset(
    """ikke jeg hva hvordan hvorfor hvem hvor fra bare noe noen være vært de deres en et
    mye hele helt mer gjøre sier kommer fikk ble hun hennes selv hvis skole skolen kirke
    derfor siden""".split()
)
_DANISH = frozenset(
    """af hvad efter nu meget blev havde mig dig sig noget nogen igen siger bliver gøre sidste
    næste bruge måske lidt mellem rigtig vores nej sådan fik lige""".split()
)
_NORWEGIAN_NOT_DANISH = frozenset(
    """av hva etter nå mye ble hadde meg deg seg noe noen igjen sier blir gjøre siste neste
    bruke kanskje litt mellom riktig vår nei sånn fikk å ikkje kva frå berre noko mykje
    fekk vart""".split()
)
_WORD = re.compile(r"[^\W\d_]+")

_identifier: Any = None
_lock = threading.Lock()


def normalise_language_code(code: str | None) -> str | None:
    """``nb-NO`` -> ``nb``, ``en_US`` -> ``en``, ``NO`` -> ``no``, ``nob`` -> ``nb``; else None.

    The generic ``no`` stays ``no`` (the tag does not say which written standard);
    ``detect_language`` resolves it from the text. Unknown, empty, ``und``/``mul``/``zxx`` and
    private-use tags give None.
    """
    if not isinstance(code, str):
        return None
    tag = code.strip().lower().replace("_", "-")
    if not tag:
        return None
    if tag in _TAGS:
        return _TAGS[tag]
    primary = tag.split("-", 1)[0]
    if primary in _ISO_639_1:
        return primary
    return _ALIASES.get(primary)


def detect_language(text: str, *, hint: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text`` (``nb``/``nn`` for Norwegian), or None if unknown.

    A valid ``hint`` is trusted (the generic ``no`` is split into nb/nn by the text). Text with
    fewer than ``MIN_LETTERS`` letters gives the hint or None.
    """
    declared = normalise_language_code(hint)
    if declared is not None and declared != "no":
        return declared
    sample = text[:MAX_CHARS] if isinstance(text, str) else ""
    words = [w.lower() for w in _WORD.findall(sample)]
    if sum(map(len, words)) < MIN_LETTERS:
        if declared == "no":
            return "nn" if _nynorsk_wins(words, 0.0, 0.0) else "nb"
        return None
    ranked = _rank(sample)
    scores = dict(ranked[:5])
    no, nn, da = scores.get("no", 0.0), scores.get("nn", 0.0), scores.get("da", 0.0)
    if declared == "no":
        return "nn" if _nynorsk_wins(words, no, nn) else "nb"
    top, confidence = ranked[0]
    if top in ("no", "nn", "da"):
        if no + nn + da < MIN_CONFIDENCE:
            return None
        if confidence < SURE:  # a close call: Danish and Norwegian share most words
            top = _danish_or_norwegian(words, da, no + nn)
        if top == "da":
            return "da"
        return "nn" if _nynorsk_wins(words, no, nn) else "nb"
    if confidence < MIN_CONFIDENCE:
        return None
    code = _MODEL_LABELS.get(top, top)
    return code if code in _ISO_639_1 else None


def _nynorsk_wins(words: list[str], no: float, nn: float) -> bool:
    """nb or nn: marker words first (the model is weak on short texts), the model on a tie."""
    nynorsk = sum(w in _NYNORSK for w in words)
    bokmal = sum(w in _BOKMAL for w in words)
    if nynorsk != bokmal:
        return nynorsk > bokmal
    return nn > no


def _danish_or_norwegian(words: list[str], da: float, norwegian: float) -> str:
    """'da' or 'no': marker words when they clearly point one way, else the model."""
    danish = sum(w in _DANISH for w in words)
    norsk = sum(w in _NORWEGIAN_NOT_DANISH for w in words)
    if norsk >= 2 and norsk > 2 * danish:
        return "no"
    if danish >= 2 and danish > 2 * norsk:
        return "da"
    return "da" if da > norwegian else "no"


def _rank(text: str) -> list[tuple[str, float]]:
    return _model().rank(text)


def _model() -> Any:
    """py3langid's identifier with normalised probabilities, built once on first use."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier
