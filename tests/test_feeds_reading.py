"""Reading fetched documents (parse, key, normalise), here and in reader processes."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsthreads.normalise.feed_entry import entry_to_article
from newsthreads.sources.reading import Readers, read_feed

NOW = datetime(2019, 4, 26, 12, 0, tzinfo=UTC)
URL = "http://feeds.example/nyheter.xml"
HEADERS = {"content-type": "application/rss+xml"}
NORMALISE = {"source": "nyheter", "fetched_at": NOW, "feed_url": URL}
PLUGINS = str(Path(__file__).resolve().parents[1] / "plugins")


def document() -> bytes:
    items = []
    for i in range(6):
        items.append(
            f"<item><title>Sak {i} &amp; mer</title><link>/sak/{i}?utm_source=rss</link>"
            f'<guid isPermaLink="false">g{i}</guid>'
            f"<pubDate>{'i går' if i == 3 else f'Thu, 2{i} Apr 2019 06:10:00 +0200'}</pubDate>"
            f"<dc:creator>NTB</dc:creator><category>innenriks</category>"
            f"<description>Ingress {i}.</description>"
            f"<content:encoded><![CDATA[<p>Første avsnitt {i}.</p><figure><img src=x>"
            f"<figcaption>Foto: NTB</figcaption></figure><p>Andre <a href='/x'>lenke</a>."
            f"</p><script>alert(1)</script>]]></content:encoded></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Nyheter</title>'
            '<link>http://feeds.example/</link><language>nb</language>'
            + "".join(items) + "</channel></rss>").encode()


def articles(doc) -> list[dict]:
    return [dataclasses.asdict(item.article) for item in doc.items]


@pytest.fixture(scope="module")
def readers():
    pool = Readers(2)
    yield pool
    pool.close()


def test_lazy_and_eager_reading_agree():
    lazy = read_feed(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid")
    eager = read_feed(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid",
                      normalise=NORMALISE)
    assert [i.key for i in lazy.items] == [i.key for i in eager.items] == [
        f"g{i}" for i in range(6)]
    assert all(i.article is None and i.entry is not None for i in lazy.items)
    assert all(i.entry is None and i.article is not None for i in eager.items)
    for a, b in zip(lazy.items, eager.items, strict=True):
        assert a.hash() == b.hash() and (a.link, a.title) == (b.link, b.title)
        article = entry_to_article(a.entry, key=a.key, feed_language=lazy.language, **NORMALISE)
        assert dataclasses.asdict(article) == dataclasses.asdict(b.article)
    first = eager.items[0].article
    assert first.body == "Første avsnitt 0.\n\nAndre lenke." and first.captions == ["Foto: NTB"]
    assert first.canonical_url == "http://feeds.example/sak/0" and first.agency == "NTB"
    assert eager.items[3].article.published.source == "fetched"  # "i går": fetch time, noted


def test_reader_processes_read_as_this_process_does(readers):
    here = read_feed(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid",
                     normalise=NORMALISE)
    there = [readers(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid",
                     normalise=NORMALISE) for _ in range(4)]
    for doc in there:
        assert (doc.title, doc.link, doc.language, doc.warnings, doc.strategy) == (
            here.title, here.link, here.language, here.warnings, here.strategy)
        assert articles(doc) == articles(here)


def test_a_document_without_a_feed_is_an_answer_not_an_exception(readers):
    doc = readers(b"<html><body>Hei</body></html>", {"content-type": "text/html"}, URL,
                  max_bytes=10**6, id_strategy="guid", normalise=NORMALISE)
    assert doc.items == [] and "HTML page, not a feed" in doc.error


def test_a_killed_reader_is_replaced(readers):
    for proc in list(readers._procs):
        proc.popen.kill()
        proc.popen.wait()
    doc = readers(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid",
                  normalise=NORMALISE)
    assert len(doc.items) == 6
    assert all(p.popen.poll() is None for p in readers._procs)


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """Reader processes never import the caller's ``__main__`` (multiprocessing's spawn
    would, and run an unguarded script again in every worker)."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {PLUGINS!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from newsthreads.sources.reading import Readers
        from test_feeds_reading import HEADERS, NORMALISE, URL, document
        print("script ran", flush=True)
        readers = Readers(2)
        doc = readers(document(), HEADERS, URL, max_bytes=10**6, id_strategy="guid",
                      normalise=NORMALISE)
        readers.close()
        print("read", len(doc.items), flush=True)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.splitlines() == ["script ran", "read 6"]
