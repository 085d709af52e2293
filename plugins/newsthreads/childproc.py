"""Helper processes spoken to over pipes: feed readers (``sources.reading``) and the threading
stage's analysis worker (``stories.prefetch``).

Plain ``python -c`` subprocesses exchanging length-prefixed pickles on stdin/stdout, not
``multiprocessing``: its spawn and forkserver children re-import the caller's ``__main__``
(an unguarded user script would run again: ingest twice), a forked child inherits the
caller's threads' locks and open database connections, and a daemonic process (a Celery
prefork child) may not start ``multiprocessing`` children at all. Both sides are ours and run
the same interpreter, so pickle is safe here.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # not on Windows; pipes keep their size there
    fcntl = None  # type: ignore[assignment]

_LENGTH = 8  # bytes of the big-endian length before each pickle
_PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size: allowed without privileges


def send(stream: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_LENGTH, "big"))
    stream.write(data)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    return pickle.loads(receive_bytes(stream))


def receive_bytes(stream: BinaryIO) -> bytes:
    """One message, still pickled: reading it waits without the GIL (``pickle.loads`` it)."""
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        raise EOFError("pipe closed")
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("pipe closed mid-message")
    return data


def _widen(fd: int) -> None:
    """Let a pipe hold up to 1 MB (Linux; default 64 kB): a batch of articles then crosses in
    a few wake-ups of the reader instead of dozens, each a scheduler slice away when both
    cores are busy. Where the system refuses, the pipe stays as it was."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is None:
        return
    try:
        fcntl.fcntl(fd, size, _PIPE_BYTES)
    except OSError:
        pass


def start(code: str) -> subprocess.Popen[bytes]:
    """``python -c code`` with pipes, able to import this package even where only Airflow's
    plugins/ folder put it on the path."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
    popen = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env)
    for pipe in (popen.stdin, popen.stdout):
        if pipe is not None:
            _widen(pipe.fileno())
    return popen


def stop(popen: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Close the child's stdin (its loop ends at EOF), wait for it, kill it if it hangs."""
    try:
        if popen.stdin is not None:
            popen.stdin.close()
    except OSError:
        pass
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
    if popen.stdout is not None:
        popen.stdout.close()


def serve(handle: Callable[[Any], Any]) -> None:
    """The child's loop: a request in, ``("ok", handle(request))`` or ``("error", why)`` out,
    until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print() goes to stderr, never into the answers
    while True:
        try:
            request = receive(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", handle(request))
        except Exception as exc:  # noqa: BLE001 - a bug: the caller records or falls back
            answer = ("error", f"{type(exc).__name__}: {exc}")
        send(answers, answer)


def peak_rss_mb(pid: int) -> float | None:
    """The child's peak resident memory (Linux), for logs and benchmarks."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
