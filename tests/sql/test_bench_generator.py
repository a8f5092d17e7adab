"""The W10M generator at a tiny scale: its lifetime snapshots follow the re-pull policy and only go down where it
means them to, the lake runs through the transform, and the pandas and polars marts of the benchmark equal the
DuckDB ones (bench/bench_transform.py's own comparison, which is shown to catch a difference)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench.bench_transform import compare_marts, export_marts, raw_glob, step_pandas, step_polars
from bench.generate_w10m import PLATFORMS, REPULL, SNAPSHOT_AGES, START, VIEWS_PLATFORMS, generate
from pipeline.transform import run_transform

ACCOUNTS, DAYS = 2, 40          # past 28 days: the weekly re-pulls (ages 28, 35) are in the lake
LIFETIME = ["impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("bench")
    # higher rates than W10M's so a lake this small surely has decreases and omissions
    return root, generate(root, accounts=ACCOUNTS, days=DAYS, decrease_rate=0.05, omit_rate=0.02)


def lake_sql(root: Path, sql: str) -> list[tuple]:
    """``sql`` over the generated lake, held-out day included (views post_metrics, post, account_daily)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")                 # created_at::date is the UTC creation day
    for entity in ("post_metrics", "post", "account_daily"):
        files = [raw_glob(root, entity), raw_glob(root, entity).replace("/lake/raw/", "/held_out/")]
        con.execute(f"create view {entity} as select * from read_parquet({files}, hive_partitioning = true)")
    return con.execute(sql).fetchall()


def test_snapshots_follow_the_repull_policy(lake):
    root, counts = lake
    assert SNAPSHOT_AGES.tolist() == [*range(28), *range(28, 180, 7)]
    assert all(REPULL.wants(int(age)) for age in SNAPSHOT_AGES)
    posts = lake_sql(root, "select post_id, created_at::date, date_diff('day', created_at::date, date) as age "
                           "from post join post_metrics using (platform, account_id, post_id) order by all")
    assert len(posts) == counts["post_metrics"]
    ages: dict[tuple[str, dt.date], list[int]] = {}
    for post_id, created, age in posts:
        ages.setdefault((post_id, created), []).append(age)
    assert len(ages) == counts["post"]          # every post has snapshots, every snapshot a post
    last = START + dt.timedelta(days=DAYS)
    for (post_id, created), seen in ages.items():
        assert seen == [a for a in SNAPSHOT_AGES.tolist() if created + dt.timedelta(days=a) <= last], post_id
    assert any(35 in seen for seen in ages.values())
    # one pull per post per day, in the partition of that day
    assert lake_sql(root, "select count(*) from post_metrics where dt <> date") == [(0,)]
    assert lake_sql(root, "select count(*) - count(distinct (platform, post_id, date)) from post_metrics") == [(0,)]


def test_snapshots_are_lifetime_values_that_go_down_only_where_meant(lake):
    root, _ = lake
    # snapshots below the post's last reported value before them, per metric
    down = dict(zip(LIFETIME, lake_sql(root, f"""
        select {', '.join(f'sum(down_{m})' for m in LIFETIME)} from (
            select {', '.join(f'({m} < last_value({m} ignore nulls) over w)::int as down_{m}' for m in LIFETIME)}
            from post_metrics
            window w as (partition by platform, post_id order by date rows between unbounded preceding and 1 preceding))
        """)[0]))
    assert down["likes"] > 0            # the deliberate decreases of removed likes
    assert all(not down[m] for m in LIFETIME if m != "likes"), down
    # the lifetime values grow: the latest snapshot of a post holds more than its first
    assert lake_sql(root, """
        select count(*) filter (where last > first), count(*) from (
            select arg_max(video_views, date) as last, arg_min(video_views, date) as first from post_metrics
            group by platform, post_id having count(*) > 5)""")[0][0] > 0
    # views instead of impressions on instagram and facebook, on posts and account days; reach omitted sometimes
    nulls = lake_sql(root, """
        select platform, count(*) filter (where impressions is null), count(*) filter (where views is null),
               count(*) filter (where reach is null), count(*) from post_metrics group by platform""")
    for platform, no_impressions, no_views, no_reach, rows in nulls:
        meta = platform in VIEWS_PLATFORMS
        assert (no_impressions, no_views) == ((rows, 0) if meta else (0, rows)), platform
        assert 0 < no_reach < rows / 10, platform
    assert {row[0] for row in nulls} == set(PLATFORMS)
    for platform, no_impressions, no_views, rows in lake_sql(root, """
            select platform, count(*) filter (where impressions is null), count(*) filter (where views is null),
                   count(*) from account_daily group by platform"""):
        meta = platform in VIEWS_PLATFORMS
        assert (no_impressions, no_views) == ((rows, 0) if meta else (0, rows)), platform


def test_generator_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert generate(a, accounts=1, days=3) == generate(b, accounts=1, days=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_lake_runs_through_the_transform_and_engines_agree(lake, settings, query, caplog):
    root, counts = lake
    lake_settings = dataclasses.replace(settings, lake_dir=root / "lake")
    with caplog.at_level(logging.INFO, logger="goalpost.transform"):
        run_transform(lake_settings)
    # the held-out day is not in the lake
    posts = lake_sql(root, f"select count(*) from post where dt < '{START + dt.timedelta(days=DAYS)}'")[0][0]
    assert 0 < posts < counts["post"]
    assert query("select count(*), count(*) filter (where snapshots > 0) from audit.kpi_post") == [(posts, posts)]
    assert query("select count(*) from audit.kpi_daily_account where followers is not null") == [
        (len(PLATFORMS) * ACCOUNTS * DAYS,)]
    lines = [r.getMessage() for r in caplog.records if "audit.kpi_post " in r.getMessage()]
    assert len(lines) == 1 and f" {posts} rows " in lines[0] and lines[0].endswith(" ms")
    # the snapshots carry the deliberate decreases and omissions into the increments
    decreased, other, omitted = query(
        "select count(*) filter (where decreased_metrics = 'likes'), "
        "count(*) filter (where decreased_metrics <> 'likes'), "
        "count(*) filter (where reach is null and snapshot_number > 1) "
        "from intermediate.int_post_metrics__snapshots")[0]
    assert decreased > 0 and other == 0 and omitted > 0

    # pandas and polars (bench/kpis_*.py) against the DuckDB marts, compared as the benchmark does
    export_marts(lake_settings, root / "out" / "duckdb")
    assert step_pandas(root)["posts"] == posts
    assert step_polars(root)["posts"] == posts
    assert compare_marts(root, "pandas") == []
    assert compare_marts(root, "polars") == []
    # ... and that comparison does catch a wrong increment (one account-day's post reach off by one)
    path = root / "out" / "pandas" / "kpi_daily_account.parquet"
    daily = pd.read_parquet(path)
    daily.loc[daily.index[daily["post_reach"] > 0][0], "post_reach"] += 1
    daily.to_parquet(path)
    assert compare_marts(root, "pandas") == [f"pandas kpi_daily_account: 1 differing rows ({len(daily)} vs {len(daily)})"]
