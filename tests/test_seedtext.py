"""Each seed file's parsed parts, one by one: the seed format as it really varies."""

from __future__ import annotations

import pytest
from conftest import SEEDS
from newsthreads.normalise.seedtext import parse_seed_text


def parse(name: str):
    path = next(SEEDS.glob(f"{name}_*.txt"))
    return parse_seed_text(path.read_text(encoding="utf-8"))


def test_000_date_line_with_first_paragraph_and_subheadings():
    f = parse("000")
    assert f.date_raw == "2019-04"
    assert f.title is None and f.section is None and f.kicker is None
    assert f.lead.startswith("Det første møtet mellom Nord-Koreas leder Kim Jong-un")
    assert f.lead.endswith("ifølge det russiske nyhetsbyrået Tass.")
    assert f.subheadings == ["Mislykket Trump-møte", "– Vil ha garantier",
                             "Vil ikke ha atommakt som nabo", "Første møte"]
    assert f.captions == [] and f.credits == [] and f.agency is None
    assert f.body.startswith("– Vi har akkurat hatt en meningsfull utveksling")
    assert f.body.endswith("og testet samtidig et nytt våpen.")
    assert "date 2019-04" not in f.body


def test_001_title_lead_kicker_and_agency_without_date():
    f = parse("001")
    assert f.date_raw is None
    assert f.title == "Putin og Kim innleder møtet i Vladivostok"
    assert f.lead.startswith("Russlands president Vladimir Putin og Nord-Koreas leder tok")
    assert f.kicker == "Krig og konflikter"
    assert f.body.startswith("Putin landet i byen lengst øst i Russland torsdag")
    assert "Krig og konflikter" not in f.body
    assert f.credits == ["©NTB"] and f.agency == "NTB"
    assert "(©NTB)" not in f.body
    assert not f.body.endswith("\n")


def test_002_section_on_date_line():
    f = parse("002")
    assert f.date_raw == "2019-04" and f.section == "utenriks"
    assert f.title is None
    assert f.lead.startswith("Russlands president Vladimir Putin kom med utspillet")
    assert f.subheadings == ["Sikkerhetsgarantier", "Forhandlinger i stampe"]
    assert "utenriks" not in f.body.split("\n")[0]


def test_003_wire_text_with_section():
    f = parse("003")
    assert f.date_raw == "2019-04" and f.section == "utenriks"
    assert f.lead.startswith("Putin landet i byen lengst øst i Russland torsdag")
    assert f.subheadings == ["Første møte", "Samler støtte"]
    assert f.agency is None


def test_004_photo_caption_kept_apart_from_body():
    f = parse("004")
    assert f.date_raw == "2019-04"
    assert f.captions == ["FØRSTE MØTE: Kim Jong-un og Vladimir Putin på universitet Far Eastern"
                          " Federal University torsdag. Foto: YURI KADOBNOV / AFP"]
    assert f.credits == ["Foto: YURI KADOBNOV / AFP"]
    assert f.title == "Putin og Kim møtes for første gang"
    assert f.lead.startswith("Kim Jong-un ønskes velkommen av Russlands president")
    assert "Foto:" not in f.body and "FØRSTE MØTE" not in f.body
    assert f.subheadings == ["Ankom i pansret tog", "Første gang i Russland"]
    assert f.agency is None  # the photo's agency is not the article's


@pytest.mark.parametrize(
    "text", ["", "   \n\n  ", " date 2019-04\n\n\n", " date 2019-04 utenriks\n"])
def test_no_body_is_an_error(text):
    with pytest.raises(ValueError):
        parse_seed_text(text)


def test_tweet_placeholders_and_control_characters_dropped():
    text = ("Tittel på saken her\n\nFørste avsnitt er en setning.\n\n"
            "pic.twitter.com/abc123\n\nAndre\x07 avsnitt er også en setning.\n\n(NTB)\n")
    f = parse_seed_text(text)
    assert "pic.twitter.com" not in f.body and "\x07" not in f.body
    assert f.agency == "NTB"
