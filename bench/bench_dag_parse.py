"""DAG file parse time with Airflow imported (issue #23 target: <= 0.3 s per file).

Each file is parsed in a fresh process, as Airflow's DAG processor does: ``import airflow`` and ``airflow.sdk``
first (not timed: the processor has them loaded), then the file is parsed into a ``DagBag`` (timed: the file's imports, its DAG objects, Airflow's checks). Each file
runs --repeat times; the fastest counts (the box is shared) and every sample is kept.

    python bench/bench_dag_parse.py [--repeat 3] [--results bench/results/dag_parse.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.3

CHILD = """
import json, sys, time
import airflow  # noqa: F401  (loaded by the DAG processor before any file: not timed)
import airflow.sdk  # noqa: F401  (idem: the processor has the Task SDK, which every DAG file imports, loaded)
try:
    from airflow.dag_processing.dagbag import DagBag     # Airflow >= 3.1
except ImportError:
    from airflow.models.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dags), "errors": {str(k): str(v) for k, v in bag.import_errors.items()}}))
"""


def parse_once(path: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results" / "dag_parse.json")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="goalpost-dag-parse-")
    env = dict(os.environ, PYTHONPATH=str(REPO), AIRFLOW_HOME=home,
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
               AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    results = {}
    for path in sorted((REPO / "dags").glob("*.py")):
        samples = [parse_once(path, env) for _ in range(args.repeat)]
        seconds = [round(s["seconds"], 3) for s in samples]
        if samples[0]["errors"]:
            raise SystemExit(f"{path.name}: import errors {samples[0]['errors']}")
        results[path.name] = {"seconds": min(seconds), "samples": seconds, "dags": samples[0]["dags"],
                              "within_target": min(seconds) <= TARGET_SECONDS}
        print(f"{path.name:28s} {min(seconds):6.3f} s  samples {seconds}  dags {samples[0]['dags']}", flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"target_seconds": TARGET_SECONDS, "files": results,
                                        "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
