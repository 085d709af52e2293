"""Shared bench helpers: a throwaway database, a synthetic article generator, a results file.

Benchmarks report ratios against a baseline measured in the same run (raw COPY, raw
feedparser), so a slow or busy machine moves both sides together.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from newsthreads.store.scratch import scratch_database  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")
ADMIN = os.environ.get("NEWS_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

WORDS = ("summit leaders meeting nuclear talks sanctions president minister election budget"
         " storm flood police court trial strike union oil prices market bank rates vaccine"
         " hospital school river bridge fire border army ceasefire treaty harbour airport"
         " møte regjeringen statsminister valg budsjett flom politiet retten streik").split()
NAMES = ("Putin Kim Trump Støre Solberg Biden Merkel Macron Xi Moon Oslo Bergen Vladivostok"
         " Hanoi Moskva Washington Equinor NTB Reuters").split()


@contextlib.contextmanager
def scratch_db() -> Iterator[str]:
    """A migrated throwaway database on the local server (or an embedded one), dropped after."""
    server = None
    admin = ADMIN
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        import tempfile

        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(), cleanup_mode="delete")
        admin = server.get_uri()
    try:
        with scratch_database(admin, "newsthreads_bench") as url:
            yield url
    finally:
        if server is not None:
            server.cleanup()


def synthetic_records(n: int, seed: int = 7) -> Iterator[dict]:
    """JSONL-shaped records: a few hundred words each, dated, in stories of related words."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    for i in range(n):
        story = rng.randrange(max(1, n // 20))
        srng = random.Random(story)
        topic = srng.sample(WORDS, 6) + srng.sample(NAMES, 3)
        words = [rng.choice(topic) if rng.random() < 0.3 else rng.choice(WORDS)
                 for _ in range(rng.randint(80, 250))]
        when = datetime.fromtimestamp(start + story * 3600 * 6 + rng.randint(0, 86400), UTC)
        yield {
            "id": f"b{i}",
            "title": " ".join(topic[:2] + topic[6:8]).capitalize(),
            "text": " ".join(words).capitalize() + ".",
            "published": when.isoformat(),
            "lang": "en" if i % 3 else "nb",
            "source": f"outlet{i % 7}",
            "url": f"https://example.com/{i}",
        }


class BackendCPU:
    """CPU seconds of the PostgreSQL backends connected to one database, sampled from /proc
    while the block runs: the known backends every 0.2 s, new ones looked for every second (a
    backend's last 0.2 s before it exits may be missed). None where /proc is not readable."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.seen: dict[int, float] = {}
        self.ok = Path("/proc/self/stat").exists()
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK") if self.ok else 100

    def _read(self, pid: int) -> None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it has exited: keep its last reading
            return
        self.seen[pid] = (int(fields[11]) + int(fields[12])) / self._tick

    def _scan(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self.seen:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres: ") and f" {self.dbname} ".encode() in cmd:
                self._read(int(pid))

    def _loop(self) -> None:
        ticks = 0
        while not self._stop.wait(0.2):
            for pid in list(self.seen):
                self._read(pid)
            ticks += 1
            if ticks % 5 == 0:
                self._scan()

    def __enter__(self) -> BackendCPU:
        if self.ok:
            self._scan()
            self.before = dict(self.seen)
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.ok:
            self._stop.set()
            self._thread.join()
            for pid in list(self.seen):
                self._read(pid)

    @property
    def seconds(self) -> float | None:
        if not self.ok:
            return None
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident memory now (not the peak): what a sampler follows through a run."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """Resident memory of this process every ``every`` seconds while the block runs, so a
    report can show whether memory levels off once the archive outgrows the active window
    (a peak alone cannot tell growth from filling up)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(current_rss_mb())
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(current_rss_mb())

    def by_fifths(self) -> list[int]:
        """The highest sample in each fifth of the run (time, which is about articles)."""
        s = self.samples
        return [round(max(s[len(s) * i // 5:max(len(s) * (i + 1) // 5, len(s) * i // 5 + 1)]))
                for i in range(5)]


def machine() -> str:
    return (f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"
            f" · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def run_sizes(script: str, sizes: list[int]) -> list[dict]:
    """``script --one N`` for each size, each in its own process (so its peak RSS is that
    size's), and the JSON each prints last."""
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, script, "--one", str(n)], check=True,
                             capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def size_main(one: Callable[[int], dict], main: Callable[[list[int]], None],
              default: list[int]) -> None:
    """The command line of a benchmark run per size: ``--one N`` runs one size and prints
    its JSON; otherwise the sizes given (or ``default``) are run and reported by ``main``."""
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or default)


def write_section(title: str, lines: list[str]) -> None:
    """Replace this benchmark's section in bench/results.md (other sections kept)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    marker = f"\n## {title}\n"
    if marker in text:
        head, rest = text.split(marker, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = head + tail
    body = []
    for line in lines:  # a Markdown table needs a blank line before it
        if line.startswith("|") and body and not body[-1].startswith("|"):
            body.append("")
        body.append(line)
    text = text.rstrip() + "\n" + marker + "\n" + "\n".join(body) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(marker.strip())
    print("\n".join(lines))
