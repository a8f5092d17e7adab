"""`make bench`: generate the W10M lake once, then the transform benchmark, the cost curves, the DAG parse times and
the quality benchmark (results in bench/results/), and write bench/RESULTS.md from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / "var" / "bench"


def run(*args: str) -> None:
    print("==>", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)


def main() -> None:
    if not (HOME / "lake" / "raw").is_dir():
        run("bench/generate_w10m.py", "--out", str(HOME))
    run("bench/bench_transform.py", "--root", str(HOME))
    # 1x, 2x, 4x history, then 10x accounts; a size not started within the budget is listed as skipped
    run("bench/cost_curves.py", "--out", str(REPO / "var" / "bench_curves"), "--budget-minutes", "90")
    run("bench/bench_dag_parse.py")
    if (REPO / "bench" / "bench_quality.py").exists():
        run("bench/bench_quality.py", "--home", str(HOME), "--reuse")
    run("bench/write_results.py")


if __name__ == "__main__":
    main()
