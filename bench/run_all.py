"""`make bench`: generate the W10M lake once, then the transform and quality benchmarks (results in bench/results/)."""

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
    if (REPO / "bench" / "bench_quality.py").exists():
        run("bench/bench_quality.py", "--home", str(HOME), "--reuse")


if __name__ == "__main__":
    main()
