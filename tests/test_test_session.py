"""The test session itself: what it leaves behind when it is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_INNER = '''
import os, subprocess, sys, time
from pathlib import Path
import pytest

MARKS = Path(os.environ["INNER_MARKS"])

@pytest.fixture(scope="session")
def helper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (MARKS / "pid").write_text(str(proc.pid))
    yield proc
    proc.terminate()
    proc.wait()

def test_waits(helper):
    (MARKS / "started").write_text("1")
    time.sleep(600)
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_tears_the_session_fixtures_down(tmp_path: Path) -> None:
    """A session stopped with SIGTERM (a CI timeout) stops the processes its fixtures started,
    as Ctrl-C does: here a helper process standing for Airflow or an embedded PostgreSQL."""
    (tmp_path / "test_inner.py").write_text(_INNER)
    env = {**os.environ, "INNER_MARKS": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "sigterm_unwinds", "-p", "no:cacheprovider",
         str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert inner.poll() is None, inner.communicate()[0]
            assert time.monotonic() < deadline, "the inner session did not start"
            time.sleep(0.1)
        pid = int((tmp_path / "pid").read_text())
        assert _alive(pid)
        inner.send_signal(signal.SIGTERM)
        out = inner.communicate(timeout=60)[0]
    finally:
        if inner.poll() is None:
            inner.kill()
    assert "KeyboardInterrupt" in out, out
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the session fixture's process was left running"
