"""Language detection: ISO 639-1 codes, bokmål vs nynorsk, hints, the seed files.

Every sentence here was written for this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from newsthreads.normalise.language import detect_language, normalise_language_code

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))

SENTENCES = {
    "nb": [
        "Bussen var forsinket igjen i morges, og mange kom for sent på jobb.",
        "Hun sier at hun ikke vil stille til valg neste år.",
        "Været blir kaldt og vått resten av uken.",
        "Politiet fikk melding om brannen like etter midnatt.",
        "Hva skjer med strømprisene når vinteren kommer?",
        "Statsministeren møtte pressen etter møtet i Brussel torsdag.",
        "Laget vant etter en dramatisk straffesparkkonkurranse.",
    ],
    "nn": [
        "Eg veit ikkje kva vi skal gjere med den gamle løa.",
        "Ho seier at ho ikkje vil stille til val neste år.",
        "Politiet fekk melding om brannen like etter midnatt.",  # the model alone says nb
        "Dei fleste elevane ville heller vere ute i friminuttet.",  # the model alone says nb
        "Kva skjer med straumprisane når vinteren kjem?",
        "Butikken stengjer tidlegare på laurdagar frå neste månad.",
        "Det har vore mykje snø i fjellet denne veka.",
    ],
    "da": [
        "Regeringen vil bruge flere penge på skolerne næste år, siger ministeren.",
        "Hun siger, at hun ikke vil stille op til valget.",
        "Vejret bliver koldt og vådt resten af ugen.",
        "Hvad sker der med elpriserne, når vinteren kommer?",
        "Butikken lukker tidligere om lørdagen fra næste måned.",
    ],
    "sv": [
        "Hon säger att hon inte vill ställa upp i valet nästa år.",
        "Vädret blir kallt och blött resten av veckan.",
        "Vad händer med elpriserna när vintern kommer?",
    ],
    "de": [
        "Der Bus hatte heute Morgen wieder Verspätung.",
        "Sie sagt, dass sie nicht zur Wahl antreten will.",
        "Die Polizei wurde kurz nach Mitternacht über den Brand informiert.",
    ],
    "en": [
        "The bus was late again this morning, and many people missed work.",
        "She says she will not stand for election next year.",
        "Police were alerted to the fire shortly after midnight.",
    ],
}
CASES = [(lang, text) for lang, texts in SENTENCES.items() for text in texts]


@pytest.mark.parametrize(("expected", "text"), CASES, ids=[f"{c[0]}-{c[1][:24]}" for c in CASES])
def test_detects_short_sentences(expected: str, text: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_files_are_bokmal(path: Path) -> None:
    assert detect_language(path.read_text(encoding="utf-8")) == "nb"


def test_five_seed_files() -> None:
    assert len(SEEDS) == 5


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("no", "no"), ("NO", "no"), ("nb-NO", "nb"), ("nn_NO", "nn"), ("en-US", "en"),
        ("EN", "en"), (" sv-SE ", "sv"), ("nob", "nb"), ("nno", "nn"), ("nor", "no"),
        ("eng", "en"), ("no-nyn", "nn"), ("no-bok", "nb"), ("Norwegian", "no"),
        ("bokmål", "nb"), ("iw", "he"), ("de-CH-1996", "de"),
        ("und", None), ("zxx", None), ("x-klingon", None), ("zz", None), ("", None),
        ("   ", None), (None, None),
    ],
)
def test_normalise_language_code(code: str | None, expected: str | None) -> None:
    assert normalise_language_code(code) == expected


def test_a_valid_hint_is_trusted() -> None:
    norwegian = "Regjeringen vil bruke mer penger på skolene neste år, sier ministeren."
    assert detect_language(norwegian, hint="en-US") == "en"
    assert detect_language(norwegian, hint="nn-NO") == "nn"
    assert detect_language(norwegian, hint="sv") == "sv"


def test_an_invalid_hint_is_ignored() -> None:
    english = "The council will vote on the new budget for schools on Thursday."
    assert detect_language(english, hint="zz") == "en"
    assert detect_language(english, hint="") == "en"
    assert detect_language(english, hint="und") == "en"


@pytest.mark.parametrize("hint", ["no", "NO", "nor", "Norwegian"])
def test_generic_norwegian_hint_is_split_by_the_text(hint: str) -> None:
    assert detect_language("Eg veit ikkje kva dei skal gjere no.", hint=hint) == "nn"
    assert detect_language("Jeg vet ikke hva de skal gjøre nå.", hint=hint) == "nb"
    assert detect_language("Ja.", hint=hint) == "nb"  # no evidence: bokmål, the common one
    assert detect_language("Kva?", hint=hint) == "nn"


@pytest.mark.parametrize("text", ["", "   ", "Hei", "Ja, takk.", "12345 67890 !!!", "OK"])
def test_short_text_gives_none_or_the_hint(text: str) -> None:
    assert detect_language(text) is None
    assert detect_language(text, hint="nb-NO") == "nb"
    assert detect_language(text, hint="en") == "en"


def test_nynorsk_markers_outweigh_the_model() -> None:
    # a bokmål-looking sentence with nynorsk forms: the markers decide
    assert detect_language("Politiet fekk melding om brannen like etter midnatt.") == "nn"
    assert detect_language("Politiet fikk melding om brannen like etter midnatt.") == "nb"


def test_only_a_bounded_prefix_is_read() -> None:
    """The first MAX_CHARS characters decide: a long English start, then Norwegian."""
    from newsthreads.normalise.language import MAX_CHARS

    english = " ".join(t for lang, t in CASES if lang == "en")
    norwegian = " ".join(t for lang, t in CASES if lang == "nb")
    start = (english + " ") * (MAX_CHARS // len(english) + 1)
    assert detect_language(start[:MAX_CHARS] + " " + norwegian * 20) == "en"
    assert detect_language(norwegian * 20 + " " + start) == "nb"


def test_shouting_text_is_read() -> None:
    assert detect_language("REGJERINGEN VIL BRUKE MER PENGER PÅ SKOLENE NESTE ÅR.") == "nb"


def test_model_is_not_loaded_at_import() -> None:
    code = (
        "import sys, newsthreads.normalise.language as L\n"
        "assert L._identifier is None\n"
        "assert 'py3langid' not in sys.modules, 'model imported eagerly'\n"
        "assert L.detect_language('Eg veit ikkje kva eg skal gjere med det.') == 'nn'\n"
        "assert L._identifier is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
