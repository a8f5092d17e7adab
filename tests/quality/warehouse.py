"""Tiny warehouses for the quality tests, built with DuckDB SQL (no dependency on sql/)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.schemas import schema_for

AS_OF = "2026-11-25"

KPI_DAILY_ACCOUNT = """
create table audit.kpi_daily_account (
    platform varchar, account_id varchar, date date, report_timezone varchar,
    followers bigint, net_new_followers bigint, audience_growth_rate double,
    impressions bigint, views bigint, reach bigint, profile_views bigint, posts bigint,
    engagements bigint, daily_er double
)
"""

KPI_POST = """
create table audit.kpi_post (
    platform varchar, account_id varchar, post_id varchar, created_at timestamptz,
    content_type varchar, is_paid boolean, campaign varchar,
    snapshots bigint, metrics_as_of date, impressions_metric varchar,
    impressions bigint, reach bigint, likes bigint, comments bigint, shares bigint, saves bigint,
    clicks bigint, engagements bigint, decreased_metrics varchar, err double, post_er double
)
"""


def create_raw_view_table(con: duckdb.DuckDBPyConnection, platform: str, entity: str,
                          drop_column: str | None = None) -> None:
    """An empty raw.<platform>__<entity> table shaped like the transform's raw view."""
    empty = schema_for(entity).empty_table()
    if drop_column:
        empty = empty.drop_columns([drop_column])
    con.register("empty_entity", empty)
    con.execute(f"create table raw.{platform}__{entity} as "
                "select *, cast(null as date) as partition_date from empty_entity")
    con.unregister("empty_entity")


def build_clean(path: Path) -> None:
    """Ten days of one Instagram account, two posts with one lifetime snapshot each; every expectation holds.

    acc1, 2026-11-15 .. 2026-11-24: followers 1000 + 10*i, net_new 10, growth = 10/(990+10*i)*100,
    impressions 100, reach 80, 10 engagements, daily_er = 10 / followers * 100 (= 1.0 on day 0).
    Each post's snapshot is pulled (UTC day) on its creation day.
    p1: 50 impressions, 40 reach, likes 4 + comments 2 + shares 1 + saves 1 = 8 engagements,
        err = 8/40*100 = 20.0, post_er = 8/1000*100 = 0.8.
    p2: 50 impressions, 40 reach, 2 likes = 2 engagements, err = 5.0, post_er = 2/1010*100.
    """
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw; create schema audit")
        for entity in ("account_daily", "post", "post_metrics"):
            create_raw_view_table(con, "instagram", entity)
        con.execute("""
            insert into raw.instagram__post (platform, account_id, post_id, created_at, content_type,
                                             is_paid, author_type, schema_version, partition_date)
            values ('instagram', 'acc1', 'p1', timestamptz '2026-11-15 12:00:00+00', 'image', false, 'brand',
                    1, date '2026-11-15'),
                   ('instagram', 'acc1', 'p2', timestamptz '2026-11-16 12:00:00+00', 'reel', true, 'brand',
                    1, date '2026-11-16')
        """)
        con.execute("""
            insert into raw.instagram__post_metrics (
                platform, account_id, post_id, date,
                impressions, reach, likes, comments, shares, saves, clicks, schema_version, partition_date)
            values ('instagram', 'acc1', 'p1', date '2026-11-15', 50, 40, 4, 2, 1, 1, 3, 2, date '2026-11-15'),
                   ('instagram', 'acc1', 'p2', date '2026-11-16', 50, 40, 2, 0, 0, 0, 1, 2, date '2026-11-16')
        """)
        con.execute("""
            insert into raw.instagram__account_daily (
                platform, account_id, date, report_timezone, followers,
                impressions, reach, schema_version, partition_date)
            select 'instagram', 'acc1', date '2026-11-15' + i, 'America/Los_Angeles', 1000 + 10 * i,
                   100, 80, 1, date '2026-11-15' + i
            from (select cast(range as integer) as i from range(10)) as days
        """)
        con.execute("create schema staging")
        con.execute("create table staging.stg_instagram__post_metrics as "
                    "select * exclude (impressions), coalesce(impressions, views) as impressions, "
                    "'impressions' as impressions_metric from raw.instagram__post_metrics")
        con.execute(KPI_DAILY_ACCOUNT)
        con.execute("""
            insert into audit.kpi_daily_account
            select 'instagram', 'acc1', date '2026-11-15' + i, 'America/Los_Angeles',
                   1000 + 10 * i, 10, 10 * 100.0 / (990 + 10 * i), 100, null, 80, 5, 0, 10,
                   10 * 100.0 / (1000 + 10 * i)
            from (select cast(range as integer) as i from range(10)) as days
        """)
        con.execute(KPI_POST)
        con.execute("""
            insert into audit.kpi_post values
            ('instagram', 'acc1', 'p1', timestamptz '2026-11-15 12:00:00+00', 'image', false, null,
             1, date '2026-11-15', 'impressions', 50, 40, 4, 2, 1, 1, 3, 8, null, 20.0, 0.8),
            ('instagram', 'acc1', 'p2', timestamptz '2026-11-16 12:00:00+00', 'reel', true, 'launch',
             1, date '2026-11-16', 'impressions', 50, 40, 2, 0, 0, 0, 1, 2, null, 5.0, 2 * 100.0 / 1010)
        """)


def build_bad(path: Path) -> None:
    """The clean warehouse plus one defect per kind of check (see test_bad_inputs_corpus)."""
    build_clean(path)
    with duckdb.connect(str(path)) as con:
        # wrong columns: a raw post view without `caption`
        con.execute("create temp table posts as select * exclude (caption) from raw.instagram__post")
        con.execute("drop table raw.instagram__post")
        create_raw_view_table(con, "instagram", "post", drop_column="caption")
        con.execute("insert into raw.instagram__post select * from posts")
        # a re-pulled lifetime snapshot landed twice in raw (same post, same pull day)
        con.execute("insert into raw.instagram__post_metrics "
                    "select * from raw.instagram__post_metrics where post_id = 'p1'")
        # ... and staging failed to deduplicate it
        con.execute("insert into staging.stg_instagram__post_metrics "
                    "select * from staging.stg_instagram__post_metrics where post_id = 'p1'")
        # duplicate at the grain of kpi_post
        con.execute("insert into audit.kpi_post select * from audit.kpi_post where post_id = 'p1'")
        # a post created after the as-of day
        con.execute("""insert into audit.kpi_post values
            ('instagram', 'acc1', 'p3', timestamptz '2026-11-27 10:00:00+00', 'image', false, null,
             0, null, null, 0, 0, 0, 0, 0, 0, 0, 0, null, null, 0.0)""")
        # a negative count
        con.execute("update audit.kpi_daily_account set reach = -5 where date = date '2026-11-20'")
        # a null in a key column
        con.execute("""insert into audit.kpi_daily_account values
            ('instagram', null, date '2026-11-24', 'America/Los_Angeles',
             500, 0, 0.0, 100, null, 80, 0, 0, 0, 0.0)""")
        # a 50x spike: 5000 impressions after nine days of 100
        con.execute("update audit.kpi_daily_account set impressions = 5000 "
                    "where account_id = 'acc1' and date = date '2026-11-24'")
        # stale data: acc2's newest day is 2026-11-18, 7 days before the as-of day (limit 3)
        con.execute("""
            insert into audit.kpi_daily_account
            select 'instagram', 'acc2', date '2026-11-15' + i, 'America/Los_Angeles',
                   200, 0, 0.0, 50, null, 40, 1, 0, 2, 1.0
            from (select cast(range as integer) as i from range(4)) as days
        """)
        # a table nobody wrote a suite for
        con.execute("create table audit.kpi_mystery as select 1 as x")


def build_duplicate_only(path: Path) -> None:
    build_clean(path)
    with duckdb.connect(str(path)) as con:
        con.execute("insert into audit.kpi_post select * from audit.kpi_post where post_id = 'p1'")


POST_METRIC_SNAPSHOTS = """
create table intermediate.int_post_metrics__snapshots (
    platform varchar, account_id varchar, post_id varchar, date date, impressions_metric varchar,
    impressions bigint, views bigint, reach bigint, likes bigint, comments bigint, shares bigint, saves bigint,
    clicks bigint, video_views bigint, engagements bigint,
    new_impressions bigint, new_views bigint, new_reach bigint, new_likes bigint, new_comments bigint,
    new_shares bigint, new_saves bigint, new_clicks bigint, new_video_views bigint, new_engagements bigint,
    decreased_metrics varchar, snapshot_number bigint, is_latest boolean, partition_date date
)
"""

# each post's latest snapshot, as sql/intermediate/int_post_metrics__lifetime.sql selects it
POST_METRICS_LIFETIME = """
create view intermediate.int_post_metrics__lifetime as
select platform, account_id, post_id, snapshot_number as snapshots, date as metrics_as_of, impressions_metric,
       impressions, views, reach, likes, comments, shares, saves, clicks, video_views, engagements,
       decreased_metrics
from intermediate.int_post_metrics__snapshots
where is_latest
"""


def _snapshot(post_id: str, day: str, number: int, latest: bool, lifetime: tuple, new: tuple,
              decreased: str | None = None) -> str:
    """One snapshot row: lifetime and new_ values as (impressions, reach, likes, comments, shares, saves, clicks)
    (views and video_views not reported: NULL), engagements derived."""
    def values(v: tuple) -> str:
        impressions, reach, likes, comments, shares, saves, clicks = ("null" if x is None else str(x) for x in v)
        engagements = sum(x or 0 for x in v[2:6])
        return f"{impressions}, null, {reach}, {likes}, {comments}, {shares}, {saves}, {clicks}, null, {engagements}"
    return (f"('instagram', 'acc1', '{post_id}', date '{day}', 'impressions', {values(lifetime)}, {values(new)}, "
            f"{'null' if decreased is None else repr(decreased)}, {number}, {str(latest).lower()}, date '{day}')")


def build_snapshots(path: Path, *, defects: bool = False) -> None:
    """Lifetime post-metric snapshots of acc1 (int_post_metrics__snapshots, with the lifetime view over it).

    Clean: p1 pulled 2026-11-15 and 11-16 (likes 4 -> 6, impressions 50 -> 80), p2 pulled 11-16; every
    expectation holds. ``defects`` adds what a platform may report (warnings) and broken invariants of ours
    (critical), see test_post_metric_snapshot_checks_by_severity."""
    rows = [
        _snapshot("p1", "2026-11-15", 1, False, (50, 40, 4, 2, 1, 1, 3), (50, 40, 4, 2, 1, 1, 3)),
        _snapshot("p1", "2026-11-16", 2, True, (80, 60, 6, 2, 1, 1, 4), (30, 20, 2, 0, 0, 0, 1)),
        _snapshot("p2", "2026-11-16", 1, True, (50, 40, 2, 0, 0, 0, 1), (50, 40, 2, 0, 0, 0, 1)),
    ]
    if defects:
        rows = [
            _snapshot("p1", "2026-11-15", 1, False, (50, 40, 4, 2, 1, 1, 3), (50, 40, 4, 2, 1, 1, 3)),
            # the platform revised p1's comments down (2 -> 1): recorded, gained 0
            _snapshot("p1", "2026-11-16", 2, True, (80, 60, 6, 1, 1, 1, 4), (30, 20, 2, 0, 0, 0, 1),
                      decreased="comments"),
            _snapshot("p2", "2026-11-16", 1, False, (50, 40, 2, 0, 0, 0, 1), (50, 40, 2, 0, 0, 0, 1)),
            # the platform left saves out of p2's second snapshot; and our increment of clicks went negative
            _snapshot("p2", "2026-11-17", 2, True, (50, 40, 2, 0, 0, None, 1), (0, 0, 0, 0, 0, None, -1)),
            # p3's two snapshots are both marked latest
            _snapshot("p3", "2026-11-16", 1, True, (10, 8, 5, 0, 0, 0, 0), (10, 8, 5, 0, 0, 0, 0)),
            _snapshot("p3", "2026-11-17", 2, True, (20, 15, 7, 0, 0, 0, 0), (10, 7, 2, 0, 0, 0, 0)),
        ]
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.execute(POST_METRIC_SNAPSHOTS)
        con.execute("insert into intermediate.int_post_metrics__snapshots values " + ", ".join(rows))
        con.execute(POST_METRICS_LIFETIME)
