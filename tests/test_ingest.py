"""Ingest into a real PostgreSQL: idempotent reruns, versions on edit, bad input recorded."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from newsthreads.pipeline import ingest_files, ingest_jsonl


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()


def errors_of(conn, run_id):
    return conn.execute(
        "SELECT severity, input, line, reason, raw IS NOT NULL FROM ingest_errors"
        " WHERE run_id = %s ORDER BY id", (run_id,)).fetchall()


def test_seeds_stored_with_month_precision_and_no_invented_day(conn, seeds_copy):
    result = ingest_files(conn, [seeds_copy])
    assert result.counts.new == 5 and result.counts.failed == 0 and result.status == "ok"
    rows = conn.execute(
        "SELECT source, source_key, published_at, published_end, published_precision,"
        " published_source, published_raw, language FROM articles ORDER BY source_key").fetchall()
    assert [r[1][:3] for r in rows] == ["000", "001", "002", "003", "004"]
    assert {r[0] for r in rows} == {"seeds"}
    dated = [r for r in rows if r[1] != "001_37df00bc9c246e76.txt"]
    for r in dated:
        assert r[4] == "month" and r[5] == "text" and r[6] == "2019-04"
        # [2019-04-01, 2019-05-01) in Oslo time, i.e. starting 2019-03-31T22:00Z
        assert r[2].isoformat() == "2019-03-31T22:00:00+00:00"
        assert r[3].isoformat() == "2019-04-30T22:00:00+00:00"
    undated = next(r for r in rows if r[1] == "001_37df00bc9c246e76.txt")
    assert undated[2] is None and undated[4] is None
    assert {r[7] for r in rows} == {"nb"}
    row = one(conn, "SELECT agency, kicker, title, credits FROM articles"
                    " WHERE source_key LIKE '001%%'")
    assert row == ("NTB", "Krig og konflikter", "Putin og Kim innleder møtet i Vladivostok",
                   ["©NTB"])


def test_rerun_adds_nothing_and_changes_nothing(conn, seeds_copy):
    ingest_files(conn, [seeds_copy])
    before = conn.execute("SELECT id, content_hash, version, updated_at FROM articles"
                          " ORDER BY id").fetchall()
    again = ingest_files(conn, [seeds_copy])
    assert again.counts.new == 0 and again.counts.unchanged == 5 and again.counts.updated == 0
    after = conn.execute("SELECT id, content_hash, version, updated_at FROM articles"
                         " ORDER BY id").fetchall()
    assert before == after
    assert one(conn, "SELECT count(*) FROM article_versions") == (0,)


def test_edited_file_becomes_a_new_version_not_a_new_article(conn, seeds_copy):
    ingest_files(conn, [seeds_copy])
    path = next(seeds_copy.glob("002_*.txt"))
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("Sikkerhetsgarantier", "Krav om garantier"),
                    encoding="utf-8")
    result = ingest_files(conn, [seeds_copy])
    assert result.counts.updated == 1 and result.counts.new == 0 and result.counts.unchanged == 4
    assert one(conn, "SELECT count(*) FROM articles") == (5,)
    version, body = one(conn, "SELECT version, body FROM articles WHERE source_key = %s",
                        path.name)
    assert version == 2 and "Krav om garantier" in body
    old = one(conn, "SELECT version, body FROM article_versions")
    assert old[0] == 1 and "Sikkerhetsgarantier" in old[1]


def test_full_text_search_in_norwegian(conn, seeds_copy):
    ingest_files(conn, [seeds_copy])
    hits = conn.execute(
        "SELECT source_key FROM articles WHERE search @@ websearch_to_tsquery('norwegian', %s)"
        " ORDER BY source_key", ("sanksjonene",)).fetchall()
    assert len(hits) >= 3  # stemming: 'sanksjoner', 'sanksjonene' ...


def test_bad_files_recorded_and_the_rest_stored(conn, tmp_path, seeds_copy, monkeypatch):
    import newsthreads.sources.files as files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1_000_000)
    drop = seeds_copy
    (drop / "empty.txt").write_bytes(b"")
    (drop / "binary.txt").write_bytes(gzip.compress(b"x" * 1000) + b"\x00\x01\x02")
    (drop / "latin1.txt").write_bytes(
        " date 2019-04 utenriks\n\nKim og Putin møttes i Vladivostok på torsdag.\n\n"
        "Det var første gang de to lederne møttes.\n".encode("cp1252"))
    (drop / "nobody.txt").write_text(" date 2019-04 utenriks\n\n\n", encoding="utf-8")
    (drop / "huge.txt").write_bytes(b"a " * 600_000)
    (drop / "month13.txt").write_text(" date 2019-13\n\nEn sak med en umulig dato.\n",
                                      encoding="utf-8")
    (drop / "future.txt").write_text(" date 2090-01-05\n\nEn sak fra fremtiden.\n",
                                     encoding="utf-8")
    result = ingest_files(conn, [drop])
    c = result.counts
    assert c.new == 5 + 3  # seeds + latin1 + month13 + future
    assert c.failed == 4  # empty, binary, nobody, huge
    errors = errors_of(conn, result.run_id)
    by_file = {Path(e[1]).name: e for e in errors}
    assert by_file["empty.txt"][0] == "error" and "empty" in by_file["empty.txt"][3]
    assert "binary" in by_file["binary.txt"][3] and by_file["binary.txt"][4]
    assert "no body" in by_file["nobody.txt"][3]
    assert "MB" in by_file["huge.txt"][3] and "limit" in by_file["huge.txt"][3]
    assert by_file["latin1.txt"][0] == "warning" and "Windows-1252" in by_file["latin1.txt"][3]
    assert by_file["month13.txt"][0] == "warning" and "2019-13" in by_file["month13.txt"][3]
    assert by_file["future.txt"][0] == "warning" and "2090" in by_file["future.txt"][3]
    body = one(conn, "SELECT body FROM articles WHERE source_key = 'latin1.txt'")[0]
    assert "møttes" in body
    row = one(conn, "SELECT published_at, published_raw, published_note FROM articles"
                    " WHERE source_key = 'month13.txt'")
    assert row[0] is None and row[1] == "2019-13" and "2019-13" in row[2]
    row = one(conn, "SELECT published_at, published_raw, published_note FROM articles"
                    " WHERE source_key = 'future.txt'")
    assert row[0] is None and row[1] == "2090-01-05" and row[2]
    status = one(conn, "SELECT status, items_failed, items_new FROM ingest_runs WHERE id = %s",
                 result.run_id)
    assert status == ("partial", 4, 8)


def test_missing_path_is_recorded(conn, tmp_path):
    result = ingest_files(conn, [tmp_path / "nope"])
    assert result.counts.failed == 1
    assert "no such file" in errors_of(conn, result.run_id)[0][3]


def test_jsonl_good_and_bad_lines(conn, tmp_path):
    lines = [
        {"id": "a1", "title": "Summit ends", "text": "The leaders met in Vladivostok on Thursday"
         " and talked for two hours.", "published": "2019-04-25T06:10:00+02:00", "lang": "en",
         "source": "wire", "url": "https://example.com/a1"},
        "this is not json",
        {"id": "a2", "title": None},
        {"id": 3, "text": "Putin og Kim møttes i Vladivostok torsdag for første gang.",
         "published": "25. april 2019", "source": "wire"},
        {"id": "a4", "text": "A month date only, never a day.", "published": "2019-04"},
        [1, 2],
    ]
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
                    encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert result.counts.new == 3 and result.counts.failed == 3
    errors = errors_of(conn, result.run_id)
    assert [(e[2], e[0]) for e in errors] == [(2, "error"), (3, "error"), (6, "error")]
    assert "not JSON" in errors[0][3] and "text" in errors[1][3] and all(e[4] for e in errors)
    rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT source_key, source, published_precision, published_at, language FROM articles")}
    assert rows["a1"][0] == "wire" and rows["a1"][1] == "second"
    assert rows["a1"][2].isoformat() == "2019-04-25T04:10:00+00:00" and rows["a1"][3] == "en"
    assert rows["3"][1] == "day" and rows["3"][3] == "nb"
    assert rows["a4"][0] == "archive" and rows["a4"][1] == "month"


def test_concurrent_ingests_of_the_same_folder_make_no_duplicates(db_url, clean_db, seeds_copy):
    results: list = []
    failures: list = []

    def run() -> None:
        try:
            with psycopg.connect(db_url) as c:
                results.append(ingest_files(c, [seeds_copy]))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures
    with psycopg.connect(db_url) as c:
        assert one(c, "SELECT count(*) FROM articles") == (5,)
    assert sum(r.counts.new for r in results) == 5
    assert sum(r.counts.unchanged for r in results) == 10


@pytest.mark.parametrize("nul_text", ["Tekst med \x00 NUL-tegn i seg.\n\nOg et avsnitt til."])
def test_nul_characters_do_not_break_the_store(conn, tmp_path, nul_text):
    (tmp_path / "nul.jsonl").write_text(json.dumps({"id": "n", "text": nul_text}) + "\n")
    result = ingest_jsonl(conn, [tmp_path / "nul.jsonl"])
    assert result.counts.new == 1


def _article(key: str, body: str, **kw):
    from newsthreads.model import Article
    from newsthreads.normalise.article import content_hash

    art = Article(source="unit", source_key=key, body=body, **kw)
    art.content_hash = content_hash(art)
    return art


def test_batch_upsert_outcomes_with_repeated_keys(conn):
    from newsthreads.store.articles import upsert_articles

    first = upsert_articles(conn, [_article("a", "one"), _article("b", "two")], None)
    assert first == ["new", "new"]
    outcomes = upsert_articles(
        conn, [_article("a", "one"), _article("b", "zwei"), _article("c", "x"),
               _article("c", "y")], None)
    assert outcomes == ["unchanged", "updated", "unchanged", "new"]
    conn.commit()
    rows = dict(conn.execute("SELECT source_key, body FROM articles").fetchall())
    assert rows == {"a": "one", "b": "zwei", "c": "y"}
    assert conn.execute("SELECT article_id IS NOT NULL, body FROM article_versions"
                        ).fetchall() == [(True, "two")]


def test_a_row_the_database_refuses_costs_only_itself(conn):
    from newsthreads.model import RawItem
    from newsthreads.pipeline import _store_batch
    from newsthreads.store.runs import RunCounts, start_run

    run_id = start_run(conn, "unit", {})
    bad = _article("bad", "body")
    bad.subheadings = ["ok"]
    bad.published_raw = "x"
    from datetime import UTC, datetime

    from newsthreads.model import PublishedDate

    when = datetime(2019, 4, 1, tzinfo=UTC)
    bad.published = PublishedDate(start=when, end=when, precision="day", source="text")  # end=start
    batch = [(RawItem("unit", k, {"text": k}, f"mem:{k}"), a) for k, a in
             (("g1", _article("g1", "fine")), ("bad", bad), ("g2", _article("g2", "fine too")))]
    counts = RunCounts()
    _store_batch(conn, batch, run_id, counts)
    assert (counts.new, counts.failed) == (2, 1)
    assert conn.execute("SELECT source_key FROM articles ORDER BY 1").fetchall() == [("g1",),
                                                                                      ("g2",)]
    reason = conn.execute("SELECT input, reason FROM ingest_errors").fetchone()
    assert reason[0] == "mem:bad" and "articles_interval_ck" in reason[1]


def _varied_words(chars: int, seed: int = 5) -> str:
    """Text whose distinct words alone outgrow PostgreSQL's 1 MB tsvector at ~1 M characters."""
    import random

    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzæøå"
    words, total = [], 0
    while total < chars:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(4, 12)))
        words.append(word)
        total += len(word) + 1
    return " ".join(words)[:chars]


def test_a_body_too_big_for_the_search_index_is_cut_not_fatal(conn, seeds_copy):
    # A 1.2 MB text file is under the file cap; before the fix its 1 M-character body made the
    # generated tsvector overflow (ProgramLimitExceeded, an OperationalError), which the
    # pipeline took for a lost server: the whole run failed, and every rerun with it.
    (seeds_copy / "huge_words.txt").write_text(
        " date 2019-04\n\n" + _varied_words(1_200_000), encoding="utf-8")
    result = ingest_files(conn, [seeds_copy])
    assert result.counts.new == 6 and result.counts.failed == 0
    warning = [e for e in result.errors if e["input"].endswith("huge_words.txt")]
    assert warning and warning[0]["severity"] == "warning" and "cut to" in warning[0]["reason"]


def test_a_database_limit_on_one_row_is_not_taken_for_a_lost_server(conn):
    from newsthreads.model import RawItem
    from newsthreads.pipeline import _store_batch
    from newsthreads.store.runs import RunCounts, start_run

    run_id = start_run(conn, "unit", {})
    huge = _article("huge", _varied_words(1_100_000))  # bypasses normalise's cut
    batch = [(RawItem("unit", k, {"text": "x"}, f"mem:{k}"), a) for k, a in
             (("g1", _article("g1", "fine")), ("huge", huge), ("g2", _article("g2", "also")))]
    counts = RunCounts()
    _store_batch(conn, batch, run_id, counts)
    assert (counts.new, counts.failed) == (2, 1)
    input_, reason = conn.execute("SELECT input, reason FROM ingest_errors").fetchone()
    assert input_ == "mem:huge" and "tsvector" in reason


def test_nul_in_any_jsonl_field_is_stored_without_it(conn, tmp_path):
    # PostgreSQL text and jsonb cannot hold U+0000; before the fix a NUL in the title, url or
    # date refused the whole article, and a NUL in an id crashed the run while logging it.
    record = {"id": "k\x00ey", "source": "wi\x00re", "title": "Tit\x00tel", "url": "u\x00rl",
              "published": "2019-04\x00", "text": "Kim og Putin møttes i Vladivostok."}
    bad = {"id": "bad\x00id", "title": "no text here"}
    path = tmp_path / "nul.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert (result.counts.new, result.counts.failed) == (1, 1), result.errors
    row = one(conn, "SELECT source, source_key, title, url, published_raw, raw->>'title'"
                    " FROM articles")
    assert row == ("wire", "key", "Tittel", "url", "2019-04", "Tittel")
    assert one(conn, "SELECT item_key FROM ingest_errors WHERE severity = 'error'") == ("badid",)
    again = ingest_jsonl(conn, [path])
    assert (again.counts.new, again.counts.unchanged) == (0, 1)


def test_utf16_file_with_a_torn_last_byte_is_read_with_a_warning(conn, tmp_path):
    text = "Kim og Putin møttes i Vladivostok torsdag.\n\nDet var første gang.\n"
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16") + b"\x00")  # odd length
    (tmp_path / "ok.txt").write_text(text, encoding="utf-8")
    result = ingest_files(conn, [tmp_path])
    assert result.counts.new == 2 and result.counts.failed == 0
    warnings = [e["reason"] for e in result.errors if e["input"].endswith("utf16.txt")]
    assert warnings and "UTF-16" in warnings[0]


def test_an_unreadable_file_is_recorded_and_the_rest_stored(conn, seeds_copy, monkeypatch):
    (seeds_copy / "locked.txt").write_text("Et avsnitt.\n", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = ingest_files(conn, [seeds_copy])
    assert result.counts.new == 5 and result.counts.failed == 1
    err = next(e for e in result.errors if e["input"].endswith("locked.txt"))
    assert err["severity"] == "error" and "Permission denied" in err["reason"]


def test_a_folder_that_cannot_be_listed_is_recorded_and_the_rest_stored(conn, seeds_copy):
    """A real OS refusal (a path past PATH_MAX, which even root meets): the folder is named in
    the run's errors instead of being passed over, and the readable files are stored."""
    import os

    fd = os.open(seeds_copy, os.O_RDONLY)
    try:
        for _ in range(24):  # 24 x 200 characters: past Linux's 4096-byte path limit
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    result = ingest_files(conn, [seeds_copy])
    assert result.counts.new == 5 and result.counts.failed == 1
    err = next(e for e in result.errors if "cannot list folder" in e["reason"])
    assert err["severity"] == "error" and "too long" in err["reason"]


def test_a_run_that_dies_keeps_the_counts_of_what_it_committed(conn, seeds_copy):
    from newsthreads.pipeline import run_ingest
    from newsthreads.sources.files import iter_files

    def items():
        yield from iter_files([seeds_copy])
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        run_ingest(conn, "files", items(), {}, batch_size=2)
    status, read, new = one(conn, "SELECT status, items_read, items_new FROM ingest_runs")
    assert status == "failed"
    assert one(conn, "SELECT count(*) FROM articles") == (4,)  # two whole batches
    assert (read, new) == (5, 4)


def test_concurrent_batch_edits_of_one_article_make_one_version(db_url, clean_db):
    # Two runs store the same edit at once. Before the fix the second, having read the old
    # hash before the first committed, copied a version too: a primary-key violation that
    # refused its whole batch, or (a moment later) a spurious second version. A slow UPDATE
    # trigger holds the first writer between its read and its write, so the race is certain.
    from newsthreads.store.articles import upsert_articles

    with psycopg.connect(db_url) as c:
        upsert_articles(c, [_article("a", "old text")], None)
        c.execute("CREATE FUNCTION test_slow_update() RETURNS trigger LANGUAGE plpgsql AS"
                  " $$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$")
        c.execute("CREATE TRIGGER test_slow_update BEFORE UPDATE ON articles"
                  " FOR EACH ROW EXECUTE FUNCTION test_slow_update()")
        c.commit()
    outcomes: dict[str, object] = {}

    def write(name: str) -> None:
        try:
            with psycopg.connect(db_url) as c:
                outcomes[name] = upsert_articles(c, [_article("a", "new text")], None)
                c.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[name] = exc

    try:
        first = threading.Thread(target=write, args=("first",))
        second = threading.Thread(target=write, args=("second",))
        first.start()
        time.sleep(0.5)
        second.start()
        first.join(30)
        second.join(30)
    finally:
        with psycopg.connect(db_url, autocommit=True) as c:
            c.execute("DROP TRIGGER IF EXISTS test_slow_update ON articles")
            c.execute("DROP FUNCTION IF EXISTS test_slow_update()")
    assert outcomes == {"first": ["updated"], "second": ["unchanged"]}
    with psycopg.connect(db_url) as c:
        assert one(c, "SELECT version, body FROM articles") == (2, "new text")
        assert one(c, "SELECT count(*) FROM article_versions") == (1,)


def test_a_run_spanning_several_connections_is_not_abandoned_by_the_next(db_url, clean_db):
    # The feeds DAG opens its run in one task and closes it in another, each with its own
    # connection. Before the fix, any run started in between saw the opener's backend gone and
    # marked the live run 'abandoned' (with a false warning in its log).
    from newsthreads.store.runs import start_run

    with psycopg.connect(db_url) as c:
        spanning = start_run(c, "feeds", {}, session_bound=False)
        died = start_run(c, "files", {})
    with psycopg.connect(db_url) as c:
        start_run(c, "files", {})
        status = dict(c.execute("SELECT id, status FROM ingest_runs").fetchall())
    assert status[spanning] == "running" and status[died] == "abandoned"


def test_a_deadlock_is_retried_not_taken_for_a_lost_server_or_a_bad_row(conn):
    from newsthreads.pipeline import _in_savepoint

    calls = []

    def work():
        calls.append(1)
        conn.execute("SELECT 1")
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return "done"

    assert _in_savepoint(conn, work) == "done" and len(calls) == 2


def test_a_normaliser_bug_on_one_input_costs_only_that_input(conn, seeds_copy, monkeypatch):
    import newsthreads.pipeline as pipeline

    real = pipeline.normalise_item

    def flaky(item, **kw):
        if item.key.startswith("002"):
            raise IndexError("list index out of range")
        return real(item, **kw)

    monkeypatch.setattr(pipeline, "normalise_item", flaky)
    result = ingest_files(conn, [seeds_copy])
    assert (result.counts.new, result.counts.failed) == (4, 1)
    err = next(e for e in result.errors if e["severity"] == "error")
    assert err["input"].endswith(".txt") and "IndexError" in err["reason"]
    assert err["has_raw"]


def test_an_oversized_jsonl_line_is_refused_without_reading_it_whole(conn, tmp_path,
                                                                     monkeypatch):
    # A JSON array given as JSONL is one huge line: before the fix it was read whole into memory
    # (a multi-GB dump could kill the worker). Now the line is refused, the rest still read.
    import newsthreads.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    good = json.dumps({"id": "g", "text": "Kim og Putin møttes i Vladivostok torsdag."})
    huge = json.dumps([{"id": str(i), "text": "x" * 50} for i in range(100)])
    path = tmp_path / "dump.jsonl"
    path.write_text(f"{huge}\n{good}\n{huge}", encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert (result.counts.new, result.counts.failed) == (1, 2)
    errors = errors_of(conn, result.run_id)
    assert [e[2] for e in errors] == [1, 3]
    assert all("over the" in e[3] and "bytes" in e[3] for e in errors)
    assert one(conn, "SELECT max(length(raw)) FROM ingest_errors")[0] <= 1000


def test_a_key_repeated_in_one_input_is_reported_not_silently_superseded(conn, tmp_path):
    lines = [{"id": "a", "text": "Første versjon av saken om toppmøtet."},
             {"id": "a", "text": "Andre versjon av saken om toppmøtet."}]
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    result = ingest_jsonl(conn, [path])
    assert one(conn, "SELECT body FROM articles") == ("Andre versjon av saken om toppmøtet.",)
    warnings = [e for e in errors_of(conn, result.run_id) if e[0] == "warning"]
    assert [(w[2], "line 2" in w[3]) for w in warnings] == [(1, True)]
