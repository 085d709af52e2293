"""Parsing, identity and entry normalisation: no network, no database."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from newsthreads.errors import InputError
from newsthreads.normalise.feed_entry import entry_to_article, feed_date
from newsthreads.normalise.html import html_to_text
from newsthreads.sources.discover import discover_feeds
from newsthreads.sources.entry import Content, FeedEntry
from newsthreads.sources.feeds import parse_feed
from newsthreads.sources.identity import assign_keys, canonical_url

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
URL = "http://feeds.example/feed"


def rss(items: str, *, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (f'{decl}<rss version="2.0"><channel><title>Nyheter</title><link>http://ex/</link>'
            f"<language>nb</language>{items}</channel></rss>").encode()


def item(guid="g1", title="Tittel", link="http://ex/a", desc="Tekst", date=None) -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if desc is not None:
        parts.append(f"<description>{desc}</description>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def test_rss_atom_rdf_and_json_feed():
    assert parse_feed(rss(item()), {}, URL).format == "rss20"
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>urn:1</id>'
            b'<title>E</title><content type="html">&lt;p&gt;x&lt;/p&gt;</content>'
            b"<updated>2019-04-25T06:10:00+02:00</updated></entry></feed>")
    parsed = parse_feed(atom, {"Content-Type": "application/atom+xml"}, URL)
    assert parsed.format == "atom10" and parsed.entries[0].guid == "urn:1"
    rdf = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>R</title></channel>'
           b'<item rdf:about="http://ex/1"><title>I</title><link>http://ex/1</link></item>'
           b"</rdf:RDF>")
    assert parse_feed(rdf, {}, URL).format == "rss10"
    js = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "language": "en",'
          b' "items": [{"id": 7, "url": "http://ex/j", "content_html": "<p>Hi <b>there</b></p>",'
          b' "authors": [{"name": "Kari"}], "tags": ["x"],'
          b' "date_published": "2019-04-25T06:10:00Z",'
          b' "attachments": [{"url": "http://ex/a.mp3", "mime_type": "audio/mpeg"}]}, 5]}')
    parsed = parse_feed(js, {"Content-Type": "application/feed+json"}, URL)
    assert parsed.format == "json1.1" and len(parsed.entries) == 1
    e = parsed.entries[0]
    assert (e.guid, e.link, e.authors, e.categories) == ("7", "http://ex/j", ["Kari"], ["x"])
    assert e.enclosures[0]["type"] == "audio/mpeg"
    assert "item 1 is not an object" in parsed.warnings[0]


def test_json_feed_1_0_author_and_missing_version():
    js = b'{"items": [{"id": "a", "content_text": "t", "author": {"name": "Ola"}}]}'
    parsed = parse_feed(js, {}, URL)
    assert parsed.entries[0].authors == ["Ola"] and "without a known version" in parsed.warnings[0]
    with pytest.raises(InputError, match="invalid JSON"):
        parse_feed(b'{"items": [', {"Content-Type": "application/json"}, URL)


def test_bozo_feed_keeps_entries_and_warns():
    broken = rss(item("1") + item("2")).replace(b"</channel></rss>", b"<item><title>x &")
    parsed = parse_feed(broken, {}, URL)
    assert len(parsed.entries) >= 2
    assert "malformed feed" in parsed.warnings[0]


def test_html_page_instead_of_feed_names_the_feed_it_announces():
    page = (b"<!DOCTYPE html><html><head><title>Site</title>"
            b'<link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
            b"<body><p>hello</p></body></html>")
    with pytest.raises(InputError, match=r"HTML page, not a feed; it announces http://ex/rss.xml"):
        parse_feed(page, {"Content-Type": "text/html"}, "http://ex/")
    assert discover_feeds(page, "http://ex/news/")[0] == {
        "url": "http://ex/rss.xml", "type": "rss", "title": None}


def test_empty_and_garbage_documents_are_errors():
    with pytest.raises(InputError, match="empty document"):
        parse_feed(b"  \n", {}, URL)
    with pytest.raises(InputError, match="not a feed"):
        parse_feed(b"\x00\x01garbage<<<", {}, URL)


def test_declared_charset_that_lies():
    body = rss(item(title="Blåbær på Ålesund")).replace(b"utf-8", b"utf-8")
    latin = body.decode().encode("windows-1252")
    # header says UTF-8, bytes are Windows-1252: feedparser falls back; text must survive
    parsed = parse_feed(latin, {"Content-Type": "application/rss+xml; charset=utf-8"}, URL)
    assert parsed.entries[0].title.value == "Blåbær på Ålesund"
    assert parsed.warnings  # the mismatch is recorded


def test_windows_1252_and_utf16_feeds():
    text = rss(item(title="Smart “quotes” – Ærlig"),
               decl='<?xml version="1.0" encoding="windows-1252"?>').decode()
    parsed = parse_feed(text.encode("windows-1252"), {"Content-Type": "application/xml"}, URL)
    assert parsed.entries[0].title.value == "Smart “quotes” – Ærlig"
    u16 = rss(item(title="Øl"), decl='<?xml version="1.0" encoding="utf-16"?>').decode()
    with_bom = parse_feed(u16.encode("utf-16"), {}, URL)
    assert with_bom.entries[0].title.value == "Øl"
    no_bom = parse_feed(u16.encode("utf-16-le"), {}, URL)
    assert no_bom.entries[0].title.value == "Øl"
    assert "without a byte-order mark" in no_bom.warnings[0]


def test_billion_laughs_is_defused():
    lol = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
                      for i in range(10))
           + b"]>" + rss(item(title="&lol9;"), decl=""))
    started = time.monotonic()
    parsed = parse_feed(lol, {}, URL)
    assert time.monotonic() - started < 2
    assert len(parsed.entries) == 1
    assert len(parsed.entries[0].title.value if parsed.entries[0].title else "") < 1000


def test_quadratic_blowup_is_defused():
    big = b"A" * 50_000
    doc = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + big + b'">]>'
           + rss(item(title="t", desc="&a;" * 20_000), decl=""))
    started = time.monotonic()
    parsed = parse_feed(doc, {}, URL)
    assert time.monotonic() - started < 3
    assert any("entity expansion attack" in w for w in parsed.warnings)
    summary = parsed.entries[0].summary
    assert summary is None or len(summary.value) < 1_000_000


def test_small_safe_entities_still_expand():
    doc = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>'
           + rss(item(title="a&nbsp;b"), decl=""))
    parsed = parse_feed(doc, {}, URL)
    assert parsed.entries[0].title.value == "a\u00a0b" and not parsed.warnings


def test_canonical_url_strips_tracking():
    assert canonical_url("HTTP://Ex.COM:80/a?utm_source=x&id=3&fbclid=1#top") == "http://ex.com/a?id=3"
    assert canonical_url("https://ex.com") == "https://ex.com/"


def entries(*specs) -> list[FeedEntry]:
    return [FeedEntry(guid=g, link=u, title=Content(t, False), summary=Content(b, False),
                      position=i) for i, (g, u, t, b) in enumerate(specs)]


def test_identity_guid_then_link_then_hash():
    keyed = assign_keys(entries(("g1", "http://ex/1", "A", "a"),
                                (None, "http://ex/2?utm_x=1", "B", "b"), (None, None, "C", "c")))
    assert [k for k, _ in keyed.keyed] == ["g1", "http://ex/2", keyed.keyed[2][0]]
    assert keyed.keyed[2][0].startswith("hash:") and keyed.strategy == "guid"


def test_repeated_guids_fall_back_for_the_feed():
    keyed = assign_keys(entries(("same", "http://ex/1", "A", "a"),
                                ("same", "http://ex/2", "B", "b")))
    assert keyed.strategy == "link" and len(keyed.keyed) == 2 and keyed.notes
    homepage = assign_keys(entries(("same", "http://ex/", "A", "a"),
                                   ("same", "http://ex/", "B", "b")))
    assert homepage.strategy == "hash" and len(homepage.keyed) == 2


def test_exact_duplicate_entries_are_counted_not_stored_twice():
    keyed = assign_keys(entries(("g", "http://ex/1", "A", "a"), ("g", "http://ex/1", "A", "a")))
    assert keyed.strategy == "guid" and len(keyed.keyed) == 1 and keyed.duplicates == 1


def test_html_to_text_keeps_paragraphs_and_captions():
    html = ("<p>First <b>para</b>&amp;more.</p><script>x()</script><figure><img src=x>"
            "<figcaption>Foto: Ola / NTB</figcaption></figure><p>Second<br>line</p>")
    out = html_to_text(html)
    assert out.text == "First para&more.\n\nSecond\nline"
    assert out.captions == ["Foto: Ola / NTB"]


def _html_parser_text(html: str) -> tuple[str, list[str]]:
    """What HTMLParser's own tokenizer makes of ``html`` (html_to_text's fallback)."""
    from newsthreads.normalise.html import _TextExtractor, _tidy

    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - as html_to_text does
        pass
    return _tidy("".join(parser.parts)), parser.captions


TRICKY_HTML = [
    "<p class='a' />x<br/>y<br />z<br / >w", "<img src=x/>t", "<P>Up</P><BR>down",
    "<p>a &lt; b &amp c &#x41; &nbsp;d</p>", "a < b", "<p>x</p >y</ p>", "<!-- c --><p>x</p>",
    '<a href="x>y">l</a>', "<p\x0bclass='x'>t</p>", "<p\u00a0c>t</p>", "<td>a</td><th>b</th>",
    "<figcaption/>x", "<figcaption>c<p>d</p></figcaption>e", "<svg><title>t</title></svg>x",
    "<div><template>t</template>u</div>", "<a b=c d='e' f=\"g\" h>i</a>", "x &amp", "<p>",
    "</p\n>t", "<a href=x\u00a0y>t</a>", "<my-el>t</my-el>", "<o:p>t</o:p>", "<p>&#0;x</p>",
    "<style>p{}</style><p>s</p>", "<textarea><p>x</textarea>", "<![CDATA[x]]>y", "<?pi ?><b>z",
]


@pytest.mark.parametrize("html", TRICKY_HTML)
def test_html_fast_path_reads_as_html_parser_does(html):
    out = html_to_text(html)
    assert (out.text, out.captions) == _html_parser_text(html)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<", ">", "/", "p", "br", "a", " ", "\n", "=", '"', "'", "&",
                                 "amp;", "x", "figcaption", "script", "td", "!", "-", "\u00a0",
                                 "b=", "#3", "<p>", "</p>", "<br/>"]), max_size=30))
def test_html_fast_path_matches_html_parser_on_any_markup(pieces):
    html = "".join(pieces)
    out = html_to_text(html)
    assert (out.text, out.captions) == _html_parser_text(html)


@pytest.mark.parametrize("raw, source, precision, note", [
    ("Thu, 25 Apr 2019 06:10:00 +0200", "feed", "second", None),
    (None, "fetched", "second", "no date in the feed"),
    ("sometime soon", "fetched", "second", "unreadable date"),
    ("Mon, 01 Jan 1979 00:00:00 GMT", "fetched", "second", "before 1990"),
    ("Sat, 01 Jan 2050 00:00:00 GMT", "fetched", "second", "in the future"),
])
def test_feed_dates(raw, source, precision, note):
    date, kept, why = feed_date(FeedEntry(published_raw=raw), fetched_at=NOW)
    assert (date.source, date.precision, kept) == (source, precision, raw)
    if note:
        assert note in why
        assert date.start == NOW
    else:
        assert why is None and date.start == datetime(2019, 4, 25, 4, 10, tzinfo=UTC)


def test_feedparser_date_is_a_checked_fallback():
    struct = time.strptime("2019-04-25 04:10:00", "%Y-%m-%d %H:%M:%S")
    date, _, why = feed_date(FeedEntry(published_raw="25 Apr 2019 kl 6:10 hmm",
                                       published_parsed=struct), fetched_at=NOW)
    assert date.start == datetime(2019, 4, 25, 4, 10, tzinfo=UTC) and "feedparser" in why
    old = time.strptime("1970-01-01", "%Y-%m-%d")
    date, _, why = feed_date(FeedEntry(published_raw="zero", published_parsed=old),
                             fetched_at=NOW)
    assert date.source == "fetched" and "before 1990" in why


def test_entry_to_article_summary_vs_content_and_metadata():
    parsed = parse_feed(rss(
        '<item xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><title>Kim &amp; Putin</title>'
        "<guid>g</guid><link>http://ex/a?utm_source=rss</link>"
        "<description>Kort ingress om toppmøtet.</description>"
        "<content:encoded><![CDATA[<p>Kim Jong-un og Vladimir Putin møttes i Vladivostok "
        "torsdag.</p><p>Det var deres første møte. (©NTB)</p>]]></content:encoded>"
        "<dc:creator>NTB</dc:creator><category>utenriks</category>"
        '<enclosure url="http://ex/p.jpg" type="image/jpeg" length="10"/>'
        "<pubDate>Thu, 25 Apr 2019 06:10:00 +0200</pubDate></item>"), {}, URL)
    a = entry_to_article(parsed.entries[0], source="ex", key="g", fetched_at=NOW, feed_url=URL,
                         feed_language=parsed.language)
    assert a.title == "Kim & Putin" and a.lead == "Kort ingress om toppmøtet."
    assert a.body.startswith("Kim Jong-un og Vladimir Putin") and "\n\n" in a.body
    assert a.html.startswith("<p>") and a.canonical_url == "http://ex/a"
    assert a.authors == ["NTB"] and a.agency == "NTB" and a.categories == ["utenriks"]
    assert a.language == "nb" and a.published.precision == "second"
    assert a.raw["enclosures"][0]["url"] == "http://ex/p.jpg" and a.content_hash
