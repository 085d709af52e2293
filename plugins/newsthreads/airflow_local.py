"""`make airflow`: Airflow 3 on this checkout, against the same database as the CLI.

What it sets up (``newsthreads.airflow_env`` gives the shared part):

- ``AIRFLOW_HOME`` under ``.data/airflow``; Airflow's metadata in its own database on the news
  database's server (the embedded PostgreSQL unless ``NEWS_DATABASE_URL`` says otherwise);
- the ``news_db`` connection, our ``dags/`` and ``plugins/`` folders, no example DAGs;
- one simple-auth-manager user ``admin`` whose password is generated once and kept in
  ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``;
- the API server on 127.0.0.1 only (``--host 0.0.0.0`` to share it).

Then it migrates both databases and runs the API server, scheduler, dag-processor and
triggerer (what ``airflow standalone`` runs, minus its extra supervising process) in one
process group of their own, prints the URL and the login once the UI answers, and on Ctrl-C
or SIGTERM stops that group whole. Task processes put themselves in their own groups, so
every process started here also carries a marker in its environment, and whatever still
carries it after the stop is ended too: no strays.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USERNAME = "admin"
MARKER = "NEWSTHREADS_LOCAL_AIRFLOW"  # env var naming one launch; inherited by every child
STOP_TIMEOUT = 30.0


class LaunchError(RuntimeError):
    """Airflow could not be started; the message says which step and where its log is."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _private_json(path: Path, make: dict[str, str]) -> dict[str, str]:
    """Read a small JSON file of secrets, creating it (mode 0600) with ``make`` if missing."""
    if path.exists():
        return json.loads(path.read_text())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(make, out)
        out.write("\n")
    return make


def _pids_with_marker(marker: str) -> Iterator[int]:
    """Processes of this user whose environment carries our launch marker (Linux /proc)."""
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                yield int(entry.name)
        except OSError:  # gone, or not ours
            continue


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class LocalAirflow:
    """Airflow's four components on this checkout; a context manager that always stops them."""

    def __init__(self, *, port: int = 8080, host: str = "127.0.0.1",
                 news_dsn: str | None = None, home: Path | None = None) -> None:
        self.port = port
        self.host = host
        self.url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
        self.marker = uuid.uuid4().hex
        self._news_dsn = news_dsn
        self._home = home
        self.env: dict[str, str] = {}
        self.home = Path()
        self.password = ""
        self.username = USERNAME
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pgid: int | None = None

    # -- setup -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Environment, secrets, password and both databases, before any process starts."""
        from newsthreads.airflow_env import airflow_environment
        from newsthreads.store.connection import connect, resolve_dsn
        from newsthreads.store.migrate import migrate

        news_dsn = self._news_dsn or resolve_dsn()
        env = {**os.environ, **airflow_environment(news_dsn)}
        if self._home is not None:
            env["AIRFLOW_HOME"] = str(self._home)
        self.home = Path(env["AIRFLOW_HOME"])
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        keys = _private_json(self.home / "launcher_secrets.json",
                             {"jwt_secret": secrets.token_urlsafe(48),
                              "secret_key": secrets.token_urlsafe(32)})
        passwords = _private_json(self.home / "simple_auth_manager_passwords.json.generated",
                                  {USERNAME: secrets.token_urlsafe(12)})
        self.password = passwords[USERNAME]
        venv_bin = str(Path(sys.executable).parent)
        defaults = {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",  # new DAG files show up quickly
        }
        env.update({k: v for k, v in defaults.items() if k not in os.environ})
        env.update({
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                           "simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
            "AIRFLOW__API__HOST": self.host,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "PATH": os.pathsep.join([venv_bin, env.get("PATH", "")]),
            MARKER: self.marker,
        })
        self.env = env
        with connect(news_dsn) as conn:
            migrate(conn)

    def _log_path(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.out"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self._log_path(name).open("ab")
        # A group of their own (not the terminal's foreground group, so Ctrl-C reaches only
        # this launcher, which then stops them in order); same session, so all can join it.
        proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), *args],
                                env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, process_group=self.pgid or 0)
        log.close()
        if self.pgid is None:
            self.pgid = proc.pid
        self.processes[name] = proc
        return proc

    def _tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self._log_path(name).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    # -- run ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate Airflow's database, then start the four components in one new group."""
        if not self.env:
            self.prepare()
        if not _port_free(self.host, self.port):
            raise LaunchError(f"port {self.port} on {self.host} is in use: stop what uses it or"
                              " pass --port")
        migrate_proc = self._spawn("db-migrate", ["db", "migrate"])
        if migrate_proc.wait() != 0:
            raise LaunchError("airflow db migrate failed:\n" + self._tail("db-migrate"))
        del self.processes["db-migrate"]
        self.pgid = None  # the migration's group is gone: the next process leads a new one
        pool_proc = self._spawn("pools", ["pools", "set", os.environ.get("NEWS_FEEDS_POOL",
                                          "news_feeds"), "8", "news_ingest_feeds fetches"])
        if pool_proc.wait() != 0:
            raise LaunchError("creating the news_feeds pool failed:\n" + self._tail("pools"))
        del self.processes["pools"]
        self.pgid = None  # the migration's group is gone; the first component leads the next
        for name in COMPONENTS:
            self._spawn(name, [name])

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise LaunchError(f"airflow {name} exited with code {proc.returncode}; last"
                                  f" lines of {self._log_path(name)}:\n{self._tail(name)}")

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as resp:
                return json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until the UI answers and scheduler, dag-processor and triggerer heartbeat."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            health = self.health()
            if health and all((health.get(part) or {}).get("status") == "healthy"
                              for part in ("metadatabase", "scheduler", "dag_processor",
                                           "triggerer")):
                return
            time.sleep(0.5)
        raise LaunchError(f"Airflow was not ready after {timeout:.0f} s; logs in"
                          f" {self.home / 'logs'}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[int]:
        """SIGTERM the group, SIGKILL what is left, then end any marked stray; return strays."""
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            for proc in self.processes.values():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for proc in self.processes.values():
                proc.wait()
        # Task processes run in groups of their own; anything still carrying our marker is one.
        strays = list(_pids_with_marker(self.marker))
        _signal_all(strays, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while strays and time.monotonic() < deadline and any(_pids_with_marker(self.marker)):
            time.sleep(0.2)
        _signal_all(list(_pids_with_marker(self.marker)), signal.SIGKILL)
        self.processes.clear()
        self.pgid = None
        return strays

    def __enter__(self) -> LocalAirflow:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make airflow", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("NEWS_AIRFLOW_PORT",
                                                                      "8080")))
    parser.add_argument("--host", default=os.environ.get("NEWS_AIRFLOW_HOST", "127.0.0.1"),
                        help="address the API server listens on (default 127.0.0.1)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    # Explicit for both: a shell starting us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    airflow = LocalAirflow(port=args.port, host=args.host)
    try:
        airflow.prepare()
        from newsthreads.store.connection import mask_dsn

        print(f"news database: {mask_dsn(airflow.env['NEWS_DATABASE_URL'])}", flush=True)
        print(f"AIRFLOW_HOME: {airflow.home}  (component logs in {airflow.home / 'logs'})",
              flush=True)
        airflow.start()
        airflow.wait_ready()
        print(f"\nAirflow is ready after {time.monotonic() - began:.1f} s: {airflow.url}/\n"
              f"  log in as {airflow.username} / {airflow.password}\n"
              f"  Story threads: {airflow.url}/plugin/story-threads\n"
              "  Ctrl-C stops everything.", flush=True)
        while True:
            airflow.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping Airflow...", flush=True)
        return_code = 0
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        strays = airflow.stop()
        print(f"stopped{f' (ended {len(strays)} stray processes)' if strays else ''}.",
              flush=True)
    return return_code


if __name__ == "__main__":
    sys.exit(main())
