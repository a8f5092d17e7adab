"""Transform benchmark on the W10M lake, in ONE run (each step in its own process for peak RSS).

Steps: DuckDB floor (one scan + GROUP BY of every metric, stored) | full rebuild (`run_transform(full_refresh=True)`,
all models, into a new warehouse file) | full refresh (the same on the existing file) | pandas and polars-lazy
versions of the two core marts (kpi_post, kpi_daily_account) as an analyst writes them | incremental (the
held-out new day lands + the 6 days before are revised) | checks: engines give equal tables, incremental == a
full rebuild of the changed lake (ordered CSV bytes). Ratios use each step's work time, timed inside its
process from the first read to the result stored (imports and interpreter start-up excluded).

    python bench/generate_w10m.py --out var/bench      # once
    python bench/bench_transform.py --root var/bench   # writes bench/results/transform.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CORE_KEYS = {"kpi_post": ["platform", "account_id", "post_id"],
             "kpi_daily_account": ["platform", "account_id", "date"]}
CORE_COLUMNS = {
    "kpi_post": ["platform", "account_id", "post_id", "created_date", "impressions", "reach", "likes", "comments",
                 "shares", "saves", "clicks", "engagements", "followers_at_post", "err", "post_er"],
    "kpi_daily_account": ["platform", "account_id", "date", "followers", "net_new_followers", "impressions",
                          "reach", "posts", "engagements", "post_reach", "daily_er", "err"],
}
TIMEZONES = {"instagram": "America/Los_Angeles", "facebook": "America/Los_Angeles", "tiktok": "UTC",
             "linkedin": "UTC", "x": "UTC"}


def settings_for(root: Path, warehouse: str):
    from pipeline.settings import get_settings
    env = dict(os.environ, GOALPOST_HOME=str(root), GOALPOST_WAREHOUSE=str(root / warehouse))
    return get_settings(env)


def raw_glob(root: Path, entity: str) -> str:
    return str(root / "lake" / "raw" / "platform=*" / f"entity={entity}" / "dt=*" / "*.parquet")


# ---------------------------------------------------------------- steps (run in child processes)

def step_floor(root: Path) -> dict:
    """One scan + GROUP BY of every metric, stored (a temp table): the least work any engine can do.
    Stored, not counted: ``select count(*) from (select ..., sum(x) ... group by ...)`` lets DuckDB drop the
    unused sums, which halves the floor (0.37 s instead of 0.72 s on this box) and makes it unreachable."""
    import duckdb
    con = duckdb.connect(config={"memory_limit": "1GB"})
    started = time.perf_counter()
    con.execute(
        "create temp table floor as select platform, account_id, date, sum(impressions), sum(reach), sum(likes), "
        "sum(comments), sum(shares), sum(saves), sum(clicks), sum(video_views) "
        f"from read_parquet('{raw_glob(root, 'post_daily_metrics')}', hive_partitioning = true) group by all")
    seconds = time.perf_counter() - started
    return {"groups": con.execute("select count(*) from floor").fetchall()[0][0], "seconds_work": seconds}


def step_full(root: Path) -> dict:
    from pipeline.transform import run_transform
    settings = settings_for(root, "bench.duckdb")
    for suffix in ("", ".wal"):
        Path(str(settings.warehouse_path) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    result = run_transform(settings, full_refresh=True)
    seconds = time.perf_counter() - started
    export_core(settings, root / "out" / "duckdb")      # for the equality check; not timed
    return {"seconds_work": seconds, "models": len(result["models"])}


def step_full_refresh(root: Path) -> dict:
    """`goalpost transform --full-refresh` on the warehouse the full step built (its views already bound)."""
    from pipeline.transform import run_transform
    started = time.perf_counter()
    run_transform(settings_for(root, "bench.duckdb"), full_refresh=True)
    return {"seconds_work": time.perf_counter() - started}


def export_core(settings, folder: Path) -> None:
    from pipeline.transform import connect
    folder.mkdir(parents=True, exist_ok=True)
    con = connect(settings)
    try:
        for table, columns in CORE_COLUMNS.items():
            con.execute(f"copy (select {', '.join(columns)} from audit.{table} order by all) "
                        f"to '{folder / table}.parquet'")
    finally:
        con.close()


def step_pandas(root: Path) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow.dataset as ds

    started = time.perf_counter()

    def read(entity: str) -> pd.DataFrame:
        files = sorted(glob.glob(raw_glob(root, entity)))
        return ds.dataset(files, format="parquet").to_table().to_pandas().drop_duplicates()

    metrics, posts, accounts = read("post_daily_metrics"), read("post"), read("account_daily")
    metrics["engagements"] = metrics[["likes", "comments", "shares", "saves"]].fillna(0).sum(axis=1)
    accounts["date"] = pd.to_datetime(accounts["date"])
    metrics["date"] = pd.to_datetime(metrics["date"])
    posts["created_date"] = pd.NaT
    for platform, zone in TIMEZONES.items():
        mask = posts["platform"] == platform
        posts.loc[mask, "created_date"] = posts.loc[mask, "created_at"].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    posts["created_date"] = pd.to_datetime(posts["created_date"])
    sums = ["impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "engagements"]
    lifetime = metrics.groupby(["platform", "account_id", "post_id"], as_index=False)[sums].sum()
    post = posts[["platform", "account_id", "post_id", "created_date"]].merge(
        lifetime, on=["platform", "account_id", "post_id"], how="left")
    post = post.merge(accounts[["platform", "account_id", "date", "followers"]].rename(
        columns={"date": "created_date", "followers": "followers_at_post"}),
        on=["platform", "account_id", "created_date"], how="left")
    post["err"] = post["engagements"] * 100.0 / post["reach"].replace(0, np.nan)
    post["post_er"] = post["engagements"] * 100.0 / post["followers_at_post"].replace(0, np.nan)

    day = metrics.groupby(["platform", "account_id", "date"], as_index=False).agg(
        engagements=("engagements", "sum"), post_reach=("reach", "sum"))
    per_day = posts.groupby(["platform", "account_id", "created_date"], as_index=False).size().rename(
        columns={"created_date": "date", "size": "posts"})
    daily = accounts[["platform", "account_id", "date", "followers", "impressions", "reach"]].copy()
    daily = daily.sort_values(["platform", "account_id", "date"])
    previous = daily[["platform", "account_id", "date", "followers"]].copy()
    previous["date"] = previous["date"] + pd.Timedelta(days=1)
    daily = daily.merge(previous.rename(columns={"followers": "previous"}), on=["platform", "account_id", "date"],
                        how="left")
    daily["net_new_followers"] = daily["followers"] - daily["previous"]
    keys = ["platform", "account_id", "date"]
    spine = pd.concat([daily[keys], day[keys], per_day[keys]]).drop_duplicates()
    daily = spine.merge(daily, on=keys, how="left").merge(day, on=keys, how="left").merge(per_day, on=keys, how="left")
    daily[["posts", "engagements", "post_reach"]] = daily[["posts", "engagements", "post_reach"]].fillna(0)
    daily["daily_er"] = daily["engagements"] * 100.0 / daily["followers"].replace(0, np.nan)
    daily["err"] = daily["engagements"] * 100.0 / daily["post_reach"].replace(0, np.nan)
    out = root / "out" / "pandas"
    out.mkdir(parents=True, exist_ok=True)
    post[CORE_COLUMNS["kpi_post"]].to_parquet(out / "kpi_post.parquet")
    daily[CORE_COLUMNS["kpi_daily_account"]].to_parquet(out / "kpi_daily_account.parquet")
    return {"posts": len(post), "account_days": len(daily), "seconds_work": time.perf_counter() - started}


def step_polars(root: Path) -> dict:
    import polars as pl

    started = time.perf_counter()

    def scan(entity: str) -> pl.LazyFrame:
        return pl.scan_parquet(raw_glob(root, entity), hive_partitioning=False).unique()

    metrics, posts, accounts = scan("post_daily_metrics"), scan("post"), scan("account_daily")
    metrics = metrics.with_columns(engagements=pl.sum_horizontal(
        [pl.col(c).fill_null(0) for c in ("likes", "comments", "shares", "saves")]))
    native = pl.lit(None, dtype=pl.Date)
    for platform, zone in TIMEZONES.items():
        native = pl.when(pl.col("platform") == platform).then(
            pl.col("created_at").dt.convert_time_zone(zone).dt.date()).otherwise(native)
    posts = posts.with_columns(created_date=native)
    sums = ["impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "engagements"]
    lifetime = metrics.group_by(["platform", "account_id", "post_id"]).agg([pl.col(c).sum() for c in sums])
    followers = accounts.select(["platform", "account_id", pl.col("date").alias("created_date"),
                                 pl.col("followers").alias("followers_at_post")])
    post = (posts.select(["platform", "account_id", "post_id", "created_date"])
            .join(lifetime, on=["platform", "account_id", "post_id"], how="left")
            .join(followers, on=["platform", "account_id", "created_date"], how="left")
            .with_columns(err=pl.col("engagements") * 100.0 / pl.when(pl.col("reach") != 0).then(pl.col("reach")),
                          post_er=pl.col("engagements") * 100.0
                          / pl.when(pl.col("followers_at_post") != 0).then(pl.col("followers_at_post"))))
    keys = ["platform", "account_id", "date"]
    day = metrics.group_by(keys).agg(pl.col("engagements").sum(), pl.col("reach").sum().alias("post_reach"))
    per_day = posts.group_by(["platform", "account_id", "created_date"]).agg(pl.len().alias("posts")).rename(
        {"created_date": "date"}).with_columns(pl.col("posts").cast(pl.Int64))
    previous = accounts.select(["platform", "account_id", (pl.col("date") + pl.duration(days=1)).alias("date"),
                                pl.col("followers").alias("previous")])
    base = accounts.select(keys + ["followers", "impressions", "reach"]).join(previous, on=keys, how="left")
    spine = pl.concat([base.select(keys), day.select(keys), per_day.select(keys)]).unique()
    daily = (spine.join(base, on=keys, how="left").join(day, on=keys, how="left").join(per_day, on=keys, how="left")
             .with_columns(pl.col("posts").fill_null(0), pl.col("engagements").fill_null(0),
                           pl.col("post_reach").fill_null(0),
                           net_new_followers=pl.col("followers") - pl.col("previous"))
             .with_columns(daily_er=pl.col("engagements") * 100.0
                           / pl.when(pl.col("followers") != 0).then(pl.col("followers")),
                           err=pl.col("engagements") * 100.0
                           / pl.when(pl.col("post_reach") != 0).then(pl.col("post_reach"))))
    out = root / "out" / "polars"
    out.mkdir(parents=True, exist_ok=True)
    post_frame, daily_frame = pl.collect_all([post.select(CORE_COLUMNS["kpi_post"]),
                                              daily.select(CORE_COLUMNS["kpi_daily_account"])])
    post_frame.write_parquet(out / "kpi_post.parquet")
    daily_frame.write_parquet(out / "kpi_daily_account.parquet")
    return {"posts": post_frame.height, "account_days": daily_frame.height,
            "seconds_work": time.perf_counter() - started}


def step_change(root: Path) -> dict:
    """Land the held-out day and revise the 6 days before it (likes + 1 on every post-day row)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    raw = root / "lake" / "raw"
    held = sorted((root / "held_out").glob("platform=*/entity=*/dt=*"))
    new_day = dt.date.fromisoformat(held[0].name[3:])
    backup = root / "backup"
    for folder in held:
        target = raw / folder.relative_to(root / "held_out")
        shutil.copytree(folder, target, dirs_exist_ok=True)
    revised = [new_day - dt.timedelta(days=i) for i in range(1, 7)]
    for day in revised:
        for path in raw.glob(f"platform=*/entity=post_daily_metrics/dt={day.isoformat()}/*.parquet"):
            keep = backup / path.relative_to(raw)
            if not keep.exists():
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, keep)
            table = pq.read_table(keep)
            likes = table.schema.get_field_index("likes")
            table = table.set_column(likes, "likes", pc.add(table["likes"], 1))
            pq.write_table(table, path)
    platforms = sorted({p.parts[-3][len("platform="):] for p in held})
    return {"changed": {p: [d.isoformat() for d in [new_day, *revised]] for p in platforms}}


def step_reset(root: Path) -> dict:
    """Back to the generated state: no new day, original partitions."""
    raw = root / "lake" / "raw"
    for folder in (root / "held_out").glob("platform=*/entity=*/dt=*"):
        shutil.rmtree(raw / folder.relative_to(root / "held_out"), ignore_errors=True)
    for path in (root / "backup").rglob("*.parquet"):
        shutil.copy2(path, raw / path.relative_to(root / "backup"))
    return {}


def step_incremental(root: Path, changed: dict) -> dict:
    from pipeline.transform import run_transform
    started = time.perf_counter()
    result = run_transform(settings_for(root, "bench.duckdb"), changed=changed)
    seconds = time.perf_counter() - started
    return {"mode": result["mode"], "changed_days": len(result["changed"]), "seconds_work": seconds,
            "unchanged_models": sum(m["mode"] == "unchanged" for m in result["models"])}


def step_rebuild_changed(root: Path) -> dict:
    from pipeline.transform import run_transform
    settings = settings_for(root, "bench_full.duckdb")
    for suffix in ("", ".wal"):
        Path(str(settings.warehouse_path) + suffix).unlink(missing_ok=True)
    run_transform(settings, full_refresh=True)
    return {}


# ---------------------------------------------------------------- checks (parent process)

def compare_core(root: Path, engine: str) -> list[str]:
    import duckdb
    problems = []
    con = duckdb.connect()
    for table, keys in CORE_KEYS.items():
        ours, theirs = root / "out" / "duckdb" / f"{table}.parquet", root / "out" / engine / f"{table}.parquet"
        values = [c for c in CORE_COLUMNS[table] if c not in keys]
        join = " and ".join(f"a.{k} = b.{k}" for k in keys)
        diffs = " or ".join(
            f"abs(coalesce(a.{c}::double, -1) - coalesce(b.{c}::double, -1)) > 1e-9 * greatest(1, abs(a.{c}::double))"
            if c not in ("created_date", "date") else f"a.{c}::date is distinct from b.{c}::date" for c in values)
        count_a, count_b = (con.execute(f"select count(*) from '{p}'").fetchall()[0][0] for p in (ours, theirs))
        bad = con.execute(f"select count(*) from '{ours}' a full join '{theirs}' b on {join} "
                          f"where a.{keys[0]} is null or b.{keys[0]} is null or {diffs}").fetchall()[0][0]
        if bad or count_a != count_b:
            problems.append(f"{engine} {table}: {bad} differing rows ({count_a} vs {count_b})")
    return problems


def compare_warehouses(root: Path) -> list[str]:
    import duckdb
    problems = []
    exports = {}
    for name in ("bench.duckdb", "bench_full.duckdb"):
        con = duckdb.connect(str(root / name), read_only=True)
        con.execute("set TimeZone = 'UTC'")
        tables = con.execute("select schema_name, table_name from duckdb_tables() where schema_name in "
                             "('staging', 'audit') order by all").fetchall()
        folder = root / "out" / name
        folder.mkdir(parents=True, exist_ok=True)
        for schema, table in tables:
            con.execute(f"copy (select * from {schema}.{table} order by all) to '{folder}/{schema}.{table}.csv'")
        con.close()
        exports[name] = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    a, b = exports.values()
    if sorted(a) != sorted(b):
        problems.append("incremental and full warehouses have different tables")
    problems += [f"{name} differs between incremental and full rebuild" for name in a if a.get(name) != b.get(name)]
    return problems


def run_step(root: Path, step: str, *extra: str) -> dict:
    command = [sys.executable, __file__, "--root", str(root), "--step", step, *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO)))
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"step {step} failed (status {status})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime     # other work on a shared box inflates wall time, not this
    result.update(seconds=round(seconds, 2), cpu_seconds=round(cpu, 2), peak_rss_mb=round(usage.ru_maxrss / 1024))
    print(f"{step:18s} {seconds:7.2f} s wall {cpu:7.2f} s cpu {usage.ru_maxrss / 1024:7.0f} MB  {result}",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--step")
    parser.add_argument("--changed")
    args = parser.parse_args()
    root = args.root.resolve()
    if args.step:
        steps = {"floor": step_floor, "full": step_full, "full_refresh": step_full_refresh,
                 "pandas": step_pandas, "polars": step_polars,
                 "change": step_change, "reset": step_reset, "rebuild_changed": step_rebuild_changed}
        result = (step_incremental(root, json.loads(args.changed)) if args.step == "incremental"
                  else steps[args.step](root))
        print(json.dumps(result))
        return
    shutil.rmtree(root / "out", ignore_errors=True)
    results = {"reset": run_step(root, "reset"), "floor": run_step(root, "floor"), "full": run_step(root, "full"),
               "full_refresh": run_step(root, "full_refresh"),
               "pandas": run_step(root, "pandas"), "polars": run_step(root, "polars")}
    change = run_step(root, "change")
    results["incremental"] = run_step(root, "incremental", "--changed", json.dumps(change["changed"]))
    results["rebuild_changed"] = run_step(root, "rebuild_changed")
    run_step(root, "reset")
    problems = compare_core(root, "pandas") + compare_core(root, "polars") + compare_warehouses(root)
    # Ratios use each step's work time (first read to result stored, timed inside its process): interpreter
    # start and imports (0.2-0.6 s, more for pandas) are not KPI work. Process wall times are in the results too.
    # "full" builds a new warehouse file (creating the lake views included): the conservative figure the
    # targets use; "full_refresh" rebuilds every table of an existing one, as `--full-refresh` does.
    work = {name: results[name]["seconds_work"]
            for name in ("floor", "full", "full_refresh", "pandas", "polars", "incremental")}
    full, floor, incremental = work["full"], work["floor"], work["incremental"]
    cpu = {name: results[name]["cpu_seconds"] for name in ("floor", "full", "pandas", "polars", "incremental")}
    summary = {
        "work_seconds": {name: round(value, 2) for name, value in work.items()},
        "full_vs_pandas_speedup": round(work["pandas"] / full, 2),
        "full_vs_polars_speedup": round(work["polars"] / full, 2),
        "full_vs_floor_ratio": round(full / floor, 2),
        "incremental_vs_full_ratio": round(incremental / full, 3),
        "cpu_seconds": cpu,
        "targets": {"full <= pandas / 3": full <= work["pandas"] / 3,
                    "full <= polars / 1.2": full <= work["polars"] / 1.2,
                    "full <= 4 x floor": full <= 4 * floor,
                    "incremental <= full / 20": incremental <= full / 20,
                    "full rss <= 1 GiB": results["full"]["peak_rss_mb"] <= 1024,
                    "incremental rss <= 300 MB": results["incremental"]["peak_rss_mb"] <= 300},
        "problems": problems,
        "load_average": os.getloadavg(),
    }
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "transform.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
