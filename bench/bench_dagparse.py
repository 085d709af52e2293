"""DAG file parse time through Airflow's DagBag, per file (goal: < 0.3 s each).

The dag-processor re-parses every file every 30 s or so; anything heavy at import time
(database, network, big imports) shows up here. Each file is parsed in a fresh process (a
cold import, the worst case) after Airflow itself is imported, and DagBag's own per-file
duration is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine, write_section

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
began = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
wall = time.perf_counter() - began
stats = [s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration
         for s in bag.dagbag_stats]
print(json.dumps({"wall": wall, "dagbag": sum(stats), "dags": sorted(bag.dag_ids),
                  "errors": {k: str(v)[:200] for k, v in bag.import_errors.items()}}))
"""


def main() -> None:
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(), "AIRFLOW__CORE__LOAD_EXAMPLES":
           "False", "PYTHONPATH": str(REPO / "plugins"),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    lines = [f"- machine: {machine()}", "| DAG file | DAGs | parse (DagBag) | wall incl. file"
             " discovery |", "|---|---|---|---|"]
    worst = 0.0
    for path in sorted((REPO / "dags").glob("*.py")):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env, check=True,
                             capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert not result["errors"], result["errors"]
        worst = max(worst, result["dagbag"])
        lines.append(f"| {path.name} | {', '.join(result['dags'])} | {result['dagbag']:.3f} s"
                     f" | {result['wall']:.3f} s |")
    lines.append(f"- **slowest file: {worst:.3f} s** (goal < 0.3 s per DAG file)")
    write_section("DAG parse time", lines)


if __name__ == "__main__":
    main()
