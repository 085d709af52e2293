"""The robustness corpus (../shared/eval/feeds): every well-formed feed, served over HTTP and read
through our fetch + parse path, must yield the number of items its manifest expects.

Skipped when the corpus is absent (it is not part of the repository: licences differ).
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import EVAL
from newsthreads.demo_server import FeedServer, Reply
from newsthreads.errors import FetchError, InputError
from newsthreads.sources.feeds import parse_feed
from newsthreads.sources.fetch import FetchLimits, fetch, make_client

CORPUS = EVAL / "feeds"
MANIFEST = CORPUS / "manifest.jsonl"
REQUIRED_RATE = 0.995


def _cases() -> list[dict]:
    rows = [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r for r in rows if r.get("role") == "feed" and r.get("wellformed") is True
            and r.get("expected_items") is not None]


def _reply(case: dict) -> Reply:
    body = (CORPUS / case["path"]).read_bytes()
    headers = {}
    for line in case.get("http_headers") or []:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    fmt = case.get("format", "")
    if fmt.startswith(("gzip:", "deflate:")):  # compressed fixtures are meant to be served so
        headers["Content-Encoding"] = fmt.split(":", 1)[0]
    return Reply(200, body, headers)


@pytest.mark.skipif(not MANIFEST.exists(), reason="../shared/eval/feeds is not present")
def test_corpus_item_counts():
    cases = _cases()
    assert len(cases) > 3000
    limits = FetchLimits(max_bytes=20_000_000)
    failures = []
    started = time.monotonic()
    with FeedServer() as server, make_client(limits, max_connections=2) as client:
        for i, case in enumerate(cases):
            path = f"/c/{i}"
            server.routes[path] = _reply(case)
            try:
                res = fetch(client, server.url(path), limits=limits)
                got: object = len(parse_feed(res.body, res.headers, res.final_url,
                                             max_bytes=limits.max_bytes).entries)
            except (FetchError, InputError) as exc:
                got = f"error: {exc}"
            if got != case["expected_items"]:
                failures.append((case["path"], case["expected_items"], got))
    elapsed = time.monotonic() - started
    rate = 1 - len(failures) / len(cases)
    print(f"\nfeed corpus: {len(cases) - len(failures)}/{len(cases)} = {rate:.2%} item counts "
          f"right in {elapsed:.1f}s")
    for failure in failures:
        print("  ", *failure)
    assert rate >= REQUIRED_RATE, failures[:20]


@pytest.mark.skipif(not MANIFEST.exists(), reason="../shared/eval/feeds is not present")
def test_corpus_ill_formed_feeds_never_crash_the_parser():
    """Ill-formed, empty, HTML and corrupt files: entries kept or a clear InputError, no crash."""
    rows = [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    cases = [r for r in rows if r.get("role") == "feed" and r.get("wellformed") is not True]
    assert len(cases) > 300
    kept = refused = 0
    for case in cases:
        body = (CORPUS / case["path"]).read_bytes()
        try:
            parsed = parse_feed(body, {}, "http://127.0.0.1:8097/" + case["path"])
        except InputError as exc:
            assert exc.reason, case["path"]
            refused += 1
            continue
        kept += 1
        if case.get("fp_entries"):
            assert len(parsed.entries) >= 1, case["path"]
    print(f"\nill-formed corpus: {kept} read (warnings kept), {refused} refused with a reason")
