"""Story threading against real PostgreSQL: seeds, confounders, restarts, rethread, concurrency.

All article texts here are synthetic (written for these tests) or the repository's seed files.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import psycopg
import pytest
from conftest import SEEDS, truncate_all
from newsthreads.model import Article, PublishedDate
from newsthreads.pipeline import ingest_files
from newsthreads.store import threads as store_threads
from newsthreads.store.articles import upsert_article
from newsthreads.stories.cluster import Params, State
from newsthreads.stories.items import item_from_row
from newsthreads.stories.prefetch import Prefetcher
from newsthreads.stories.service import cluster_pending, rethread
from psycopg.types.json import Jsonb

# -- a small synthetic world: stories with sentence pools ----------------------------------------

STORIES: dict[str, dict] = {
    "hanoi": {
        "lang": "nb", "date": (2019, 2, 27), "sentences": [
            "Kim Jong-un og Donald Trump møttes onsdag til toppmøte i Hanoi i Vietnam.",
            "Toppmøtet i Hanoi ble avbrutt uten noen avtale om atomnedrustning.",
            "Trump sa på en pressekonferanse i Hanoi at Nord-Korea ville ha alle sanksjonene "
            "fjernet, og at han derfor gikk fra forhandlingsbordet.",
            "Nord-Koreas utenriksminister Ri Yong-ho holdt en sjelden pressekonferanse midt på "
            "natten i Hanoi og sa at landet bare ba om delvis lettelse.",
            "Den planlagte lunsjen på hotellet Metropole i Hanoi ble avlyst i siste liten.",
            "Kim reiste hjem med pansret tog gjennom Kina etter det mislykkede toppmøtet.",
            "Det var det andre møtet mellom Trump og Kim etter Singapore i fjor sommer.",
            "Vietnams myndigheter hadde stengt gatene rundt regjeringens gjestehus i Hanoi.",
        ]},
    "hanoi-en": {
        "lang": "en", "date": (2019, 2, 28), "story": "hanoi", "sentences": [
            "Donald Trump and Kim Jong-un cut short their summit in Hanoi on Thursday without "
            "a deal on nuclear disarmament.",
            "Trump told reporters in Hanoi that North Korea wanted all sanctions lifted.",
            "The planned lunch at the Metropole hotel in Hanoi was cancelled at short notice.",
            "Ri Yong-ho, North Korea's foreign minister, said Pyongyang had only asked for "
            "partial relief from sanctions.",
            "It was the second meeting between Trump and Kim after Singapore last summer.",
        ]},
    "budget-2017": {
        "lang": "nb", "date": (2017, 11, 22), "sentences": [
            "Regjeringen, KrF og Venstre ble natt til onsdag enige om statsbudsjettet for 2018.",
            "Finansminister Siv Jensen sa at budsjettforliket gir skattelette på 1,5 milliarder.",
            "KrF fikk gjennomslag for økt barnetrygd for de minste barna.",
            "Venstre fikk flere penger til jernbane og klimatiltak i budsjettavtalen.",
            "Forhandlingene på Stortinget trakk ut i flere døgn før partene la fram avtalen.",
            "Tesla-avgiften ble fjernet fra budsjettet etter krav fra Venstre og KrF.",
            "Knut Arild Hareide sa at KrF er fornøyd med resultatet for familiene.",
        ]},
    "budget-2018": {
        "lang": "nb", "date": (2018, 11, 20), "sentences": [
            "Regjeringen og KrF kom tirsdag kveld til enighet om statsbudsjettet for 2019.",
            "Siv Jensen la fram budsjettavtalen med KrF på en pressekonferanse i Stortinget.",
            "KrF fikk gjennomslag for økt engangsstønad og flere kvoteflyktninger.",
            "Avtalen kom etter at KrFs landsmøte hadde stemt for å gå til høyre.",
            "Hans Fredrik Grøvan ledet forhandlingene for KrF i budsjettinnspurten.",
            "Budsjettforliket sikrer at regjeringen Solberg overlever høsten.",
            "Partiene ble enige om å kutte i bistanden mindre enn regjeringen foreslo.",
        ]},
    "storm": {
        "lang": "nb", "date": (2020, 1, 14), "sentences": [
            "Meteorologisk institutt sendte ut rødt farevarsel for ekstremværet Oda på Vestlandet.",
            "Flere hundre husstander i Sogn ble evakuert på grunn av fare for jordskred.",
            "Vindkastene nådde orkan styrke på kysten natt til tirsdag.",
            "Fergene mellom Bergen og Stavanger ble innstilt mens uværet Oda herjet.",
            "NVE advarte mot flom i elvene etter store nedbørsmengder i fjellet.",
            "Statens vegvesen stengte flere fjelloverganger på grunn av snøskred.",
        ]},
}


def _article(key: str, story: str, sentences: list[str], lang: str,
             date: tuple[int, int, int] | None, precision: str = "day") -> Article:
    body = "\n\n".join(sentences)
    published = None
    if date is not None:
        start = datetime(*date, tzinfo=UTC)
        if precision == "year":
            start = start.replace(month=1, day=1)
            end = start.replace(year=start.year + 1)
        elif precision == "month":
            start = start.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            end = start + timedelta(days=1)
        published = PublishedDate(start, end, precision, "text", raw=None)  # type: ignore[arg-type]
    return Article(source="synthetic", source_key=key, body=body, title=sentences[0][:60],
                   language=lang, published=published, content_hash=f"{key}:{hash(body)}",
                   raw={"story": story})


def synthetic_articles(per_story: int = 6, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for name, spec in STORIES.items():
        story = spec.get("story", name)
        for i in range(per_story if spec["lang"] == "nb" else 2):
            k = min(len(spec["sentences"]), rng.randint(4, 6))
            picked = rng.sample(spec["sentences"], k)
            y, m, d = spec["date"]
            day = datetime(y, m, d) + timedelta(days=rng.randint(0, 2))
            undated = i == per_story - 1 and spec["lang"] == "nb"
            out.append(_article(f"{name}-{i}", story, picked, spec["lang"],
                                None if undated else (day.year, day.month, day.day)))
    rng.shuffle(out)
    return out


def insert(conn: psycopg.Connection, articles: list[Article]) -> None:
    with conn.transaction():
        for article in articles:
            upsert_article(conn, article, None)


def partition(conn: psycopg.Connection) -> set[frozenset[str]]:
    rows = conn.execute("SELECT thread_id, source_key FROM thread_articles_v").fetchall()
    groups: dict[int, set[str]] = {}
    for thread_id, key in rows:
        groups.setdefault(thread_id, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def duplicates(conn: psycopg.Connection) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT source_key, duplicate_of_key FROM thread_articles_v "
                        "WHERE is_duplicate").fetchall()
    return {(a, b) for a, b in rows}


def thread_states(conn: psycopg.Connection) -> dict[frozenset[str], tuple]:
    """Each thread's saved clustering state, keyed by its members (ids may differ)."""
    rows = conn.execute(
        "SELECT array_agg(a.source_key ORDER BY a.source_key), v.n, v.keys, v.top_ents, "
        "v.norm_text, v.norm_ents, v.norm_xling, v.norm_epoch, t.label, v.packed, "
        "jsonb_build_array(v.text_tf, v.ents_tf, v.xling_tf, v.langs, v.display) "
        "FROM thread_vectors v JOIN threads t ON t.id = v.thread_id "
        "JOIN thread_articles ta ON ta.thread_id = v.thread_id "
        "JOIN articles a ON a.id = ta.article_id "
        "GROUP BY v.thread_id, t.label").fetchall()
    # The term sums, languages and display forms, as saved, packed (migration 009) or in
    # the jsonb columns of before (their order is not state)
    return {frozenset(r[0]): (*r[1:-2], [sorted(d.items()) for d in (
        msgspec.msgpack.decode(r[-2]) if r[-2] is not None else r[-1])]) for r in rows}


def story_of(key: str) -> str:
    name = key.rsplit("-", 1)[0]
    return STORIES.get(name, {}).get("story", name)


# -- tests -----------------------------------------------------------------------------------------

def test_seeds_form_one_thread_with_duplicate_and_imputed_date(conn: psycopg.Connection) -> None:
    ingest_files(conn, [SEEDS])
    stats = cluster_pending(conn)
    assert stats.assigned == 5 and stats.new_threads == 1
    groups = partition(conn)
    assert len(groups) == 1 and len(next(iter(groups))) == 5
    dups = duplicates(conn)
    assert len(dups) == 1
    (copy, original), = dups
    assert {copy[:3], original[:3]} == {"001", "003"}
    row = conn.execute(
        "SELECT published_at, published_end, published_precision, published_source, "
        "published_note FROM articles WHERE source_key LIKE '001%'").fetchone()
    assert row is not None
    start, end, precision, source, note = row
    assert source == "imputed" and precision == "month" and "thread" in note
    assert (end - start) >= timedelta(days=28)
    label = conn.execute("SELECT label FROM threads").fetchone()
    assert label is not None and ("Kim" in label[0] or "Putin" in label[0])
    # A second run finds nothing to do and changes nothing.
    assert cluster_pending(conn).assigned == 0
    assert partition(conn) == groups


def test_confounders_same_people_other_event_stay_apart(conn: psycopg.Connection) -> None:
    ingest_files(conn, [SEEDS])
    insert(conn, synthetic_articles())
    cluster_pending(conn)
    for group in partition(conn):
        stories = {"seeds" if k[:3].isdigit() else story_of(k) for k in group}
        assert len(stories) == 1, f"merged different events: {sorted(group)}"
    seeds = [g for g in partition(conn) if any(k[:3].isdigit() for k in g)]
    assert len(seeds) == 1 and len(seeds[0]) == 5


def test_cross_language_copy_joins(conn: psycopg.Connection) -> None:
    insert(conn, synthetic_articles())
    cluster_pending(conn)
    hanoi = [g for g in partition(conn) if any(k.startswith("hanoi-en") for k in g)]
    assert any(any(k.startswith("hanoi-") and not k.startswith("hanoi-en") for k in g)
               for g in hanoi), "English Hanoi articles should join the Norwegian thread"


def test_restart_mid_stream_equals_one_run(clean_db: str) -> None:
    params = Params(window_days=10, sweep_every=3)  # sweep often: exercise the reload path
    articles = synthetic_articles(per_story=8, seed=11)
    with psycopg.connect(clean_db) as conn:
        ingest_files(conn, [SEEDS])
        insert(conn, articles)
        cluster_pending(conn, params=params, batch_size=7)
        one_run, one_dups, one_state = partition(conn), duplicates(conn), thread_states(conn)
        one_counters = conn.execute("SELECT n_docs, seq, hwm FROM thread_state").fetchone()
        one_df = conn.execute("SELECT term, df FROM thread_term_df ORDER BY term").fetchall()
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        ingest_files(conn, [SEEDS])
        insert(conn, articles)
        first = cluster_pending(conn, params=params, limit=17, batch_size=5)
        assert first.assigned == 17
    with psycopg.connect(clean_db) as conn:
        # the rest with analysis in a worker process: the same result to the last bit
        rest = cluster_pending(conn, params=params, batch_size=3, worker=True)
        assert rest.worker_peak_mb and rest.worker_peak_mb > 10  # a worker really ran
        assert partition(conn) == one_run
        assert duplicates(conn) == one_dups
        assert thread_states(conn) == one_state  # the saved state too, to the last bit
        assert conn.execute("SELECT n_docs, seq, hwm FROM thread_state").fetchone() == \
            one_counters
        assert conn.execute("SELECT term, df FROM thread_term_df ORDER BY term").fetchall() == \
            one_df


def _on_bench_path() -> None:
    """The benchmarks' stream generators importable (``bench/`` is no package)."""
    bench = str(Path(__file__).resolve().parents[1] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)


def _bench_articles(n: int) -> list[Article]:
    """The benchmark's synthetic stream (many stories at once, shared entities, bursts): the
    IDF epoch moves several times within a few hundred articles, with many threads scored."""
    _on_bench_path()
    from bench_threading import stream_articles

    return list(stream_articles(n))


def test_restart_mid_stream_equals_one_run_on_a_busy_stream(clean_db: str) -> None:
    """Two ways a restarted run drifted from one long run, each found on this stream (the
    small stories above never showed them; the saved state of a third of the threads
    differed):

    - a new IDF epoch refreshes the norms of every thread scored, joined or not. Those of
      threads not joined were not saved, so a restarted run refreshed them again with the
      later counts (restart after 130);
    - the document frequencies of a kept member's keys that its thread had pruned were not
      loaded with the thread, so a split that rejoined the member weighted them as never
      seen (restart after 450)."""
    articles = _bench_articles(800)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        cluster_pending(conn)
        one_run, one_state = partition(conn), thread_states(conn)
    for cut in (130, 450):
        truncate_all(clean_db)
        with psycopg.connect(clean_db) as conn:
            insert(conn, articles)
            assert cluster_pending(conn, limit=cut).assigned == cut
        with psycopg.connect(clean_db) as conn:
            assert cluster_pending(conn).assigned == len(articles) - cut
            assert partition(conn) == one_run
            assert thread_states(conn) == one_state, f"restarted after {cut} articles"


def test_late_article_finds_its_old_thread(conn: psycopg.Connection) -> None:
    params = Params(window_days=10, sweep_every=1)
    arts = synthetic_articles(per_story=6, seed=3)
    late = [a for a in arts if a.source_key == "budget-2017-0"]
    insert(conn, [a for a in arts if a.source_key != "budget-2017-0"])
    cluster_pending(conn, params=params)
    insert(conn, late)
    stats = cluster_pending(conn, params=params)
    assert stats.assigned == 1 and stats.late == 1 and stats.new_threads == 0
    group = next(g for g in partition(conn) if "budget-2017-0" in g)
    assert len(group) > 1 and all(story_of(k) == "budget-2017" for k in group)


def test_articles_behind_a_month_date_fetch_signatures_once_not_each(
        conn: psycopg.Connection) -> None:
    """A month-dated article threaded early in its month puts the high-water mark at the
    month's end, so the day-dated articles of a later run are behind it and their copies'
    originals may be out of memory. Each used to fetch its own week of signatures (a query
    and the week's rows an article; 13 ms an article on the benchmark's stream). The first
    fetch now covers every later article of the run, and the copy at the end still finds
    its original without a fetch of its own."""
    params = Params(dup_span=1)  # signatures stay in memory by date only
    names = list(STORIES)

    def article(key: str, story: str, date: tuple[int, int, int], **kw: str) -> Article:
        spec = STORIES[story]
        return _article(key, story, spec["sentences"][:5], spec["lang"], date, **kw)

    first = [article(f"a{i}", names[i], (2019, 2, 1)) for i in (0, 2, 4)]
    insert(conn, [*first, article("month", names[3], (2019, 2, 1), precision="month")])
    cluster_pending(conn, params=params)
    later = [_article(f"b{i}", "other", [text], "en", (2019, 2, 3)) for i, text in enumerate((
        "The harbour authority in Bergen opened a new ferry terminal for coastal routes.",
        "A museum in Trondheim returned a medieval manuscript lent to a library in Oslo.",
        "Farmers in Rogaland reported the earliest strawberry harvest in forty years."))]
    copy = dataclasses.replace(first[1], source_key="copy", content_hash="copy",
                               published=article("x", names[2], (2019, 2, 5)).published)
    insert(conn, [*later, copy])
    stats = cluster_pending(conn, params=params)
    assert stats.assigned == 4
    assert stats.late == 1  # was 4: one fetch an article
    assert duplicates(conn) == {("copy", "a2")}


def test_a_year_date_does_not_put_the_rest_of_the_year_behind_the_mark(
        conn: psycopg.Connection) -> None:
    """A year-dated article ('2018', to 1 January 2019) threaded in November is ordered by its
    end, so it is the run's last; it used to put the high-water mark at the year's end,
    every article of the next runs came "late" and fetched its threads back one query at a
    time. It now moves the mark no further than a month past its start."""
    budget = STORIES["budget-2018"]["sentences"]
    storm = STORIES["storm"]["sentences"]
    run1 = [_article(f"b{i}", "budget-2018", budget[i:i + 5], "nb", (2018, 11, 20))
            for i in range(3)]
    year = _article("year", "storm", storm[:5], "nb", (2018, 6, 1), precision="year")
    insert(conn, [*run1, year])
    cluster_pending(conn)
    assert store_threads.read_counters(conn)[2] == datetime(2018, 11, 21, tzinfo=UTC)
    insert(conn, [_article(f"n{i}", "budget-2018", budget[i + 2:i + 7], "nb", (2018, 11, 21))
                  for i in range(2)])
    stats = cluster_pending(conn)
    assert stats.assigned == 2 and stats.late == 0  # was 2: the mark sat at 1 January
    group = next(g for g in partition(conn) if "n0" in g)
    assert {"b0", "b1", "b2", "n0", "n1"} <= group


def _years_older(articles: list[Article], years: int) -> list[Article]:
    """``articles`` as another archive ``years`` earlier (new keys, the same texts)."""
    out = []
    for a in articles:
        p = a.published
        if p is not None:
            back = timedelta(days=365 * years)
            p = dataclasses.replace(p, start=p.start - back, end=p.end - back)
        out.append(dataclasses.replace(a, source_key=f"old-{a.source_key}",
                                       content_hash=f"old-{a.content_hash}", published=p))
    return out


def test_an_old_archive_fetches_threads_by_the_window_not_one_article_at_a_time(
        clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive two years older than what is threaded comes in late, article by article.
    Each used to fetch the threads sharing its index keys, a query an article (3,000 such
    articles took 18 s instead of 3). Past ``LATE_ONE_BY_ONE`` a fetch brings back every
    thread of the article's window and the next, and the sweep keeps them while they are
    covered: a few fetches for the archive, and the same threads as one at a time (they
    were not, until a fetch stopped reading back threads merged away in the batch)."""
    from newsthreads.stories import service

    current = _bench_articles(900)
    old = _years_older(current[:600], 2)
    # Small batches and frequent sweeps: the old archive's own threads are saved, swept and
    # needed again while it comes in, in two runs (the second continues the first's threads).
    params = Params(sweep_every=32)

    def run(one_by_one: int) -> tuple[set[frozenset[str]], int]:
        monkeypatch.setattr(service, "LATE_ONE_BY_ONE", one_by_one)
        truncate_all(clean_db)
        with psycopg.connect(clean_db) as conn:
            insert(conn, current)
            cluster_pending(conn, params=params)
            insert(conn, old[:200])
            cluster_pending(conn, params=params, batch_size=50)
            insert(conn, old[200:])
            stats = cluster_pending(conn, params=params, batch_size=50)
            assert stats.assigned == len(old) - 200
            # A late article's fetch used to read back a thread its batch had merged away
            # (deleted only when the batch is written) and join it: saved thread states
            # then counted other members than their assignments (2 threads here).
            assert conn.execute(
                "SELECT count(*) FROM thread_vectors v WHERE v.n <> (SELECT count(*) FROM "
                "thread_articles ta WHERE ta.thread_id = v.thread_id)").fetchone()[0] == 0
            return {g for g in partition(conn) if any(k.startswith("old-") for k in g)}, \
                stats.late

    by_window, late = run(service.LATE_ONE_BY_ONE)
    one_at_a_time, late_before = run(10**9)
    assert by_window == one_at_a_time
    assert late_before > 350  # nearly every old article of the second run fetched
    assert late < 60  # 32 one by one, then by the window, and a signature fetch a sweep


def test_rethread_is_deterministic_and_matches_a_fresh_run(conn: psycopg.Connection) -> None:
    ingest_files(conn, [SEEDS])
    insert(conn, synthetic_articles())
    cluster_pending(conn)
    fresh = partition(conn)
    everything = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    first = rethread(conn, *everything)
    after_first = partition(conn)
    second = rethread(conn, *everything)
    assert partition(conn) == after_first == fresh
    assert first.moved == 0 and second.moved == 0
    assert second.threads_after == first.threads_after
    # A window rethread leaves the rest alone and is repeatable too.
    window = (datetime(2018, 11, 1, tzinfo=UTC), datetime(2018, 12, 1, tzinfo=UTC))
    preview = rethread(conn, *window, dry_run=True)
    assert preview.dry_run and partition(conn) == fresh
    rethread(conn, *window)
    once = partition(conn)
    rethread(conn, *window)
    assert partition(conn) == once
    # The state left behind is usable: new articles still thread.
    extra = _article("budget-2018-extra", "budget-2018", STORIES["budget-2018"]["sentences"][:5],
                     "nb", (2018, 11, 21))
    insert(conn, [extra])
    cluster_pending(conn)
    group = next(g for g in partition(conn) if "budget-2018-extra" in g)
    assert len(group) > 1


def test_undated_article_gets_imputed_span(conn: psycopg.Connection) -> None:
    insert(conn, synthetic_articles())
    cluster_pending(conn)
    rows = conn.execute(
        "SELECT a.source_key, a.published_source, a.published_note, ta.thread_id "
        "FROM articles a JOIN thread_articles ta ON ta.article_id = a.id "
        "WHERE a.source_key LIKE '%-5'").fetchall()
    assert rows
    for key, source, note, thread_id in rows:
        assert source == "imputed", key
        assert f"thread {thread_id}" in note


def test_concurrent_runs_assign_each_article_once(clean_db: str) -> None:
    articles = synthetic_articles(per_story=10, seed=5)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(clean_db) as conn:
                results.append(cluster_pending(conn, batch_size=4).assigned)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    assert sum(results) == len(articles)
    with psycopg.connect(clean_db) as conn:
        count = conn.execute("SELECT count(*), count(DISTINCT article_id) "
                             "FROM thread_articles").fetchone()
        assert count == (len(articles), len(articles))
        state = conn.execute("SELECT n_docs, seq FROM thread_state").fetchone()
        assert state == (len(articles), len(articles))


@pytest.mark.parametrize("dry_run", [True, False])
def test_rethread_empty_window(conn: psycopg.Connection, dry_run: bool) -> None:
    result = rethread(conn, datetime(2001, 1, 1, tzinfo=UTC), datetime(2001, 2, 1, tzinfo=UTC),
                      dry_run=dry_run)
    assert result.articles == 0 and result.moved == 0


def pending_rows(conn: psycopg.Connection, seed: int) -> list[store_threads.ArticleRow]:
    """Synthetic articles stored, as the rows threading reads."""
    insert(conn, synthetic_articles(per_story=2, seed=seed))
    ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id").fetchall()]
    return store_threads.still_pending(conn, ids)


def test_worker_analysis_is_used_only_for_unchanged_rows(conn: psycopg.Connection) -> None:
    """The prefetcher's items equal in-process analysis, and a row that changed after it was
    sent to the worker (an edit, another run) is analysed again here."""
    rows = pending_rows(conn, seed=3)
    prefetch = Prefetcher(enabled=True)
    try:
        prefetch.submit(rows)
        edited = [dataclasses.replace(rows[0], body=rows[0].body + " Nytt avsnitt om flom.")]
        got = prefetch.items(edited + rows[1:])
    finally:
        prefetch.close()
    want = [item_from_row(r) for r in edited + rows[1:]]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.features.terms == w.features.terms and g.start == w.start
        assert g.shingle_count == w.shingle_count
        assert g.minhash is not None and w.minhash is not None
        assert list(g.minhash.hashvalues) == list(w.minhash.hashvalues)
    assert got[0].shingles is None  # analysed here, not taken from the worker
    assert got[1].shingles is not None  # the worker's light form
    assert prefetch.counted is None  # the worker's counts are not this batch's


@pytest.mark.parametrize("fewer", [False, True])
def test_worker_counts_are_used_only_for_the_batch_it_analysed(conn: psycopg.Connection,
                                                              fewer: bool) -> None:
    """The worker also counts the batch's document-frequency keys; the counts are used
    when it analysed exactly the rows of the batch (every one unchanged, none missing),
    and equal the count made here."""
    from newsthreads.stories.items import keys_counted

    rows = pending_rows(conn, seed=3)
    prefetch = Prefetcher(enabled=True)
    try:
        prefetch.submit(rows)
        batch = rows[1:] if fewer else rows  # one left the queue since it was sent
        got = prefetch.items(batch)
    finally:
        prefetch.close()
    if fewer:
        assert prefetch.counted is None
    else:
        assert prefetch.counted == keys_counted([item_from_row(r) for r in rows])
        assert prefetch.counted == keys_counted(got)


def test_forgetting_document_frequencies_changes_nothing(clean_db: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded by forgetting counts no active thread holds (they are in the
    database); the threads and the saved state are the same as when everything is kept."""
    from newsthreads.stories import cluster, service

    articles = synthetic_articles(per_story=8, seed=5)
    params = Params(window_days=10, sweep_every=3, undated_span=4, dup_span=4)

    def run() -> tuple:
        truncate_all(clean_db)
        with psycopg.connect(clean_db) as conn:
            insert(conn, articles)
            cluster_pending(conn, params=params, batch_size=6)
            return partition(conn), duplicates(conn), thread_states(conn)

    kept = run()
    forgotten: list[int] = []
    real = cluster.State.forget_df

    def counting(self: cluster.State, keep: Iterable[str] = ()) -> int:
        forgotten.append(real(self, keep))
        return forgotten[-1]

    monkeypatch.setattr(service, "DF_KEEP_MIN", 1)
    # journalled increments are never forgotten (the table lacks them until added): add
    # them every 2 batches, so keys really leave memory, some while others are journalled
    monkeypatch.setattr(service, "DF_FOLD_EVERY", 2)
    monkeypatch.setattr(cluster.State, "forget_df", counting)
    assert run() == kept
    assert sum(forgotten) > 0  # terms were really dropped and loaded back


def test_forgetting_keeps_the_counts_of_kept_members_keys() -> None:
    """A small thread's member may hold a key its thread's sums have pruned away; a split
    rejoins that member with the key's IDF, so its count must stay (forgotten, the IDF would
    be computed from a count of 0 until something loaded it back)."""
    from newsthreads.stories.analyse import Features
    from newsthreads.stories.cluster import Member, State, Thread

    def features(terms: dict[str, float]) -> Features:
        return Features(language="en", terms=terms, entities={"@kim": 1.0}, xling={},
                        display={}, title_terms=(), shingles=frozenset(), tokens=3)

    state = State(df={"summit": 4, "vladivostok": 2, "@kim": 5, "other": 9},
                  df_loader=lambda terms: {})
    thread = Thread(id=1, created_seq=1, last_seq=1, n=1, text={"summit": 1.0},
                    ents={"@kim": 1.0})
    thread.members = [Member(7, features({"summit": 0.6, "vladivostok": 0.8}), vec={})]
    state.add_thread(thread)
    assert state.forget_df(keep=["other"]) == 0  # "other": in the batch being written
    assert state.forget_df() == 1
    assert state.df == {"summit": 4, "vladivostok": 2, "@kim": 5}


def _reloaded_counts(url: str, articles: list[Article], monkeypatch: pytest.MonkeyPatch,
                     batch_size: int, fold_every: int, delay: float,
                     params: Params | None = None) -> list[tuple[str, int, int]]:
    """Run with counts forgotten as soon as possible, every batch's commit delayed by
    ``delay`` and the journal added every ``fold_every`` batches; returns (key, count when
    dropped, count when loaded back) for every count that came back from the database."""
    import time

    from newsthreads.stories import cluster, service, writeback

    dropped: dict[str, int] = {}
    reloaded: list[tuple[str, int, int]] = []
    forget, load, write = (cluster.State.forget_df, cluster.State._load_df,
                           writeback.write_batch)

    def forgetting(self: cluster.State, keep: Iterable[str] = ()) -> int:
        before = dict(self.df)
        n = forget(self, keep)
        dropped.update({t: c for t, c in before.items() if t not in self.df})
        return n

    def loading(self: cluster.State, absent: list[str]) -> None:
        load(self, absent)
        reloaded.extend((t, dropped.pop(t), self.df[t]) for t in absent if t in dropped)

    def slow_write(conn: psycopg.Connection, batch: writeback.Batch) -> int:
        time.sleep(delay)
        return write(conn, batch)

    monkeypatch.setattr(service, "DF_KEEP_MIN", 1)
    monkeypatch.setattr(service, "DF_FOLD_EVERY", fold_every)
    monkeypatch.setattr(cluster.State, "forget_df", forgetting)
    monkeypatch.setattr(cluster.State, "_load_df", loading)
    monkeypatch.setattr(writeback, "write_batch", slow_write)
    with psycopg.connect(url) as conn:
        insert(conn, articles)
        cluster_pending(conn, params=params, batch_size=batch_size, worker=False)
    return reloaded


def test_forgotten_counts_come_back_equal_while_a_batch_is_being_written(
        clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is bounded without waiting for the batch in flight: counts it increments are
    kept, the rest come back from the database. With a slow writer (every batch takes
    0.3 s to commit), each count loaded back must be the one that was dropped: a count of the
    uncommitted batch, forgotten, would come back without that batch's increments."""
    params = Params(window_days=10, sweep_every=3, undated_span=4, dup_span=4)
    reloaded = _reloaded_counts(clean_db, synthetic_articles(per_story=8, seed=5), monkeypatch,
                                batch_size=6, fold_every=2, delay=0.3, params=params)
    assert reloaded  # counts were dropped while batches were in flight, and loaded back
    assert [(t, was) for t, was, now in reloaded if was != now] == []


def test_journalled_counts_are_not_forgotten(clean_db: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts whose increments are still in the journal (sql/010_df_journal.sql) are not in
    ``thread_term_df`` yet: forgotten, they would come back short. On the benchmark's busy
    stream (keys pruned from big threads leave memory), every count loaded back is the one
    that was dropped, with several batches journalled at a time."""
    reloaded = _reloaded_counts(clean_db, _bench_articles(600), monkeypatch, batch_size=40,
                                fold_every=5, delay=0.0)
    assert len(reloaded) > 100
    assert [(t, was) for t, was, now in reloaded if was != now] == []


def _cluster_in_daemon(url: str) -> None:
    with psycopg.connect(url) as conn:
        stats = cluster_pending(conn, batch_size=4, worker=True)
        assert stats.worker_peak_mb  # a daemonic process may start a plain subprocess


def test_clustering_in_a_daemonic_process_gives_the_same_threads(clean_db: str) -> None:
    """A Celery prefork child is daemonic (no multiprocessing children allowed): the worker,
    a plain subprocess, still runs there, and the threads are those of an in-process run."""
    import multiprocessing

    articles = synthetic_articles(per_story=3, seed=9)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        cluster_pending(conn, batch_size=4, worker=False)
        direct = partition(conn)
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
    child = multiprocessing.get_context("spawn").Process(
        target=_cluster_in_daemon, args=(clean_db,), daemon=True)
    child.start()
    child.join(120)
    assert child.exitcode == 0
    with psycopg.connect(clean_db) as conn:
        assert partition(conn) == direct


def test_a_killed_worker_costs_time_not_results(conn: psycopg.Connection) -> None:
    import os
    import signal

    rows = pending_rows(conn, seed=4)
    prefetch = Prefetcher(enabled=True)
    try:
        prefetch.submit(rows)
        assert prefetch._proc is not None
        os.kill(prefetch._proc.pid, signal.SIGKILL)
        got = prefetch.items(rows)
        assert not prefetch.active  # given up on, not retried
    finally:
        prefetch.close()
    assert [g.features.terms for g in got] == [item_from_row(r).features.terms for r in rows]


def test_an_unguarded_script_is_not_run_again_by_the_worker(clean_db: str,
                                                           tmp_path: Path) -> None:
    """A user's script without ``if __name__ == "__main__"`` that clusters: the worker must
    not re-execute it (multiprocessing's spawn and forkserver would)."""
    import subprocess
    import sys

    with psycopg.connect(clean_db) as conn:
        insert(conn, synthetic_articles(per_story=2, seed=6))
    runs = tmp_path / "runs.txt"
    script = tmp_path / "cluster_script.py"
    script.write_text(
        "import psycopg\n"
        "from newsthreads.stories.service import cluster_pending\n"
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        f"with psycopg.connect({clean_db!r}) as conn:\n"
        "    print(cluster_pending(conn, batch_size=3, worker=True).assigned)\n",
        encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) > 0
    assert runs.read_text(encoding="utf-8") == "ran\n"


def test_state_tables_are_vacuumed_and_runs_leave_the_connection_idle(
        conn: psycopg.Connection) -> None:
    """Each batch rewrites thousands of document-frequency rows; with autovacuum off (as on
    this machine's server) or lagging they bloat unless the run vacuums them, which it can
    only do between transactions: so ingest and clustering must not leave one open."""
    import time

    from psycopg.pq import TransactionStatus

    ingest_files(conn, [SEEDS])
    assert conn.info.transaction_status == TransactionStatus.IDLE
    insert(conn, synthetic_articles(per_story=3, seed=8))
    assert cluster_pending(conn, batch_size=2).batches >= 5
    assert conn.info.transaction_status == TransactionStatus.IDLE
    with conn.transaction():
        assert store_threads.vacuum_state(conn) is False  # never inside a transaction
    deadline = time.monotonic() + 10
    while True:  # statistics reach pg_stat_user_tables a moment after the fact
        with conn.transaction():
            conn.execute("SELECT pg_stat_clear_snapshot()")
            vacuums = conn.execute("SELECT vacuum_count FROM pg_stat_user_tables "
                                   "WHERE relname = 'thread_term_df'").fetchone()[0]
        if vacuums or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert vacuums >= 1


# -- batches written in the background (stories/writeback.py) ------------------------------------

_POISON = """
CREATE FUNCTION test_refuse_article() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.article_id = current_setting('test.refuse')::bigint THEN
        RAISE EXCEPTION 'refused by the test: article %', NEW.article_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse BEFORE INSERT ON thread_articles
    FOR EACH ROW EXECUTE FUNCTION test_refuse_article();
"""


def test_a_failed_background_write_stops_the_run_and_the_next_continues(clean_db: str) -> None:
    """A batch the writer cannot commit (here a trigger refuses one article mid-stream) stops
    the run with the server's error; the batches before it stay committed, the lock and the
    writer's connection are gone, and the next run ends where one long run would have."""
    articles = synthetic_articles(per_story=8, seed=12)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        cluster_pending(conn, batch_size=4)
        one_run, one_state = partition(conn), thread_states(conn)
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        refused = store_threads.pending_ids(conn)[len(articles) // 2]
        conn.execute(_POISON)
        conn.commit()
    with psycopg.connect(clean_db, options=f"-c test.refuse={refused}") as conn:
        # the option reaches the writer's connection too: it is opened with conn's settings
        with pytest.raises(psycopg.errors.RaiseException, match="refused by the test"):
            cluster_pending(conn, batch_size=4)
        done = conn.execute("SELECT count(*) FROM thread_articles").fetchone()[0]
        assert 0 < done < len(articles)
        assert done % 4 == 0 or done % 4 == len(articles) % 4  # whole batches only
        # this database's only: another run on the same server (another test session, a
        # benchmark) holds its own
        assert conn.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = "
                            "l.database WHERE l.locktype = 'advisory' AND d.datname = "
                            "current_database()").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name"
                            " = 'newsthreads-writer' AND datname = current_database()"
                            ).fetchone()[0] == 0
        conn.execute("DROP TRIGGER test_refuse ON thread_articles")
        conn.commit()
    with psycopg.connect(clean_db) as conn:
        rest = cluster_pending(conn, batch_size=4)
        assert rest.assigned == len(articles) - done
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state


def test_a_second_run_waits_for_the_first_and_says_so(clean_db: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    articles = synthetic_articles(per_story=3, seed=13)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
    with psycopg.connect(clean_db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (store_threads.CLUSTER_LOCK_KEY,))
        result: list[int] = []

        def run() -> None:
            with psycopg.connect(clean_db) as conn:
                result.append(cluster_pending(conn, batch_size=4).assigned)

        with caplog.at_level("INFO", logger="newsthreads.store.threads"):
            waiting = threading.Thread(target=run)
            waiting.start()
            waiting.join(timeout=2)
            assert waiting.is_alive() and not result  # it waits for the lock holder
            with psycopg.connect(clean_db) as conn:
                assert conn.execute("SELECT count(*) FROM thread_articles").fetchone()[0] == 0
            holder.execute("SELECT pg_advisory_unlock(%s)", (store_threads.CLUSTER_LOCK_KEY,))
            waiting.join(timeout=60)
    assert result == [len(articles)]
    assert "waiting for another clustering run" in caplog.text


# -- split repair: two events of one kind, undated ---------------------------------------------

FIRE_COMMON = [
    "A cargo ship caught fire in the harbour and the crew was rescued by the coast guard.",
    "Firefighters fought the blaze on the cargo ship for several hours before it was under "
    "control.",
    "The harbour was closed to traffic while the fire on the ship burned.",
    "The coast guard said the crew had been taken to hospital with minor injuries.",
    "Investigators will examine the engine room, where the fire is believed to have started.",
    "Thick black smoke from the burning ship could be seen across the harbour.",
]
FIRES = {
    "kestrel": [
        "The freighter Albatross Star was moored at Kestrel Bay when the fire broke out in 2013.",
        "Captain Imre Valdano said all 14 sailors left the Albatross Star safely.",
        "Kestrel Bay port director Hanna Morrow praised the firefighters of 2013.",
        "The Albatross Star was carrying 3200 tonnes of timber to Kestrel Bay.",
        "Residents of Kestrel Bay were told in 2013 to keep windows shut because of the smoke.",
    ],
    "moorvik": [
        "The tanker Nordic Lynx was unloading in Moorvik when flames were seen on deck in 2008.",
        "Captain Sofia Brandt said the 22 crew members of the Nordic Lynx were unhurt.",
        "Moorvik harbour master Olek Traum closed the northern basin in 2008.",
        "The Nordic Lynx had arrived in Moorvik with 870 containers from Rotterdam.",
        "In 2008 schools in Moorvik kept children indoors because of the smoke.",
    ],
}


def fire_texts(seed: int, per_event: int = 8) -> list[tuple[str, str, str]]:
    """(key, event, text): two harbour fires told with the same generic sentences, apart only
    in who, where, how many and the year (what an undated split needs besides names); undated,
    in a shuffled order."""
    rng = random.Random(seed)
    out = []
    for event, pool in FIRES.items():
        for i in range(per_event):
            out.append((f"{event}-{i}", event,
                        " ".join(rng.sample(FIRE_COMMON, 2) + rng.sample(pool, 3))))
    rng.shuffle(out)
    return out


def assert_index_matches_threads(state: State) -> None:
    """The inverted index holds each thread in memory under its keys, with its creation
    (candidates are ranked by it without looking the threads up), and nothing else."""
    held = {(key, tid, created) for key, posting in state.index.items()
            for tid, created in posting.items()}
    assert held == {(key, t.id, t.created_seq) for t in state.threads.values()
                    for key in t.keys}
    assert all(state.index.values())  # no empty postings left behind


def _fire_partition(seed: int, params: Params) -> tuple[set[frozenset[str]], int]:
    from newsthreads.stories.cluster import Clusterer, State
    from newsthreads.stories.items import item_from_fields

    clusterer = Clusterer(State(), params=params)
    texts = fire_texts(seed)
    thread_of = {}
    for n, (_, _, text) in enumerate(texts, 1):
        item = item_from_fields(n, title=None, lead=None, body=text, language="en", start=None,
                                end=None)
        thread_of[n] = clusterer.assign(item).thread_id
    thread_of.update(clusterer.moves)  # members a split moved
    assert_index_matches_threads(clusterer.state)
    groups: dict[int, set[str]] = {}
    for n, (_, event, _) in enumerate(texts, 1):
        groups.setdefault(thread_of[n], set()).add(f"{event}-{n}")
    return {frozenset(g) for g in groups.values()}, clusterer.splits


@pytest.mark.parametrize("seed", [9, 11])
def test_split_repair_undoes_a_wrong_early_join(seed: int) -> None:
    def pure(partition: set[frozenset[str]]) -> bool:
        return all(len({k.split("-")[0] for k in g}) == 1 for g in partition)

    merged, _ = _fire_partition(seed, Params(split_max=0))
    assert not pure(merged)  # without the repair the two fires share a thread
    repaired, splits = _fire_partition(seed, Params())
    assert splits >= 1 and pure(repaired)
    assert len(repaired) == 2  # the parts found their own event's thread again


def test_split_repair_keeps_one_story_in_two_languages_together() -> None:
    from newsthreads.stories.cluster import Clusterer, Member, State, Thread, canonical
    from newsthreads.stories.items import item_from_fields

    members = []
    for n, spec in enumerate((STORIES["hanoi"], STORIES["hanoi"], STORIES["hanoi-en"],
                              STORIES["hanoi-en"]), 1):
        text = " ".join(spec["sentences"][n % 2::2])
        item = item_from_fields(n, title=None, lead=None, body=text, language=spec["lang"],
                                start=None, end=None)
        members.append(Member(n, canonical(item.features), {f"@{spec['lang']}": 1.0}, seq=n))
    # members alike within a language and unlike across: only the language guard stands
    # between this thread and a split by language
    state = State()
    thread = Thread(id=1, created_seq=1, last_seq=4, n=4, members=members)
    state.add_thread(thread)
    # (undated and naming no years: the untimed rule would hold them together too)
    unguarded = Params(split_lang=0.0, split_untimed_years=False)
    assert Clusterer(state, params=unguarded).split(thread)  # unguarded: split
    thread = Thread(id=1, created_seq=1, last_seq=4, n=4, members=members)
    clusterer = Clusterer(State(), params=Params(split_untimed_years=False))
    clusterer.state.add_thread(thread)
    assert clusterer.split(thread) == {}
    assert clusterer._separable(members[:2], members[2:]) is False


def _fire_item(n: int, event: str, seed: int = 5):
    from newsthreads.stories.items import item_from_fields

    rng = random.Random(seed * 100 + n)
    text = " ".join(rng.sample(FIRE_COMMON, 2) + rng.sample(FIRES[event], 3))
    return item_from_fields(n, title=None, lead=None, body=text, language="en", start=None,
                            end=None)


def _two_threads_then_join(first: str, second: str, params: Params) -> dict[int, int]:
    """Articles 1-2 of ``first`` in one thread, 3-4 of ``second`` in another; article 5 (of
    ``first``) joins the second thread while also reaching the threshold with the first."""
    from newsthreads.stories.cluster import Clusterer, Decision, State

    clusterer = Clusterer(State(), params=params)
    thread_of: dict[int, int] = {}
    for n, event in ((1, first), (2, first), (3, second), (4, second)):
        item = _fire_item(n, event)
        clusterer.begin(item)
        target = thread_of.get(n - 1) if n in (2, 4) else None
        if target is None:
            target = clusterer.new_thread().id
        thread_of[n] = clusterer.finish(item, Decision(n, target, target != thread_of.get(
            n - 1)))
    item = _fire_item(5, first)
    clusterer.begin(item)
    clusterer._also = [thread_of[1]]  # the other thread the article reached the threshold with
    thread_of[5] = clusterer.finish(item, Decision(5, thread_of[3], False))
    thread_of.update(clusterer.moves)
    assert_index_matches_threads(clusterer.state)
    return thread_of


def test_rejoin_merges_a_story_told_in_two_threads() -> None:
    # one story that had opened two threads: the article that reaches both joins them
    same = _two_threads_then_join("kestrel", "kestrel", Params())
    assert len(set(same.values())) == 1
    assert len(set(_two_threads_then_join("kestrel", "kestrel",
                                          Params(rejoin_ratio=0.0)).values())) == 2
    # two events of one kind (other ship, port, people, figures): no merge
    other = _two_threads_then_join("kestrel", "moorvik", Params())
    assert other[1] == other[2] != other[3] == other[4]


def test_split_repair_compares_members_on_entities_and_years() -> None:
    from newsthreads.stories.cluster import Clusterer, Member, State, _years_apart, canonical
    from newsthreads.stories.items import item_from_fields

    def member(n: int, text: str) -> Member:
        item = item_from_fields(n, title=None, lead=None, body=text, language="en",
                                start=None, end=None)
        return Clusterer(State()).member(item)

    a = member(1, "Harbour fire. The Albatross Star burned at Kestrel Bay in 2013.")
    b = member(2, "Harbour fire. The Nordic Lynx burned at Moorvik in 2008.")
    assert all(t.startswith("@") for t in a.names_vec())
    assert abs(sum(w * w for w in a.names_vec().values()) - 1.0) < 1e-9
    clusterer = Clusterer(State(), params=Params(split_on="entities"))
    assert clusterer._msim(a, b) < Clusterer(State(), params=Params(split_on="all"))._msim(a, b)
    old = [member(3, "Fire in the port in 2008, said Olek Traum."),
           member(4, "The 2008 fire closed the basin.")]
    new = [member(5, "Fire in the port on 17 September 2013."),
           member(6, "The fire of 2013 closed the basin, as in 2008.")]
    assert _years_apart(old, new, 0.25)  # half of the new ones write 2013, none of the old
    assert not _years_apart(old, [member(7, "The 2008 fire."), member(8, "A fire.")], 0.25)
    assert not _years_apart([member(9, "A fire.")], [member(10, "Another fire.")], 0.25)
    assert isinstance(canonical(a.features), type(a.features))


def fire_articles() -> list[Article]:
    """Two same-kind events whose first articles join wrongly: the split repair at work."""
    out = []
    for seed in (9, 11):
        for key, event, text in fire_texts(seed):
            out.append(_article(f"s{seed}-{key}", event, text.split(". "), "en", None))
    return out


def test_restart_with_split_repair_equals_one_run(clean_db: str) -> None:
    params = Params(sweep_every=4)
    with psycopg.connect(clean_db) as conn:
        insert(conn, fire_articles())
        one = cluster_pending(conn, params=params, batch_size=5)
        one_run, one_state = partition(conn), thread_states(conn)
        kept = conn.execute("SELECT count(*) FROM thread_member_features").fetchone()
    assert one.splits >= 1 and one.moved >= 1 and one.merges >= 1
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        insert(conn, fire_articles())
        cluster_pending(conn, params=params, limit=13, batch_size=5)
    with psycopg.connect(clean_db) as conn:
        cluster_pending(conn, params=params, batch_size=5)
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state
        assert conn.execute("SELECT count(*) FROM thread_member_features").fetchone() == kept
        # no thread is left without members by a merge
        assert conn.execute("SELECT count(*) FROM threads t WHERE NOT EXISTS (SELECT 1 FROM "
                            "thread_articles ta WHERE ta.thread_id = t.id)").fetchone() == (0,)


def test_members_of_threads_past_the_window_are_let_go(clean_db: str) -> None:
    """The split repair keeps small threads' members in ``thread_member_features`` (and in
    memory); once a thread is past ``member_span`` articles or can no longer be joined in
    order, they go, so both are bounded by the recent stream, not the archive.
    Restart-equivalence holds all the same."""
    params = Params(window_days=10, sweep_every=3, undated_span=6, member_span=4)
    articles = synthetic_articles(per_story=8, seed=14)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        cluster_pending(conn, params=params, batch_size=5)
        one_run, one_state = partition(conn), thread_states(conn)
        n_docs, seq, hwm = conn.execute("SELECT n_docs, seq, hwm FROM thread_state").fetchone()
        horizon = hwm - timedelta(days=params.window_days + 32)
        stale = conn.execute(
            "SELECT count(*) FROM thread_member_features f JOIN thread_articles ta USING "
            "(article_id) JOIN thread_vectors v ON v.thread_id = ta.thread_id "
            "WHERE v.last_seq <= %s OR (v.last_seq <= %s AND (v.last_end IS NULL "
            "OR v.last_end < %s))",
            (seq - params.member_span, seq - params.undated_span, horizon)).fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM thread_member_features").fetchone()[0]
        assert stale == 0
        assert 0 < kept < len(articles)
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
        cluster_pending(conn, params=params, limit=23, batch_size=4)
    with psycopg.connect(clean_db) as conn:
        cluster_pending(conn, params=params, batch_size=6)
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state


def test_untimed_parts_split_only_when_they_name_different_years() -> None:
    """Two undated harbour fires apart in names only (no year written): the split repair
    holds them together unless told to split on names alone; with a year each (2013, 2008)
    it splits them."""
    from newsthreads.stories.cluster import Clusterer, State, Thread
    from newsthreads.stories.items import item_from_fields

    def thread_of(texts: list[str], params: Params) -> tuple[Clusterer, Thread]:
        clusterer = Clusterer(State(), params=params)
        thread = Thread(id=1, created_seq=1, last_seq=len(texts))
        clusterer.state.add_thread(thread)
        for n, text in enumerate(texts, 1):
            item = item_from_fields(n, title=None, lead=None, body=text, language="en",
                                    start=None, end=None)
            clusterer.join(thread, item)
            thread.members.append(clusterer.member(item))
        return clusterer, thread

    def texts(year_k: str, year_m: str) -> list[str]:
        k, m = FIRES["kestrel"], FIRES["moorvik"]
        strip = str.maketrans("", "", "0123456789")
        def told(pool: list[str], year: str, i: int) -> str:
            picked = [pool[(i + j) % 5].translate(strip).replace(" of .", ".")
                      .replace(" in .", ".") for j in range(3)]
            return " ".join([FIRE_COMMON[i % 6], *picked]) + (f" It was {year}." if year else "")
        return [told(k, year_k, 0), told(k, year_k, 1), told(m, year_m, 0), told(m, year_m, 1)]

    untimed = texts("", "")
    clusterer, thread = thread_of(untimed, Params())
    assert clusterer.split(thread) == {}
    clusterer, thread = thread_of(untimed, Params(split_untimed_years=False))
    assert clusterer.split(thread)  # names alone would have split them
    clusterer, thread = thread_of(texts("2013", "2008"), Params())
    assert clusterer.split(thread)


def loaded(conn: psycopg.Connection, params: Params) -> dict[int, tuple]:
    """The threads a run starts from, as ``load_state`` reads them: sums, languages,
    display forms and the kept members of small threads."""
    from newsthreads.stories.service import load_state

    with conn.transaction():
        state = load_state(conn, params)
    return {t.id: (sorted(t.text.items()), sorted(t.ents.items()), sorted(t.xling.items()),
                   t.langs, t.display, [(m.article_id, m.vec, m.features) for m in t.members])
            for t in state.threads.values()}


def test_state_saved_before_packing_is_read_back_the_same(clean_db: str) -> None:
    """Migration 009 packs thread sums and members' features (msgpack in ``packed``); rows
    written before it keep their jsonb columns. A run that continues from such rows makes
    the decisions and saves the state of one long run, and rewrites what it touches packed."""
    params = Params(sweep_every=4)
    with psycopg.connect(clean_db) as conn:
        insert(conn, fire_articles())
        cluster_pending(conn, params=params, batch_size=5)
        one_run, one_state = partition(conn), thread_states(conn)
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        insert(conn, fire_articles())
        cluster_pending(conn, params=params, limit=13, batch_size=5)
        packed_state = loaded(conn, params)
        assert any(members for *_, members in packed_state.values())
        # as the code before 009 wrote them: jsonb columns, nothing packed
        for thread_id, packed in conn.execute(
                "SELECT thread_id, packed FROM thread_vectors").fetchall():
            text, ents, xling, langs, display = msgspec.msgpack.decode(packed)
            conn.execute("UPDATE thread_vectors SET text_tf = %s, ents_tf = %s, xling_tf = %s,"
                         " langs = %s, display = %s, packed = NULL WHERE thread_id = %s",
                         (Jsonb(text), Jsonb(ents), Jsonb(xling), Jsonb(langs), Jsonb(display),
                          thread_id))
        for article_id, packed in conn.execute(
                "SELECT article_id, packed FROM thread_member_features").fetchall():
            conn.execute("UPDATE thread_member_features SET features = %s, packed = NULL "
                         "WHERE article_id = %s", (Jsonb(msgspec.msgpack.decode(packed)),
                                                   article_id))
        conn.commit()
        assert loaded(conn, params) == packed_state  # threads and members read back equal
    with psycopg.connect(clean_db) as conn:
        cluster_pending(conn, params=params, batch_size=5)
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state
        touched = conn.execute("SELECT count(*) FILTER (WHERE packed IS NOT NULL), count(*) "
                               "FROM thread_vectors").fetchone()
        assert touched is not None and 0 < touched[0]


def test_parts_of_six_naming_different_years_split_at_a_looser_ratio() -> None:
    """Two undated events of one kind that name the same things (the same port, agency and
    ship type) and different years: mutual similarity 0.7 × each part's own, above the
    years ratio (0.6). With six members a side the gap is measured well enough to split
    (``split_ratio_many``); with three a side, or without the rule, it is not."""
    from newsthreads.stories.cluster import Clusterer, Member, State, Thread, canonical
    from newsthreads.stories.items import item_from_fields

    shared, own, alone = math.sqrt(0.35), math.sqrt(0.15), math.sqrt(0.5)

    def members(per_event: int) -> list[Member]:
        out = []
        for i in range(2 * per_event):
            event, year = ("kestrel", 2013) if i % 2 == 0 else ("moorvik", 2008)
            n = i + 1
            item = item_from_fields(n, title=None, lead=None, language="en", start=None,
                                    end=None, body=f"A harbour fire. It was {year}.")
            # cosine within an event 0.35 + 0.15 = 0.5, across 0.35: ratio 0.7
            vec = {"@port": shared, f"@{event}": own, f"@own{n}": alone}
            out.append(Member(n, canonical(item.features), vec, seq=n))
        return out

    def split(per_event: int, params: Params) -> dict[int, int]:
        ms = members(per_event)
        clusterer = Clusterer(State(), params=params)
        thread = Thread(id=1, created_seq=1, last_seq=len(ms), n=len(ms), members=ms)
        clusterer.state.add_thread(thread)
        return clusterer.split(thread)

    moved = split(6, Params())
    assert sorted(moved) == [2, 4, 6, 8, 10, 12]  # the 2008 event opens its own thread
    assert split(6, Params(split_many=0)) == {}  # the years ratio alone holds them
    assert split(3, Params()) == {}  # three a side: not enough to tell


def test_a_batch_reads_again_only_the_rows_that_changed_since_the_worker_got_them(
        conn: psycopg.Connection) -> None:
    """The rows read for the worker are the batch's rows when their version is unchanged;
    an edited row is read again, a threaded or deleted one is left out, order is kept."""
    from newsthreads.stories.service import current_rows

    pending_rows(conn, seed=3)
    ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id").fetchall()][:6]
    read = {row.id: (version, row)
            for version, row in store_threads.still_pending_versioned(conn, ids)}
    assert list(read) == ids
    edited, threaded, deleted = ids[1], ids[2], ids[3]
    conn.execute("UPDATE articles SET body = body || ' Nytt avsnitt.' WHERE id = %s", (edited,))
    conn.execute("UPDATE articles SET language = language WHERE id = %s", (ids[4],))  # no edit
    thread = conn.execute("INSERT INTO threads DEFAULT VALUES RETURNING id").fetchone()
    assert thread is not None
    conn.execute("INSERT INTO thread_articles (thread_id, article_id) VALUES (%s, %s)",
                 (thread[0], threaded))
    conn.execute("DELETE FROM articles WHERE id = %s", (deleted,))

    rows = current_rows(conn, list(reversed(ids)), read)
    assert [r.id for r in rows] == [i for i in reversed(ids) if i not in (threaded, deleted)]
    by_id = {r.id: r for r in rows}
    assert by_id[edited].body.endswith(" Nytt avsnitt.")
    assert by_id[edited] != read[edited][1]
    assert by_id[ids[0]] is read[ids[0]][1]  # not read again
    assert by_id[ids[4]] == read[ids[4]][1] and by_id[ids[4]] is not read[ids[4]][1]
    assert rows == store_threads.still_pending(conn, list(reversed(ids)))
    assert current_rows(conn, ids, {}) == store_threads.still_pending(conn, ids)


def test_counts_left_in_the_journal_are_added_before_any_is_read(
        conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that died between two additions leaves its batches' increments in the journal;
    the next clustering run, or a rethread, adds them before reading a count. A run with
    nothing pending adds them without loading the state (a scheduled run with nothing new
    took 1.4 s on a 10,000-article archive, 2.6 s on 40,000, loading it)."""
    from newsthreads.stories import service

    insert(conn, synthetic_articles())
    cluster_pending(conn)

    def no_load(*args: object) -> None:
        raise AssertionError("a run with nothing pending loaded the state")

    monkeypatch.setattr(service, "load_state", no_load)
    assert conn.execute("SELECT count(*) FROM thread_df_journal").fetchone()[0] == 0
    df = dict(conn.execute("SELECT term, df FROM thread_term_df").fetchall())
    term = next(iter(df))
    with conn.transaction():
        store_threads.journal_df(conn, 10**9, store_threads.df_params({term: 2, "zz-new": 1}))
    assert cluster_pending(conn).assigned == 0  # nothing pending: it adds them all the same
    assert store_threads.read_df(conn, [term, "zz-new"]) == {term: df[term] + 2, "zz-new": 1}
    assert conn.execute("SELECT count(*) FROM thread_df_journal").fetchone()[0] == 0
    with conn.transaction():
        store_threads.journal_df(conn, 10**9, store_threads.df_params({term: 3}))
    rethread(conn, datetime(1990, 1, 1, tzinfo=UTC), datetime(1990, 1, 2, tzinfo=UTC))
    assert store_threads.read_df(conn, [term]) == {term: df[term] + 5}
    assert conn.execute("SELECT count(*) FROM thread_df_journal").fetchone()[0] == 0


def test_ramped_and_tapered_batches_give_one_batchs_result(
        clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long run's batches grow from ``FIRST_BATCH``, shrink again at the end (so the last
    write, which nothing overlaps, is short) and add journalled counts every few batches:
    none of that moves a decision or a count, against the whole stream in one batch."""
    from newsthreads.stories import service

    articles = _bench_articles(600)

    def run(**kwargs: object) -> tuple:
        truncate_all(clean_db)
        with psycopg.connect(clean_db) as conn:
            insert(conn, articles)
            stats = cluster_pending(conn, **kwargs)  # type: ignore[arg-type]
            df = conn.execute("SELECT term, df FROM thread_term_df ORDER BY term").fetchall()
            return stats, (partition(conn), duplicates(conn), thread_states(conn), df)

    _, whole = run(batch_size=10_000, worker=False)
    monkeypatch.setattr(service, "FIRST_BATCH", 20)
    monkeypatch.setattr(service, "DF_FOLD_EVERY", 3)
    sizes: list[int] = []
    real = service._Runner.process

    def process(self: service._Runner, items: list, *args: object, **kwargs: object):
        sizes.append(len(items))
        return real(self, items, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service._Runner, "process", process)
    _, batched = run(batch_size=100, worker=True)
    assert sizes[:4] == [20, 40, 80, 100] and sizes[-3:] == [40, 20, 20]
    assert batched == whole


def test_a_run_waits_for_the_writer_of_a_run_whose_connection_died(
        clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's own connection dies (the server ends it) while its writer still commits a
    batch on the second connection. The server releases the run's lock at once, but the
    batch commits all the same: a run that starts meanwhile must wait for that commit, or
    both would thread the same articles (and count them twice)."""
    import time

    from newsthreads.stories import writeback
    from newsthreads.stories.items import keys_counted

    articles = synthetic_articles(per_story=8, seed=5)
    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)
    in_flight, release = threading.Event(), threading.Event()
    write = writeback.write_batch

    def held_write(conn: psycopg.Connection, batch: writeback.Batch) -> int:
        if not in_flight.is_set():  # the first batch waits until the test lets it go
            in_flight.set()
            release.wait(60)
        return write(conn, batch)

    monkeypatch.setattr(writeback, "write_batch", held_write)
    outcomes: dict[str, BaseException | None] = {}

    def run(name: str, conn: psycopg.Connection) -> None:
        try:
            with conn:
                cluster_pending(conn, batch_size=10, worker=False)
            outcomes[name] = None
        except BaseException as exc:  # noqa: BLE001 - reported by the asserts below
            outcomes[name] = exc

    first_conn = psycopg.connect(clean_db)
    first = threading.Thread(target=run, args=("first", first_conn))
    first.start()
    assert in_flight.wait(60)
    with psycopg.connect(clean_db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_conn.info.backend_pid,))
    second = threading.Thread(target=run, args=("second", psycopg.connect(clean_db)))
    second.start()
    time.sleep(1.5)
    assert "second" not in outcomes  # waiting for the first run's writer
    release.set()
    first.join(60)
    second.join(120)
    assert isinstance(outcomes["first"], psycopg.OperationalError)  # its connection died
    assert outcomes["second"] is None
    with psycopg.connect(clean_db) as conn:
        assert sum(len(g) for g in partition(conn)) == len(articles)
        assert conn.execute("SELECT count(*) FROM thread_df_journal").fetchone()[0] == 0
        assert conn.execute("SELECT n_docs FROM thread_state").fetchone()[0] == len(articles)
        threads = [t for (t,) in conn.execute("SELECT id FROM threads").fetchall()]
        items = [item_from_row(row) for t in threads
                 for row in store_threads.thread_member_rows(conn, t)]
        assert len(items) == len(articles)
        assert dict(conn.execute("SELECT term, df FROM thread_term_df").fetchall()) == \
            dict(keys_counted(items))  # each article counted once


# -- threading while storing (``follow``) ---------------------------------------------------------

def test_a_following_run_takes_what_is_stored_while_it_runs(clean_db: str) -> None:
    """The run threads what it can, catches up, finds what was stored meanwhile, and so on:
    the bench stream (day- and month-dated, undated, wire copies) stored in publication
    order gets the threads and the saved state of one run over everything. A month-dated
    article waits for its month's end, undated ones for the end of storing, and an article
    pending from before, newer than the archive, for the archive: as one run orders them."""
    articles = _bench_articles(12_000)[::20]  # 600 articles over eight days
    assert {a.published.precision for a in articles if a.published} == {"day", "month"}
    assert any(a.published is None for a in articles[:150])
    # pending from before the ingest, and newer than all of it: one run takes it last
    newer = articles[-1].published
    assert newer is not None
    waiting = dataclasses.replace(
        articles[0], source_key="pending-before", content_hash="pending-before",
        published=dataclasses.replace(newer, start=newer.start + timedelta(days=40),
                                      end=newer.end + timedelta(days=40)))
    with psycopg.connect(clean_db) as conn:
        insert(conn, [waiting, *articles])
        cluster_pending(conn)
        one_run, one_state = partition(conn), thread_states(conn)
    truncate_all(clean_db)
    stored = [150]

    def storing() -> bool:  # what a concurrent ingest does by the time the run catches up
        if stored[0] == len(articles):
            return False
        with psycopg.connect(clean_db) as other:
            insert(other, articles[stored[0]:stored[0] + 60])
        stored[0] = min(len(articles), stored[0] + 60)
        return True

    with psycopg.connect(clean_db) as conn:
        insert(conn, [waiting, *articles[:150]])
        stats = cluster_pending(conn, batch_size=40, follow=storing)
        assert stats.assigned == len(articles) + 1
        assert stats.caught_up >= 4  # it caught up again and again
        assert stats.late == 0  # nothing came behind the run
        assert store_threads.pending_ids(conn) == []
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state


def test_follow_and_limit_are_refused_together(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="follow and limit"):
        cluster_pending(conn, limit=5, follow=lambda: False)


def _bench_archive(path: Path, n: int) -> Path:
    """The benchmark's stream as a JSONL archive (``bench_ingest.records``), in publication
    order: day- and month-dated, undated, wire copies."""
    _on_bench_path()
    from bench_ingest import records

    with path.open("w", encoding="utf-8") as out:
        for record in records(n):
            out.write(msgspec.json.encode(record).decode() + "\n")
    return path


def test_ingest_and_thread_overlaps_storing_and_threading(clean_db: str,
                                                          tmp_path: Path) -> None:
    """The real thing: the ingest on a second connection in a thread while this connection
    threads; an archive in publication order gets the threads of ingest, then one run."""
    from newsthreads.pipeline import ingest_jsonl
    from newsthreads.tasks import ingest_and_thread

    archive = _bench_archive(tmp_path / "archive.jsonl", 1500)
    with psycopg.connect(clean_db) as conn:
        ingest_jsonl(conn, [archive])
        cluster_pending(conn)
        one_run, one_state = partition(conn), thread_states(conn)
        total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    truncate_all(clean_db)
    with psycopg.connect(clean_db) as conn:
        result, run_id, stats = ingest_and_thread(
            conn, [archive], connect_ingest=lambda: psycopg.connect(clean_db))
        assert result.counts.new == total and result.status == "ok"
        assert stats.assigned == total and stats.late == 0
        assert store_threads.pending_ids(conn) == []
        assert partition(conn) == one_run
        assert thread_states(conn) == one_state
        run = conn.execute("SELECT kind, status, items_read FROM ingest_runs "
                           "WHERE id = %s", (run_id,)).fetchone()
        assert run == ("cluster", "ok", total)


def test_a_failed_ingest_is_raised_after_what_was_stored_is_threaded(clean_db: str,
                                                                      tmp_path: Path) -> None:
    from newsthreads.errors import DatabaseError
    from newsthreads.tasks import ingest_and_thread

    articles = synthetic_articles(per_story=4, seed=3)

    def refused() -> psycopg.Connection:
        raise DatabaseError("cannot connect to the news database: refused (test)")

    with psycopg.connect(clean_db) as conn:
        insert(conn, articles)  # stored before: threaded all the same
        with pytest.raises(DatabaseError, match="refused"):
            ingest_and_thread(conn, [tmp_path / "never-read.jsonl"], connect_ingest=refused)
        assert store_threads.pending_ids(conn) == []
        assert conn.execute("SELECT count(*) FROM thread_articles").fetchone()[0] == \
            len(articles)
