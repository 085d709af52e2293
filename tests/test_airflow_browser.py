"""Airflow as its users see it: one real Airflow for the whole module, a browser and the REST API.

Airflow is started once, by the same launcher as ``make airflow`` (``LocalAirflow``), on its own
news database and metadata database, and stopped at the end; the last test checks that the
stop leaves no process behind. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from conftest import REPO, SEEDS
from newsthreads.airflow_local import LocalAirflow, _pids_with_marker, _port_free
from newsthreads.store.migrate import migrate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class Api:
    """The REST API as a client sees it: a JWT from /auth/token, then /api/v2."""

    def __init__(self, airflow: LocalAirflow) -> None:
        self.client = httpx.Client(base_url=airflow.url, timeout=30)
        token = self.client.post("/auth/token", json={"username": airflow.username,
                                                      "password": airflow.password})
        assert token.status_code == 201, token.text
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **kw) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.client.post(path, **kw)

    def patch(self, path: str, **kw) -> httpx.Response:
        return self.client.patch(path, **kw)

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.get(f"/api/v2/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, f"{dag_id} was not parsed in {timeout:.0f} s"
            time.sleep(1)

    def runs(self, dag_id: str) -> list[dict]:
        response = self.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"})
        assert response.status_code == 200, response.text
        return response.json()["dag_runs"]

    def wait_for_run(self, dag_id: str, *, run_id: str | None = None,
                     after: int = 0) -> dict:
        """The given run (or the first run beyond ``after`` runs) once it has finished."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            if run_id is None and len(runs) > after:
                run_id = runs[0]["dag_run_id"]
            run = next((r for r in runs if r["dag_run_id"] == run_id), None)
            if run and run["state"] in ("success", "failed"):
                return run
            time.sleep(1)
        raise AssertionError(f"{dag_id} run {run_id} did not finish in {RUN_TIMEOUT:.0f} s")


@pytest.fixture(scope="module")
def news_db(admin_url: str) -> Iterator[str]:
    name = f"newsthreads_live_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(admin_url, name)
    with psycopg.connect(url) as conn:
        migrate(conn)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for db in (name, f"{name}_airflow"):  # the launcher's metadata database beside it
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="module")
def airflow(news_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    """One Airflow for every test here, started as `make airflow` starts it."""
    instance = LocalAirflow(port=_free_port(), news_dsn=news_db,
                            home=tmp_path_factory.mktemp("airflow-home"))
    began = time.monotonic()
    try:
        instance.start()
        instance.wait_ready(timeout=240)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "airflow-startup.txt").write_text(
            f"start to ready (migrate + 4 components healthy): "
            f"{time.monotonic() - began:.1f} s\n")
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def api(airflow: LocalAirflow) -> Api:
    api = Api(airflow)
    for dag_id in ("news_ingest_files", "news_thread_stories", "news_rethread"):
        api.wait_for_dag(dag_id)
    # Threading runs on the Asset that ingestion emits; DAGs start paused.
    assert api.patch("/api/v2/dags/news_thread_stories",
                     json={"is_paused": False}).status_code == 200
    return api


def test_story_threads_page_requires_a_login(airflow: LocalAirflow, api: Api) -> None:
    anonymous = httpx.get(f"{airflow.url}/newsthreads/", timeout=30)
    assert anonymous.status_code == 401
    forged = httpx.get(f"{airflow.url}/newsthreads/", cookies={"_token": "forged"}, timeout=30)
    assert forged.status_code in (401, 403)
    page = api.get("/newsthreads/")
    assert page.status_code == 200 and "Story threads" in page.text
    plugins = api.get("/api/v2/plugins").json()["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "newsthreads"]
    assert [v["url_route"] for v in ours["external_views"]] == ["story-threads"]


def test_trigger_from_the_ui_then_find_the_vladivostok_thread(airflow: LocalAirflow,
                                                              api: Api) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    before = len(api.runs("news_ingest_files"))
    threads_before = len(api.runs("news_thread_stories"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)

            page.goto(f"{airflow.url}/")
            page.get_by_label("Username").fill(airflow.username)
            page.get_by_label("Password").fill(airflow.password)
            page.screenshot(path=ARTIFACTS / "01-login.png")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{airflow.url}/")

            page.goto(f"{airflow.url}/dags/news_ingest_files")
            page.get_by_role("button", name="Trigger Dag").click()
            form = page.get_by_role("dialog")
            form.locator("#element_path").fill(str(SEEDS))
            expect(form.get_by_text("Folder or file")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "02-trigger-form.png")
            form.get_by_role("button", name="Trigger").click()

            ingest = api.wait_for_run("news_ingest_files", after=before)
            assert ingest["state"] == "success", ingest
            assert ingest["conf"]["path"] == str(SEEDS)
            threading = api.wait_for_run("news_thread_stories", after=threads_before)
            assert threading["state"] == "success", threading
            assert threading["run_type"] == "asset_triggered"
            page.goto(f"{airflow.url}/dags/news_ingest_files/runs/{ingest['dag_run_id']}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=ARTIFACTS / "03-ingest-run.png")

            page.get_by_role("link", name="Story threads").click()
            page.wait_for_url("**/plugin/story-threads**")
            view = page.frame_locator("iframe[title='Story threads']")
            expect(view.locator("#threads tbody tr")).to_have_count(1)
            page.screenshot(path=ARTIFACTS / "04-story-threads.png")

            view.get_by_role("searchbox").fill("Vladivostok")
            view.get_by_role("button", name="Search").click()
            hits = view.locator("#results .hit")
            expect(hits).to_have_count(5)
            page.screenshot(path=ARTIFACTS / "05-search-vladivostok.png")

            thread_links = {hits.nth(i).get_by_role("link").get_attribute("href")
                            for i in range(5)}
            assert len(thread_links) == 1, thread_links  # all five in one thread
            hits.first.get_by_role("link").click()
            expect(view.locator("#article-count")).to_have_text("5")
            articles = view.locator("#articles tbody tr")
            expect(articles).to_have_count(5)
            text = view.locator("#articles").inner_text()
            for seed in sorted(SEEDS.glob("*.txt")):
                assert seed.name in text
            assert "month" in text and "duplicate" in text
            page.screenshot(path=ARTIFACTS / "06-vladivostok-thread.png")

            # The rethread form explains itself: date pickers for the window, dry run on.
            page.goto(f"{airflow.url}/dags/news_rethread")
            page.get_by_role("button", name="Trigger Dag").click()
            form = page.get_by_role("dialog")
            expect(form.locator("#element_from")).to_be_visible()
            expect(form.locator("#element_to")).to_be_visible()
            expect(form.get_by_text("Last publication day of the window")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "07-rethread-form.png")
        finally:
            browser.close()


def test_rest_api_triggers_with_conf(api: Api, news_db: str) -> None:
    # DAGs start paused and a paused DAG's runs stay queued. The UI test's trigger form
    # unpauses it; run alone (or with that test skipped), this test unpauses it itself.
    assert api.patch("/api/v2/dags/news_ingest_files",
                     json={"is_paused": False}).status_code == 200
    before = len(api.runs("news_ingest_files"))
    created = api.post("/api/v2/dags/news_ingest_files/dagRuns",
                       json={"logical_date": None,
                             "conf": {"path": "seeds", "pattern": "*.txt"}})
    assert created.status_code == 200, created.text
    run = api.wait_for_run("news_ingest_files", run_id=created.json()["dag_run_id"])
    assert run["state"] == "success" and run["conf"]["path"] == "seeds"
    assert len(api.runs("news_ingest_files")) == before + 1
    with psycopg.connect(news_db) as conn:
        last = conn.execute("SELECT kind, status, items_read FROM ingest_runs"
                            " WHERE kind = 'files' ORDER BY id DESC LIMIT 1").fetchone()
    assert last == ("files", "ok", 5)


def test_rest_api_rethread_dry_run(api: Api, news_db: str) -> None:
    # The seeds are in and threaded after the UI test; run alone (``-k``), this test puts
    # them there itself, as the two DAGs would (both steps are idempotent).
    from newsthreads.pipeline import ingest_files
    from newsthreads.stories.service import cluster_pending

    with psycopg.connect(news_db) as conn:
        ingest_files(conn, [SEEDS])
        cluster_pending(conn)
    refused = api.post("/api/v2/dags/news_rethread/dagRuns",
                       json={"logical_date": None, "conf": {"dry_run": True}})
    assert refused.status_code == 400, refused.text  # from/to are required Params
    created = api.post("/api/v2/dags/news_rethread/dagRuns",
                       json={"logical_date": None,
                             "conf": {"from": "2019-04-01", "to": "2019-04-30",
                                      "dry_run": True}})
    assert created.status_code == 200, created.text
    run_id = created.json()["dag_run_id"]
    api.patch("/api/v2/dags/news_rethread", json={"is_paused": False})
    run = api.wait_for_run("news_rethread", run_id=run_id)
    assert run["state"] == "success", run
    xcom = api.get(f"/api/v2/dags/news_rethread/dagRuns/{run_id}/taskInstances/rethread"
                   "/xcomEntries/return_value").json()["value"]
    assert xcom["articles"] == 5 and xcom["moved"] == 0 and xcom["dry_run"] is True


def test_stopping_leaves_no_process_behind(airflow: LocalAirflow) -> None:
    strays = airflow.stop()
    assert list(_pids_with_marker(airflow.marker)) == []
    assert _port_free(airflow.host, airflow.port)
    assert strays == [], "every process stopped with its group"
