"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine.

The schema check catches misspelt keys; the rest checks what the schema cannot: the services a
LocalExecutor deployment needs, their start order and health checks, and that every name the
file sets is one our code or Airflow actually reads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer"}
MOUNTS = {"dags", "plugins", "sql", "seeds"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def test_matches_the_compose_spec() -> None:
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name(
        "check-jsonschema"))
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_and_images(services: dict) -> None:
    assert set(services) == {"postgres", "airflow-init", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"] == "postgres:16"
    for name in {"airflow-init", *AIRFLOW_SERVICES}:
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert services[name]["image"].startswith("newsthreads-airflow:"), name
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor",
                        "airflow-triggerer": "triggerer"}


def test_dockerfile_builds_on_the_official_image_with_our_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.lock").read_text(),
                       re.M).group(1)
    assert base == f"apache/airflow:{pinned}-python3.11"
    assert "--constraint /opt/newsthreads/requirements.lock" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".data", ".env"} <= set(ignored)


def test_start_order_and_health_checks(services: dict) -> None:
    assert services["postgres"]["healthcheck"]["test"][-1].startswith("pg_isready -h 127.0.0.1")
    assert services["airflow-init"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}}
    assert services["airflow-init"]["restart"] == "no"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 3, name
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"] == {
        "condition": "service_healthy"}


def test_init_migrates_both_databases(services: dict) -> None:
    script = services["airflow-init"]["command"][-1]
    assert "airflow db migrate" in script and "newsthreads migrate" in script
    assert script.index("airflow db migrate") < script.index("newsthreads migrate")


def test_two_databases_with_their_own_roles(compose: dict, services: dict) -> None:
    init_sql = compose["configs"]["create-databases"]["content"]
    assert "CREATE DATABASE airflow OWNER airflow" in init_sql
    assert "CREATE DATABASE news OWNER news" in init_sql
    script = init_sql.replace("$$", "$")  # compose's escape for a literal $
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    mount = services["postgres"]["configs"][0]
    assert mount["target"].startswith("/docker-entrypoint-initdb.d/")
    env = _env(services["airflow-apiserver"])
    meta, news = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env["AIRFLOW_CONN_NEWS_DB"]
    assert meta.startswith("postgresql+psycopg://airflow:")
    assert meta.endswith("@postgres:5432/airflow")
    assert news.startswith("postgresql://news:") and news.endswith("@postgres:5432/news")


def test_mounts_the_project_folders(services: dict) -> None:
    for name in {"airflow-init", *AIRFLOW_SERVICES}:
        binds = {v.split(":")[0].removeprefix("./"): v.split(":")[1]
                 for v in services[name]["volumes"] if v.startswith("./")}
        assert binds == {m: f"/opt/airflow/{m}" for m in MOUNTS}, name


def test_the_news_db_connection_is_what_our_resolver_reads(services: dict, monkeypatch) -> None:
    from newsthreads.store.connection import resolve_dsn

    uri = _env(services["airflow-scheduler"])["AIRFLOW_CONN_NEWS_DB"]
    monkeypatch.delenv("NEWS_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_NEWS_DB", uri.replace("${NEWS_DB_PASSWORD:?set "
                                                           "NEWS_DB_PASSWORD in .env}", "pw"))
    assert resolve_dsn() == "postgresql://news:pw@postgres:5432/news"


def test_every_setting_is_read_by_someone(services: dict) -> None:
    """AIRFLOW__SECTION__KEY must be a real Airflow option; other names must occur in our code."""
    import airflow

    template = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    options = {(section, option) for section, spec in yaml.safe_load(template.read_text()).items()
               for option in spec.get("options", {})}
    code = "\n".join(p.read_text() for p in (REPO / "plugins" / "newsthreads").rglob("*.py"))
    for name in {"airflow-init", *AIRFLOW_SERVICES}:
        for key in _env(services[name]):
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__", 1)
                assert (section, option) in options, key
            elif key.startswith("AIRFLOW_ADMIN_"):
                assert key in services["airflow-init"]["command"][-1]
            else:
                assert key in code, f"{key} is set in docker-compose.yml but nothing reads it"


def test_no_secret_in_the_repository(compose: dict) -> None:
    text = COMPOSE.read_text()
    for match in re.finditer(r"^\s*(\w*(PASSWORD|SECRET|FERNET_KEY)\w*):\s*(\S+)", text, re.M):
        key, value = match.group(1), match.group(3)
        if key.endswith("_FILE"):
            continue  # a path, not a secret
        assert value.startswith(("${", '"${')), f"literal secret: {match.group(0)}"
    example = dict(line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    for key, value in example.items():
        if re.search("PASSWORD|SECRET|KEY", key):
            assert value == "change-me", key
    required = set(re.findall(r"\$\{(\w+):\?", text))
    optional = set(re.findall(r"\$\{(\w+):-", text))
    assert required | optional <= set(example), "every variable is documented in .env.example"


def test_a_filled_in_env_file_is_never_committed() -> None:
    gitignore = (REPO / ".gitignore").read_text().split()
    assert ".env" in gitignore, "a filled-in .env must never be committed"
