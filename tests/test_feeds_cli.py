"""The feed commands as a user types them: add (with discovery), list, import/export, ingest."""

from __future__ import annotations

import json

import pytest
from newsthreads.cli import main
from newsthreads.demo_server import FeedServer, Reply
from newsthreads.errors import InputError
from newsthreads.sources.opml import read_opml

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Lokalavisa</title>'
       b"<link>http://ex/</link><item><guid>1</guid><title>Sak</title>"
       b"<description>Kort.</description><link>http://ex/sak</link></item></channel></rss>")
PAGE = (b'<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml"'
        b' title="Lokalavisa RSS" href="/rss"></head><body>hei</body></html>')


@pytest.fixture
def server():
    with FeedServer() as srv:
        srv.routes["/rss"] = Reply(200, RSS, {"Content-Type": "application/rss+xml"})
        srv.routes["/"] = Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
        srv.routes["/down"] = Reply(503, b"down")
        yield srv


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_add_list_ingest_remove(clean_db, server, capsys):
    code, out = cli(capsys, "feeds", "add", server.url("/rss"))
    assert code == 0 and "added feed 1" in out and "rss20 feed with 1 entries" in out
    code, out = cli(capsys, "feeds", "add", server.base_url + "/")  # a site page: discovery
    assert code == 0 and "already registered" in out and "found the feed" in out
    code, out = cli(capsys, "feeds", "add", server.url("/down"))
    assert code == 0 and "could not check it now (HTTP 503" in out
    code, out = cli(capsys, "ingest-feeds", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["ok"] == 1 and summary["failed"] == 1
    assert summary["counts"]["new"] == 1
    code, out = cli(capsys, "ingest-feeds", "--feed", "1")
    assert code == 0 and "1 ok, 0 not modified" in out and "1 unchanged" in out  # no ETag
    code, out = cli(capsys, "feeds", "list")
    assert " ok " in out and "failing x1" in out and "last error: HTTP 503" in out
    rows = json.loads(cli(capsys, "feeds", "list", "--json")[1])
    assert [(r["id"], r["articles"], r["title"]) for r in rows] == [
        (1, 1, "Lokalavisa"), (2, 0, None)]
    code, out = cli(capsys, "feeds", "remove", "2")
    assert code == 0 and "removed feed 2" in out
    assert cli(capsys, "feeds", "remove", "2")[0] == 1


def test_add_refuses_non_feeds_and_private_addresses(clean_db, server, capsys, monkeypatch):
    server.routes["/plain"] = Reply(200, b"<html><body>no feed here</body></html>",
                                    {"Content-Type": "text/html"})
    code, out = cli(capsys, "feeds", "add", server.url("/plain"))
    assert code == 1 and "announces no feed" in out
    assert cli(capsys, "feeds", "add", "ftp://ex/feed")[0] == 1
    monkeypatch.delenv("NEWS_ALLOW_PRIVATE_NETWORKS")
    code, out = cli(capsys, "feeds", "add", server.url("/rss"))
    assert code == 1 and "loopback" in out


def test_opml_round_trip(clean_db, server, capsys, tmp_path):
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        f'<outline text="News"><outline type="rss" text="R" xmlUrl="{server.url("/rss")}"/>'
        '<outline type="rss" text="Bad" xmlUrl="gopher://ex/"/></outline>'
        '<outline type="rss" text="Other" xmlUrl="http://ex.invalid/feed.xml"/>'
        "</body></opml>")
    code, out = cli(capsys, "feeds", "import", str(opml))
    assert code == 0 and "3 feeds" in out and "2 added" in out and "1 refused" in out
    code, out = cli(capsys, "feeds", "export")
    urls = [f.url for f in read_opml(out.encode())]
    assert urls == [server.url("/rss"), "http://ex.invalid/feed.xml"]


def test_opml_entity_attack_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b'<opml><body><outline xmlUrl="http://ex/&b;"/></body></opml>')
    with pytest.raises(InputError, match="entity declarations are not allowed"):
        read_opml(bomb)


def test_full_text_fetches_the_article_page(clean_db, server, capsys):
    paragraph = ("Kim Jong-un og Vladimir Putin møttes i Vladivostok torsdag for å snakke om "
                 "atomvåpen og sanksjoner. ")
    server.routes["/article"] = Reply(200, (
        "<html><head><title>Sak</title></head><body><nav>Meny Forside Sport</nav><article>"
        "<h1>Toppmøtet</h1>" + "".join(f"<p>{paragraph}{i}</p>" for i in range(6))
        + "</article><footer>Kontakt oss</footer></body></html>").encode(),
        {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/summary"] = Reply(200, RSS.replace(b"http://ex/sak",
                                                       server.url("/article").encode()))
    assert cli(capsys, "feeds", "add", server.url("/summary"), "--full-text")[0] == 0
    code, out = cli(capsys, "ingest-feeds")
    assert code == 0 and "1 new" in out
    import psycopg

    with psycopg.connect(clean_db) as conn:
        body, lead, raw = conn.execute("SELECT body, lead, raw FROM articles").fetchone()
    assert "møttes i Vladivostok" in body and "Meny" not in body
    assert lead == "Kort." and raw["full_text"] is True


def test_ingest_feeds_per_host_is_recorded_and_checked(clean_db, server, capsys):
    assert cli(capsys, "feeds", "add", server.url("/rss"))[0] == 0
    code, out = cli(capsys, "ingest-feeds", "--per-host", "0")
    assert code == 2 and "--per-host must be at least 1" in out
    assert cli(capsys, "ingest-feeds", "--per-host", "1", "--json")[0] == 0
    import psycopg

    with psycopg.connect(clean_db) as conn:
        params = conn.execute("SELECT params FROM ingest_runs WHERE kind = 'feeds' "
                              "ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert params["per_host"] == 1


def test_ingest_feeds_reader_processes_is_recorded_and_checked(clean_db, server, capsys):
    assert cli(capsys, "feeds", "add", server.url("/rss"))[0] == 0
    code, out = cli(capsys, "ingest-feeds", "--reader-processes", "-1")
    assert code == 2 and "--reader-processes must be 0 or more" in out
    code, out = cli(capsys, "ingest-feeds", "--reader-processes", "0", "--json")
    assert code == 0 and json.loads(out)["counts"]["new"] == 1
    import psycopg

    with psycopg.connect(clean_db) as conn:
        params = conn.execute("SELECT params FROM ingest_runs WHERE kind = 'feeds' "
                              "ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert params["processes"] == 0
