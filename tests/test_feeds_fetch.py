"""Fetching against real local HTTP servers: timeouts, drips, bombs, redirects, the SSRF guard."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from newsthreads.demo_server import FeedServer, Reply
from newsthreads.errors import FetchError
from newsthreads.sources.fetch import (
    FetchLimits,
    backoff_seconds,
    fetch,
    make_client,
    retry_after_seconds,
)
from newsthreads.sources.netguard import check_url, refusal

RSS = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
       b"<item><guid>a</guid><title>A</title></item></channel></rss>")
FAST = FetchLimits(connect_timeout=1, read_timeout=0.5, deadline=2.0, max_bytes=1_000_000)


@pytest.fixture(autouse=True)
def allow_local(monkeypatch):
    monkeypatch.setenv("NEWS_ALLOW_PRIVATE_NETWORKS", "1")


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def client():
    with make_client(FAST) as c:
        yield c


def test_plain_fetch_and_conditional_get(tmp_path, client):
    (tmp_path / "f.xml").write_bytes(RSS)
    with FeedServer(tmp_path) as srv:
        first = fetch(client, srv.url("/f.xml"), limits=FAST)
        assert first.status == 200 and first.body == RSS and first.etag
        second = fetch(client, srv.url("/f.xml"), etag=first.etag,
                       last_modified=first.last_modified, limits=FAST)
        assert second.not_modified and second.body == b""
        third = fetch(client, srv.url("/f.xml"), last_modified=first.last_modified, limits=FAST)
        assert third.not_modified


def test_read_timeout(server, client):
    server.routes["/slow"] = Reply(200, RSS, delay=1.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(client, server.url("/slow"), limits=FAST)
    assert time.monotonic() - started < 1.4


def test_drip_feed_hits_the_total_deadline(server, client):
    # 1 byte every 0.2 s: never a read timeout, but the deadline stops it.
    server.routes["/drip"] = Reply(200, RSS, drip=0.2)
    limits = FetchLimits(read_timeout=1, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline of 1s exceeded"):
        fetch(client, server.url("/drip"), limits=limits)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("status, words", [
    (404, "HTTP 404: not found"), (410, "HTTP 410: gone for good"), (500, "HTTP 500"),
    (503, "HTTP 503"), (429, "HTTP 429: rate limited"),
])
def test_http_errors_carry_status_and_retry_after(server, client, status, words):
    server.routes["/e"] = Reply(status, b"no", {"Retry-After": "120"})
    with pytest.raises(FetchError) as info:
        fetch(client, server.url("/e"), limits=FAST)
    assert info.value.status == status
    assert words in info.value.reason
    assert info.value.retry_after == 120.0


def test_retry_after_as_http_date():
    from datetime import UTC, datetime
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 23 Nov 2026 12:05:00 GMT", now) == 300.0
    assert retry_after_seconds("soon", now) is None


def test_redirect_loop_and_cap(server, client):
    server.routes["/a"] = Reply(302, headers={"Location": "/b"})
    server.routes["/b"] = Reply(302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(client, server.url("/a"), limits=FAST)
    for i in range(10):
        server.routes[f"/r{i}"] = Reply(301, headers={"Location": f"/r{i + 1}"})
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(client, server.url("/r0"), limits=FAST)


def test_permanent_redirect_reports_new_url(server, client):
    server.routes["/old"] = Reply(301, headers={"Location": "/mid"})
    server.routes["/mid"] = Reply(308, headers={"Location": "/new"})
    server.routes["/new"] = Reply(200, RSS, {"Content-Type": "application/rss+xml"})
    server.routes["/temp"] = Reply(302, headers={"Location": "/new"})
    res = fetch(client, server.url("/old"), limits=FAST)
    assert res.permanent_url == server.url("/new") and res.body == RSS
    assert fetch(client, server.url("/temp"), limits=FAST).permanent_url is None


def test_gzip_bomb_fails_fast(server, client):
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    started = time.monotonic()
    with pytest.raises(FetchError, match="exceeds the cap of 1,000,000 bytes"):
        fetch(client, server.url("/bomb"), limits=FAST)
    assert time.monotonic() - started < 1.0


def test_gzip_and_deflate_bodies_are_decoded(server, client):
    server.routes["/gz"] = Reply(200, gzip.compress(RSS), {"Content-Encoding": "gzip"})
    server.routes["/zlib"] = Reply(200, zlib.compress(RSS), {"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-15)
    server.routes["/raw"] = Reply(200, raw.compress(RSS) + raw.flush(),
                                  {"Content-Encoding": "deflate"})
    for path in ("/gz", "/zlib", "/raw"):
        assert fetch(client, server.url(path), limits=FAST).body == RSS


def test_huge_body_declared_and_streamed(server, client):
    size = 200 * 1024 * 1024  # 200 MB declared; the server would stream zeros
    server.routes["/huge"] = Reply(200, (b"\0" * 65536 for _ in range(size // 65536)),
                                   length=size)
    with pytest.raises(FetchError, match="declares 209,715,200 bytes"):
        fetch(client, server.url("/huge"), limits=FAST)
    server.routes["/stream"] = Reply(200, (b"<" * 65536 for _ in range(size // 65536)))
    started = time.monotonic()
    with pytest.raises(FetchError, match="body exceeds the cap"):
        fetch(client, server.url("/stream"), limits=FAST)
    assert time.monotonic() - started < 1.0


def test_refusal_reasons():
    assert "loopback" in refusal("127.0.0.1")
    assert "metadata" in refusal("169.254.169.254")
    assert "private" in refusal("10.1.2.3")
    assert "link-local" in refusal("fe80::1")
    assert "loopback" in refusal("::ffff:127.0.0.1")
    assert refusal("93.184.215.14") is None


def test_ssrf_guard_refuses_local_and_metadata_without_flag(server, client, monkeypatch):
    server.routes["/f"] = Reply(200, RSS)
    monkeypatch.delenv("NEWS_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(FetchError, match="loopback address"):
        fetch(client, server.url("/f"), limits=FAST)
    with pytest.raises(FetchError, match="cloud metadata"):
        fetch(client, "http://169.254.169.254/latest/meta-data/", limits=FAST)
    with pytest.raises(FetchError, match="scheme 'file'"):
        check_url("file:///etc/passwd")
    assert server.hits.get("/f") is None  # refused before any byte was sent


def test_ssrf_guard_applies_after_redirect(server, client, monkeypatch):
    """A public-looking first hop that redirects inward is refused at the redirect."""
    server.routes["/go"] = Reply(302, headers={"Location": "http://169.254.169.254/"})
    with pytest.raises(FetchError, match="cloud metadata"):
        monkeypatch.setattr("newsthreads.sources.netguard.private_allowed",
                            lambda: "/go" not in server.hits)
        fetch(client, server.url("/go"), limits=FAST)


def test_connect_time_guard_catches_rebinding(server, monkeypatch):
    """Even when the URL check passed, the connection itself refuses a loopback address."""
    server.routes["/f"] = Reply(200, RSS)
    monkeypatch.delenv("NEWS_ALLOW_PRIVATE_NETWORKS")
    monkeypatch.setattr("newsthreads.sources.fetch.check_url", lambda url: None)
    with make_client(FAST) as c, pytest.raises(FetchError, match="refused: 127.0.0.1"):
        fetch(c, server.url("/f"), limits=FAST)


def test_backoff_grows_then_caps():
    delays = [backoff_seconds(n, base=60, cap=3600, jitter=0) for n in range(1, 12)]
    assert delays[:4] == [60, 120, 240, 480]
    assert delays[-1] == 3600 and max(delays) == 3600
    low = backoff_seconds(3, base=60, cap=3600, jitter=0.2, rand=0.0)
    high = backoff_seconds(3, base=60, cap=3600, jitter=0.2, rand=0.999)
    assert 190 < low < 200 and 280 < high < 290


# --- politeness: requests in flight per host ----------------------------------------------------

class InFlight:
    """A route that counts, per Host header, the requests it is answering at once."""

    def __init__(self, hold: float = 0.3) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_all = 0

    def __call__(self, request) -> Reply:
        host = request.headers["host"].rsplit(":", 1)[0]
        with self.lock:
            self.now[host] = self.now.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.now[host])
            self.peak_all = max(self.peak_all, sum(self.now.values()))
        time.sleep(self.hold)
        with self.lock:
            self.now[host] -= 1
        return Reply(200, RSS, {"Content-Type": "application/rss+xml"})


def fetch_all(client, urls: list[str], limits: FetchLimits = FAST) -> list:
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(lambda u: fetch(client, u, limits=limits), urls))


def test_per_host_limit_caps_one_host_and_spares_the_others():
    """Three names for the local machine are three hosts: at most two requests each at once,
    and all three hosts served in parallel."""
    counter = InFlight()
    with FeedServer() as one, FeedServer(host="127.0.0.2") as two, \
            make_client(FAST, max_connections=18, per_host=2) as client:
        one.routes["/f"] = two.routes["/f"] = counter
        urls = [base + f"/f?n={i}" for i in range(6) for base in (
            one.base_url, one.base_url.replace("127.0.0.1", "localhost"), two.base_url)]
        results = fetch_all(client, urls)
    assert all(r.status == 200 and r.body == RSS for r in results)
    assert counter.peak == {"127.0.0.1": 2, "localhost": 2, "127.0.0.2": 2}
    assert counter.peak_all >= 4  # the hosts did not wait for each other


def test_per_host_limit_of_one_serialises_a_host():
    counter = InFlight(hold=0.1)
    with FeedServer() as srv, make_client(FAST, per_host=1) as client:
        srv.routes["/f"] = counter
        fetch_all(client, [srv.url(f"/f?n={i}") for i in range(5)])
    assert counter.peak == {"127.0.0.1": 1}


def test_waiting_for_a_host_slot_is_not_charged_to_the_deadline():
    """Two 0.7 s answers through one slot: the second waits 0.7 s, then takes 0.7 s; more
    than the 1 s deadline in all, but the server's own time is within it."""
    limits = FetchLimits(connect_timeout=1, read_timeout=2, deadline=1.0)
    with FeedServer() as srv, make_client(limits, per_host=1) as client:
        srv.routes["/slow"] = Reply(200, RSS, delay=0.7)
        started = time.monotonic()
        results = fetch_all(client, [srv.url("/slow?a"), srv.url("/slow?b")], limits)
    assert [r.status for r in results] == [200, 200]
    assert time.monotonic() - started >= 1.4


def test_a_failed_request_gives_its_host_slot_back(server):
    server.routes["/404"] = Reply(404, b"no")
    server.routes["/f"] = Reply(200, RSS)
    with make_client(FAST, per_host=1) as client:
        for _ in range(3):
            with pytest.raises(FetchError, match="HTTP 404"):
                fetch(client, server.url("/404"), limits=FAST)
        assert fetch(client, server.url("/f"), limits=FAST).status == 200
