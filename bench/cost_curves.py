"""Cost curves: the full rebuild and the incremental day at several W10M sizes (issue #23), so users see how the
cost grows with history and with accounts.

Sizes are (accounts, days) of ``generate_w10m.generate``: W10M is 100 accounts x 365 days; ``--sizes`` picks which
run (default: 1x, 2x and 4x history at 100 accounts, then 10x accounts at 1x history). Each size: generate its lake,
full rebuild into a new warehouse, land the held-out day + 6 revised pull days, incremental run (the steps of
bench_transform.py, each in its own process for peak RSS). One sample per size: the curve's shape is the point,
bench_transform.py's repeated samples give the W10M ratios. A size that has not finished by ``--budget-minutes`` is
not started (the results say which were skipped).

    python bench/cost_curves.py --out var/bench_curves [--sizes 100x365,100x730,100x1460,1000x365]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_transform import run_step

DEFAULT_SIZES = "100x365,100x730,100x1460,1000x365"


def run_size(out: Path, accounts: int, days: int) -> dict:
    root = out / f"a{accounts}_d{days}"
    started = time.perf_counter()
    generated = subprocess.run([sys.executable, "bench/generate_w10m.py", "--out", str(root), "--accounts",
                                str(accounts), "--days", str(days)], cwd=REPO, check=True, capture_output=True,
                               text=True).stdout.strip()
    print(generated, flush=True)
    result = {"accounts": accounts, "days": days, "generate_seconds": round(time.perf_counter() - started, 1),
              "post_metric_rows": int(generated.split("'post_metrics': ")[1].split("}")[0])}
    result["full"] = run_step(root, "full")
    change = run_step(root, "change")
    result["incremental"] = run_step(root, "incremental", "--changed", json.dumps(change["changed"]))
    shutil.rmtree(root, ignore_errors=True)       # 4x history is ~1.3 GB of lake + warehouse
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench_curves")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"accounts x days, comma separated ({DEFAULT_SIZES})")
    parser.add_argument("--budget-minutes", type=float, default=120)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results" / "curves.json")
    args = parser.parse_args()
    started = time.perf_counter()
    runs, skipped = [], []
    for size in args.sizes.split(","):
        accounts, days = (int(n) for n in size.split("x"))
        if time.perf_counter() - started > args.budget_minutes * 60:
            skipped.append(size)
            continue
        try:
            runs.append(run_size(args.out.resolve(), accounts, days))
        except (subprocess.CalledProcessError, SystemExit) as exc:
            # e.g. the generator killed for memory: it builds the whole lake in memory (10x accounts: > 23 GiB)
            skipped.append(f"{size} (failed: {exc})")
            shutil.rmtree(args.out.resolve() / f"a{accounts}_d{days}", ignore_errors=True)
        # written after every size: a run cut short still leaves the sizes it measured
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps({"runs": runs, "skipped": skipped, "load_average": os.getloadavg()},
                                           indent=2))
    args.results.write_text(json.dumps({"runs": runs, "skipped": skipped, "load_average": os.getloadavg()},
                                       indent=2))


if __name__ == "__main__":
    main()
