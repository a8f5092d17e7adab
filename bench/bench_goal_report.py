"""Goal report time and size for a large goals file: seconds per goal and bytes (issue #22 closing note).

    .venv/bin/python bench/bench_goal_report.py --goals 1000

Builds, in a temporary folder, a synthetic ``marts.kpi_account_daily`` (``--accounts`` accounts on each of five
platforms, ``--days`` days of followers, impressions and engagements) and a goals file of ``--goals`` goals
cycling over followers / impressions / engagement-rate goals, one scope per account, six objectives, one goal in
ten recurring monthly. It evaluates and writes the snapshot like ``run_snapshots`` does (not timed: that is
bench_goals.py), then times ``build_report`` twice: with the chart limit (``MAX_CHARTS_PER_OBJECTIVE`` burn-ups
per objective, every goal in the table) and with a burn-up for every goal, and prints the size of each page.

The Vega bundle (built once per process by vl-convert) is timed on its own. No assertion on time.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import goal_report
from pipeline.emit import write_snapshot_files
from pipeline.goals import evaluate_goals, load_goals_file, rollup_objectives
from pipeline.metrics import load_metrics
from pipeline.settings import get_settings

PLATFORMS = ("facebook", "instagram", "linkedin", "tiktok", "x")
OBJECTIVES = ("awareness", "engagement", "reputation", "traffic", "leads", "customer_service")

METRICS = {"metrics": [
    {"name": "followers", "label": "Followers", "type": "simple", "description": "Followers at the end of the day.",
     "formula": "followers", "grain": "platform x account x day", "unit": "count", "direction": "increase",
     "objectives": ["awareness"], "table": "kpi_account_daily", "dimensions": ["platform", "account_id"],
     "aggregation": "last", "column": "followers"},
    {"name": "impressions", "label": "Impressions", "type": "simple", "description": "Times content was shown.",
     "formula": "sum(impressions)", "grain": "platform x account x day", "unit": "count", "direction": "increase",
     "objectives": ["awareness"], "table": "kpi_account_daily", "dimensions": ["platform", "account_id"],
     "aggregation": "sum", "column": "impressions"},
    {"name": "daily_er", "label": "Engagement rate", "type": "ratio", "description": "Engagements / followers.",
     "formula": "engagements / followers * 100", "grain": "platform x account x day", "unit": "percent",
     "direction": "increase", "objectives": ["engagement"], "table": "kpi_account_daily",
     "dimensions": ["platform", "account_id"], "aggregation": "ratio", "numerator": "engagements",
     "denominator": "followers", "scale": 100},
]}


def write_marts(con, accounts: int, days: int, last_day: date, rng: random.Random) -> list[tuple[str, str]]:
    con.execute("create schema marts")
    con.execute("create table marts.kpi_account_daily (platform varchar, account_id varchar, date date, "
                "followers bigint, impressions bigint, engagements bigint)")
    rows, scopes = [], []
    for platform in PLATFORMS:
        for a in range(accounts):
            account = f"{platform[:2]}{a:03d}"
            scopes.append((platform, account))
            followers = rng.randint(1_000, 100_000)
            for d in range(days):
                followers += rng.randint(-20, 60)
                rows.append((platform, account, last_day - timedelta(days=days - 1 - d), followers,
                             rng.randint(500, 20_000), rng.randint(10, 900)))
    table = pa.Table.from_pylist([dict(zip(("platform", "account_id", "date", "followers", "impressions",
                                            "engagements"), row)) for row in rows])
    con.register("bench_rows", table)
    con.execute("insert into marts.kpi_account_daily select * from bench_rows")
    con.unregister("bench_rows")
    con.execute("create table marts.kpi_best_time_to_post as select p.platform, w.weekday, h.hour, "
                "(w.weekday + h.hour) % 5 + 1 as posts, ((w.weekday * 7 + h.hour * 3) % 40) * 10 as engagements "
                f"from (values {', '.join(repr((p,)) for p in PLATFORMS)}) p(platform), range(1, 8) w(weekday), "
                "range(0, 24) h(hour)")
    return scopes


def synthetic_goals(count: int, scopes: list[tuple[str, str]], start: date, deadline: date) -> dict:
    goals = []
    for i in range(count):
        platform, account = scopes[i % len(scopes)]
        kind = i % 3
        goal = {"id": f"goal_{i:04d}", "title": f"Goal {i} for {account} on {platform} <&>",
                "objective": OBJECTIVES[i % len(OBJECTIVES)],
                "kpi": ("followers", "impressions", "daily_er")[kind],
                "scope": {"platforms": [platform], "accounts": [account]},
                "window": "trailing_28d", "baseline": "auto", "target": f"+{5 + i % 20}%",
                "start": start.isoformat(), "deadline": deadline.isoformat(), "owner": "bench"}
        if i % 10 == 9:          # one in ten: monthly recurring impressions total
            goal.update(kpi="impressions", window="calendar_month", recurring="month", target=250_000)
            goal.pop("deadline")
        goals.append(goal)
    return {"goals": goals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=40, help="accounts per platform")
    parser.add_argument("--days", type=int, default=270)
    parser.add_argument("--keep", type=Path, default=None, help="copy the pages into this folder")
    args = parser.parse_args()

    as_of = date(2026, 12, 1)
    rng = random.Random(22)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = get_settings({"GOALPOST_HOME": str(folder / "home"),
                                 "GOALPOST_GOALS_FILE": str(folder / "goals.yml"),
                                 "GOALPOST_METRICS_FILE": str(folder / "metrics.yml")})
        (folder / "metrics.yml").write_text(yaml.safe_dump(METRICS, sort_keys=False), encoding="utf-8")
        con = duckdb.connect(":memory:")
        scopes = write_marts(con, args.accounts, args.days, as_of, rng)
        goals_doc = synthetic_goals(args.goals, scopes, date(2026, 9, 1), date(2027, 2, 28))
        (folder / "goals.yml").write_text(yaml.safe_dump(goals_doc, sort_keys=False), encoding="utf-8")
        metrics = load_metrics(settings.metrics_file)
        goals_file = load_goals_file(settings.goals_file, metrics)
        snapshots = evaluate_goals(con, goals_file.goals, metrics, as_of)
        write_snapshot_files(snapshots, rollup_objectives(goals_file.objective_groups, snapshots),
                             settings.snapshots_dir, as_of)

        started = time.perf_counter()
        goal_report.vega_bundle()
        bundle_s = time.perf_counter() - started
        results = []
        for name, limit in ((f"limit {goal_report.MAX_CHARTS_PER_OBJECTIVE}/objective",
                             goal_report.MAX_CHARTS_PER_OBJECTIVE), ("every goal charted", args.goals)):
            started = time.perf_counter()
            path = goal_report.build_report(settings, as_of, con=con, max_charts_per_objective=limit)
            seconds = time.perf_counter() - started
            page = path.read_text(encoding="utf-8")
            results.append((name, seconds, path.stat().st_size, page.count('class="chart"')))
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"goal_report_{limit}.html").write_text(page, encoding="utf-8")
        con.close()

    n = args.goals
    print(f"{n} goals, {len(scopes)} accounts x {args.days} days, as of {as_of}; "
          f"Vega bundle built once per process in {bundle_s:.2f} s ({len(goal_report.vega_bundle()):,} bytes)\n")
    print("| report | charts | seconds | ms per goal | bytes |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, size, charts in results:
        print(f"| {name} | {charts} | {seconds:.2f} | {1000 * seconds / n:.1f} | {size:,} |")


if __name__ == "__main__":
    main()
