"""The `make airflow` launcher's setup, without starting Airflow (test_airflow_browser does)."""

from __future__ import annotations

import socket
import stat

import pytest
from conftest import REPO
from newsthreads.airflow_local import MARKER, LaunchError, LocalAirflow


@pytest.fixture
def launcher(db_url: str, tmp_path, monkeypatch) -> LocalAirflow:
    # Not the session's metadata database (conftest's airflow_db fixture creates that one).
    monkeypatch.setenv("NEWS_AIRFLOW_DATABASE_URL", "postgresql://postgres@127.0.0.1/unused")
    instance = LocalAirflow(port=18765, news_dsn=db_url, home=tmp_path / "home")
    instance.prepare()
    return instance


def test_environment_points_airflow_at_our_folders_and_database(launcher, db_url) -> None:
    env = launcher.env
    assert env["AIRFLOW_HOME"] == str(launcher.home)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(REPO / "plugins")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW_CONN_NEWS_DB"] == db_url
    assert env["AIRFLOW__API__PORT"] == "18765" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18765/execution/"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env[MARKER] == launcher.marker
    assert launcher.url == "http://localhost:18765"


def test_secrets_are_private_and_kept_between_runs(launcher, db_url) -> None:
    for name in ("launcher_secrets.json", "simple_auth_manager_passwords.json.generated"):
        mode = stat.S_IMODE((launcher.home / name).stat().st_mode)
        assert mode == 0o600, name
    again = LocalAirflow(port=18766, news_dsn=db_url, home=launcher.home)
    again.prepare()
    assert again.password == launcher.password and len(launcher.password) >= 12
    assert again.env["AIRFLOW__API_AUTH__JWT_SECRET"] == launcher.env[
        "AIRFLOW__API_AUTH__JWT_SECRET"]
    assert again.marker != launcher.marker


def test_a_busy_port_is_reported_before_anything_starts(launcher) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        launcher.port = busy.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {launcher.port}"):
            launcher.start()
    assert launcher.processes == {} and launcher.stop() == []
