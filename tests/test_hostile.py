"""Hostile input: the parsers raise only our own errors, and odd content round-trips verbatim."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsthreads.errors import InputError
from newsthreads.model import RawItem
from newsthreads.normalise.article import MAX_FIELD_CHARS, normalise_item
from newsthreads.normalise.seedtext import parse_seed_text
from newsthreads.pipeline import ingest_jsonl
from newsthreads.sources.jsonl import parse_line
from newsthreads.sources.text import NotText, decode_text

SQLISH = ["'; DROP TABLE articles; --", "Robert'); DELETE FROM threads;--", "$$ || $$",
          "%s %(x)s {0} \\x00", "E'\\\\'", "/* */ SELECT pg_sleep(10);"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_seed_parser_only_raises_value_error(text):
    try:
        parts = parse_seed_text(text)
    except ValueError:
        return
    assert isinstance(parts.body, str)
    assert "\x00" not in parts.body


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_text_decoding_never_loses_or_crashes(data):
    try:
        text, _ = decode_text(data)
    except NotText:
        return
    assert isinstance(text, str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(), st.text().map(str.encode),
                 st.dictionaries(st.text(), st.one_of(st.none(), st.integers(), st.text(),
                                                      st.lists(st.integers())))
                 .map(lambda d: json.dumps(d).encode())))
def test_jsonl_line_is_an_item_or_our_error(line):
    result = parse_line(line, "hostile.jsonl", 1, "hostile")
    assert isinstance(result, (RawItem, InputError))
    if isinstance(result, InputError):
        assert result.raw == line and result.line == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({
    "id": st.text(min_size=1), "text": st.text(min_size=1),
    "title": st.one_of(st.none(), st.text()), "published": st.one_of(st.none(), st.text()),
    "lang": st.one_of(st.none(), st.text(max_size=12)),
}))
def test_normalise_jsonl_item_only_raises_input_error(fields):
    item = RawItem("hostile", fields["id"], fields, "hostile.jsonl", kind="jsonl")
    try:
        article = normalise_item(item)
    except InputError:
        return
    assert article.content_hash and "\x00" not in article.body


@pytest.mark.parametrize("evil", SQLISH + ["tab\there", "bell\x07 and escape\x1b[31m red",
                                           "emoji 🗞️ and RTL \u202e mark", "zero\u200bwidth"])
def test_sql_looking_and_control_content_round_trips(conn, tmp_path, evil):
    record = {"id": evil, "source": evil, "title": evil, "text": f"Body: {evil}", "url": evil}
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert result.counts.new == 1, result.errors
    row = conn.execute("SELECT source, source_key, title, body, url FROM articles").fetchone()
    cleaned = "".join(ch for ch in evil if ch in "\t\n\r" or ord(ch) >= 32 and ord(ch) != 127)
    assert row == (evil, evil, cleaned, f"Body: {cleaned}", evil)
    assert conn.execute("SELECT count(*) FROM threads").fetchone() == (0,)  # nothing ran


def test_oversized_field_is_cut_with_a_recorded_warning(conn, tmp_path):
    big = "ord " * (MAX_FIELD_CHARS // 4 + 1000)
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"id": "big", "text": big}) + "\n", encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert result.counts.new == 1
    length = conn.execute("SELECT length(body) FROM articles").fetchone()[0]
    assert length == MAX_FIELD_CHARS
    warnings = [e["reason"] for e in result.errors if e["severity"] == "warning"]
    assert any("cut to" in w and "body" in w for w in warnings)


@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"id": "x", "text": "y", "title": '
                                  + b"[" * 100_000 + b"]" * 100_000 + b"}"])
def test_deeply_nested_json_is_our_error_not_a_crash(line):
    # json.loads raises RecursionError here; before the fix it escaped and ended the whole run.
    result = parse_line(line, "nested.jsonl", 7, "hostile")
    assert isinstance(result, InputError) and result.line == 7 and "nested" in result.reason


_FEED_PARTS = st.sampled_from([
    "<rss version='2.0'><channel>", "</channel></rss>", "<item>", "</item>", "<title>", "</title>",
    "<pubDate>", "</pubDate>", "<guid>", "</guid>", "<link>", "</link>", "<description>",
    "</description>", "<![CDATA[", "]]>", "&amp;", "&lt;b&gt;", "&#0;", "&bogus;", "<entry>",
    "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>", "Thu, 25 Apr 2019 06:10:00 +0200",
    "2090-01-01", "not a date", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]>", "&a;",
    '{"version": "https://jsonfeed.org/version/1.1", "items": [', "]}", '{"id": 1}',
    "http://127.0.0.1/x", "javascript:alert(1)", "\x00", "\ufeff", "Kim og Putin",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.one_of(_FEED_PARTS, st.text(max_size=20)), max_size=40)
                 .map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))))
def test_feed_parse_and_entry_normalise_raise_only_our_errors(body):
    from datetime import UTC, datetime

    from newsthreads.normalise.feed_entry import entry_to_article
    from newsthreads.sources.feeds import parse_feed

    try:
        parsed = parse_feed(body, {"content-type": "application/xml"}, "http://feed.test/x")
    except InputError:
        return
    for n, entry in enumerate(parsed.entries):
        article = entry_to_article(entry, source="hostile", key=f"k{n}",
                                   fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                                   feed_url="http://feed.test/x", feed_language=None)
        assert article.content_hash and "\x00" not in (article.body or "")
