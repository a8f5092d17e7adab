"""Goal evaluation time for a large goals file: seconds per goal (issue #22 closing note).

    GOALPOST_HOME=/tmp/home .venv/bin/python bench/bench_goals.py --goals 1000

Builds a synthetic goals file of ``--goals`` goals by cycling over the goals of ``goals.yml`` (each copy gets
its own id and a target up to 9 % further away, so no two goals are the same), loads and validates it like
``run_snapshots`` does, and evaluates it against the warehouse of ``GOALPOST_HOME`` (opened read-only) as of
the newest day of ``marts.kpi_daily_account``:

    import     scipy.stats, imported once by the first forecast (a one-off per process)
    load       load_goals_file (YAML, pydantic, SMART checks)
    evaluate   evaluate_goals: goals over the same table, columns and scope share one query
    uncached   the same goals, one query per goal (the worst case: every goal has its own scope)
    periods    evaluate_periods: the newest 12 period results of each recurring goal

Prints a Markdown table (paste into bench/RESULTS.md). No assertion on time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.goals import evaluate_goal, evaluate_goals, evaluate_periods, load_goals_file
from pipeline.metrics import load_metrics
from pipeline.runtime import load_source_specs
from pipeline.settings import get_settings


def synthetic_goals(template: dict, count: int) -> dict:
    """``count`` goals cycling over the template's goals; relative and absolute targets are spread apart."""
    goals = []
    base = template["goals"]
    for i in range(count):
        goal = dict(base[i % len(base)])
        goal["id"] = f"{goal['id']}_{i:04d}"
        goal.pop("parent", None)
        goal.pop("weight", None)
        step = 1 + i // len(base)
        target = goal["target"]
        if isinstance(target, (int, float)):
            goal["target"] = round(target * (1 + step / 1000), 4)    # at most +9 %: stays in range
        elif isinstance(target, str) and target.endswith("%"):
            goal["target"] = f"+{float(target.strip('+%')) + step}%"
        goals.append(goal)
    return {"defaults": template.get("defaults", {}), "goals": goals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    from scipy import stats  # noqa: F401  (the forecast's first call would pay this inside "evaluate")
    import_s = time.perf_counter() - started

    settings = get_settings()
    metrics = load_metrics(settings.metrics_file)
    template = yaml.safe_load(settings.goals_file.read_text(encoding="utf-8"))
    sources = [s.platform for s in load_source_specs(settings)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "goals.yml"
        path.write_text(yaml.safe_dump(synthetic_goals(template, args.goals), sort_keys=False), encoding="utf-8")
        started = time.perf_counter()
        goals = load_goals_file(path, metrics, sources=sources).goals
        load_s = time.perf_counter() - started

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        as_of = args.as_of or con.execute("select max(date) from marts.kpi_daily_account").fetchall()[0][0]
        started = time.perf_counter()
        snapshots = evaluate_goals(con, goals, metrics, as_of)
        evaluate_s = time.perf_counter() - started
        by_name = metrics.by_name()
        started = time.perf_counter()
        for goal in goals:
            evaluate_goal(con, goal, by_name[goal.kpi], as_of)
        uncached_s = time.perf_counter() - started
        started = time.perf_counter()
        periods = evaluate_periods(con, goals, metrics, as_of)
        periods_s = time.perf_counter() - started
    finally:
        con.close()

    n = len(goals)
    statuses: dict[str, int] = {}
    for snapshot in snapshots:
        statuses[snapshot.status] = statuses.get(snapshot.status, 0) + 1
    print(f"{n} goals as of {as_of} on {settings.warehouse_path}; statuses {dict(sorted(statuses.items()))}; "
          f"{len(periods)} recurring goals, {sum(len(p) for p in periods.values())} period results\n")
    print("| step | seconds | ms per goal |")
    print("|---|---:|---:|")
    print(f"| import scipy.stats (once) | {import_s:.2f} | |")
    for name, seconds in (("load", load_s), ("evaluate", evaluate_s), ("uncached", uncached_s),
                          ("periods", periods_s)):
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / n:.2f} |")


if __name__ == "__main__":
    main()
