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


# --- other plausible drops: the parts must not misfire --------------------------------------

def test_a_title_starting_with_date_is_not_a_date_line():
    f = parse_seed_text("Date set for Kim-Putin summit in Vladivostok\n\n"
                        "North Korean leader Kim Jong Un will meet Vladimir Putin on Thursday.\n\n"
                        "Kim arrived by armoured train on Wednesday.\n")
    assert f.date_raw is None
    assert f.title == "Date set for Kim-Putin summit in Vladivostok"


@pytest.mark.parametrize(("line", "date", "section"), [
    (" date 25. april 2019 utenriks", "25. april 2019", "utenriks"),
    (" date 2019-04-25 06:10 utenriks", "2019-04-25 06:10", "utenriks"),
    ("Dato: 25.04.2019 Utenriks", "25.04.2019", "Utenriks"),
    (" date 2019-13 utenriks", "2019-13", "utenriks"),  # unreadable: kept raw, reported later
])
def test_written_dates_on_the_date_line(line, date, section):
    f = parse_seed_text(f"{line}\n\nPutin og Kim møttes torsdag i Vladivostok for første gang.\n\n"
                        "Møtet varte i to timer, mye lenger enn planlagt.\n")
    assert (f.date_raw, f.section, f.title) == (date, section, None)
    assert f.lead == "Putin og Kim møttes torsdag i Vladivostok for første gang."


@pytest.mark.parametrize("sentence", [
    "Statsministeren sa: «Dette er et viktig møte for regionen».",
    "The reason is simple: Russia wants a seat at the table, analysts say.",
    'Putin said: "We welcome North Korea\'s efforts to develop dialogue."',
    "Han la til: Dette er bare begynnelsen på et nytt samarbeid.",
])
def test_a_sentence_with_a_colon_is_not_a_kicker(sentence):
    text = ("Kim og Putin møttes i Vladivostok\n\n"
            "Nord-Koreas leder og Russlands president møttes torsdag for første gang.\n\n"
            f"{sentence}\n\nMøtet varte i to timer.\n")
    f = parse_seed_text(text)
    assert f.kicker is None
    assert sentence in f.body


def test_a_kicker_glued_to_the_first_paragraph_is_still_found():
    f = parse_seed_text("Kim og Putin møttes i Vladivostok\n\n"
                        "Nord-Koreas leder og Russlands president møttes torsdag.\n\n"
                        "Toppmøtet i Vladivostok: Putin landet i byen torsdag morgen.\n\n"
                        "Kim ankom med tog dagen før.\n")
    assert f.kicker == "Toppmøtet i Vladivostok"
    assert f.body.startswith("Putin landet i byen torsdag morgen.")


@pytest.mark.parametrize("title", [
    "Kim Jong-un og Vladimir Putin møttes for første gang i Vladivostok torsdag",
    "Kan Kim stole på Putin?",
    "Putin: Nord-Korea trenger garantier",
])
def test_long_and_question_titles(title):
    f = parse_seed_text(f"{title}\n\nNord-Koreas leder søker nye venner etter det mislykkede"
                        " toppmøtet i Hanoi.\n\nAnalytikere tviler på at Russland kan gi mye.\n\n"
                        "Møtet varte i to timer.\n")
    assert f.title == title
    assert f.lead.startswith("Nord-Koreas leder søker nye venner")
    assert f.kicker is None


def test_a_photo_caption_inside_the_body_is_kept_apart():
    caption = ("Kim Jong-un ankom Vladivostok med tog onsdag."
               " Foto: Alexander Zemlianichenko / AP / NTB scanpix")
    f = parse_seed_text("Putin og Kim møttes torsdag i Vladivostok for første gang.\n\n"
                        f"Møtet varte i to timer.\n\n{caption}\n\n"
                        "Bildet viser et foto: en mann som vinker til fotografene.\n\n"
                        "Putin sier han vil orientere USA.\n")
    assert f.captions == [caption]
    assert "Foto: Alexander Zemlianichenko / AP / NTB scanpix" in f.credits
    assert "Zemlianichenko" not in f.body
    assert "Bildet viser et foto: en mann" in f.body  # a sentence, not a caption


@pytest.mark.parametrize(("line", "credit", "agency"), [
    ("(NTB)", "NTB", "NTB"),
    ("(Reuters)", "Reuters", "Reuters"),
    ("NTB/AFP", "NTB/AFP", "NTB"),
    ("(©NTB-AFP)", "©NTB-AFP", "NTB"),
    ("(NTB/Reuters)", "NTB/Reuters", "NTB"),
])
def test_agency_credit_lines(line, credit, agency):
    f = parse_seed_text("Putin og Kim møttes torsdag i Vladivostok for første gang.\n\n"
                        f"Møtet varte i to timer.\n\n{line}\n")
    assert (f.credits, f.agency) == ([credit], agency)
    assert f.body.endswith("Møtet varte i to timer.")


def test_a_trailing_credit_with_two_agencies():
    f = parse_seed_text("Putin og Kim møttes torsdag i Vladivostok for første gang.\n\n"
                        "Møtet varte i to timer. (NTB/AFP)\n")
    assert (f.credits, f.agency) == (["NTB/AFP"], "NTB")
    assert f.body.endswith("Møtet varte i to timer.")


@pytest.mark.parametrize(("lead", "agency"), [
    ("VLADIVOSTOK, Russia (Reuters) - North Korean leader Kim Jong Un met Russian President"
     " Vladimir Putin on Thursday.", "Reuters"),
    ("MOSCOW (AP) — Russian President Vladimir Putin and North Korean leader Kim Jong Un met"
     " on Thursday.", "AP"),
    ("Oslo (NTB): Statsministeren vil ikke kommentere møtet i Vladivostok.", "NTB"),
])
def test_a_wire_dateline_names_the_agency_and_stays_in_the_text(lead, agency):
    f = parse_seed_text(f"Putin, Kim hold first summit\n\n{lead}\n\nThe leaders talked for hours."
                        "\n\nThey had dinner afterwards.\n")
    assert f.agency == agency and agency in f.credits
    assert f.lead == lead


def test_bylines_and_wire_credit_trailers():
    f = parse_seed_text("Putin og Kim møttes i Vladivostok\n\nAv Ola Nordmann, NTB\n\n"
                        "Nord-Koreas leder og Russlands president møttes torsdag.\n\n"
                        "Møtet varte i to timer.\n\n"
                        "Reporting by Andrew Osborn; Editing by Mark Heinrich\n")
    assert f.title == "Putin og Kim møttes i Vladivostok"
    assert f.authors == ["Ola Nordmann"] and f.agency == "NTB"
    assert f.lead == "Nord-Koreas leder og Russlands president møttes torsdag."
    assert "Reporting by Andrew Osborn; Editing by Mark Heinrich" in f.credits
    assert f.body == "Møtet varte i to timer."
    assert f.subheadings == []


def test_a_sentence_starting_with_av_is_not_a_byline():
    f = parse_seed_text("Av de 300 deltakerne kom 20 fra Norge.\n\nMøtet varte i to timer.\n")
    assert f.authors == [] and f.lead == "Av de 300 deltakerne kom 20 fra Norge."


def test_links_to_other_stories_and_party_abbreviations():
    f = parse_seed_text(" date 2019-04 utenriks\n\nPutin og Kim møttes torsdag.\n\n"
                        "Les også: Dette er Kim Jong-un\n\nMøtet varte i to timer.\n\n"
                        "Det sier statsminister Jonas Gahr Støre (Ap)\n")
    assert f.kicker is None and f.subheadings == []
    assert "Les også" not in f.body and "Dette er Kim Jong-un" not in f.body
    assert f.agency is None and f.body.endswith("Jonas Gahr Støre (Ap)")  # Ap: Labour, not AP


def test_a_byline_lookalike_cannot_make_the_parser_backtrack_for_ever():
    import time

    started = time.monotonic()
    parse_seed_text("Av " + " og ".join(["Aa"] * 40) + " !\n\nEt avsnitt her.\n")
    assert time.monotonic() - started < 1.0
