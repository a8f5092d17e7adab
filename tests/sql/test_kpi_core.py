"""kpi_daily_account and kpi_post on a hand-checked instagram fixture (see conftest.land_core)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.transform import run_transform

from .conftest import land_core
from .lake import land, ts

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


@pytest.fixture
def built(settings, query):
    land_core(settings)
    run_transform(settings)
    return query


def test_daily_account_kpis_by_hand(built):
    rows = built("select date, report_timezone, followers, net_new_followers, audience_growth_rate, "
                 "impressions, reach, profile_views, posts, engagements, post_reach, daily_er, err, ctr "
                 "from audit.kpi_daily_account where account_id = 'ig1' order by date")
    assert [r[:11] for r in rows] == [
        # 03-01: posts p1 + p2 (p2's native day); nothing pulled that day, so no post activity observed
        (D1, "America/Los_Angeles", 1000, None, None, 5000, 3000, 40, 2, 0, 0),
        # 03-02: net new 1010 - 1000 = 10; posts p3; the first pull brings p1's 50 + p2's 25 engagements and
        # reach 600 + 400 (the duplicate snapshot of p1 counts once)
        (D2, "America/Los_Angeles", 1010, 10, 10 * 100 / 1000, 6000, 3500, 50, 1, 75, 1000),
        # 03-03: gains since 03-02: p1 60 - 50 = 10, p2 40 - 25 = 15, p3 (first pull) 80; reach 100 + 200 + 900
        (D3, "America/Los_Angeles", 1030, 20, 20 * 100 / 1010, 4000, 2000, 30, 0, 105, 1200),
    ]
    daily_er, err, ctr = zip(*[r[11:] for r in rows])
    assert daily_er == pytest.approx([0.0, 75 * 100 / 1010, 105 * 100 / 1030])
    assert err[0] is None                                   # no post reach that day -> NULL, not 0/0
    assert err[1:] == pytest.approx([75 * 100 / 1000, 105 * 100 / 1200])
    assert ctr[1:] == pytest.approx([(10 + 5) * 100 / (800 + 500), (2 + 3 + 20) * 100 / (200 + 300 + 1000)])


def test_zero_followers_and_reach_give_null_rates(built):
    rows = built("select date, followers, net_new_followers, audience_growth_rate, engagements, "
                 "daily_er, err, ctr "
                 "from audit.kpi_daily_account where account_id = 'ig_zero' order by date")
    assert rows == [
        (D1, 0, None, None, 1, None, None, None),
        (D2, 5, 5, None, 0, 0.0, None, None),              # growth from 0 followers -> NULL
    ]
    assert built("select err, post_er, ctr from audit.kpi_post where post_id = 'pz'") == [(None, None, None)]


def test_post_kpis_are_the_latest_lifetime_snapshot(built):
    rows = built("select post_id, created_date, content_type, paid_status, campaign, impressions, "
                 "reach, likes, "
                 "comments, shares, saves, clicks, engagements, followers_at_post, err, post_er, ctr, "
                 "snapshots, metrics_as_of "
                 "from audit.kpi_post where account_id = 'ig1' order by post_id")
    head = [r[:14] for r in rows]
    assert head == [
        # the 03-03 snapshot of each post, as reported (never 03-02 + 03-03 summed)
        ("p1", D1, "image", "organic", "spring", 1000, 700, 48, 6, 4, 2, 12, 60, 1000),
        ("p2", D1, "image", "organic", "spring", 800, 600, 30, 6, 2, 2, 8, 40, 1000),
        ("p3", D2, "video", "paid", "launch", 1000, 900, 60, 10, 5, 5, 20, 80, 1010),
    ]
    assert [r[14] for r in rows] == pytest.approx([60 * 100 / 700, 40 * 100 / 600, 80 * 100 / 900])
    assert [r[15] for r in rows] == pytest.approx([60 * 100 / 1000, 40 * 100 / 1000, 80 * 100 / 1010])
    assert [r[16] for r in rows] == pytest.approx([12 * 100 / 1000, 8 * 100 / 800, 20 * 100 / 1000])
    assert [r[17:] for r in rows] == [(2, D3), (2, D3), (1, D3)]


def test_re_pulled_duplicates_are_removed_in_staging(built):
    # 2 identical account_daily rows landed on 03-01 and 2 identical p1 snapshots on pull day 03-02.
    assert built("select count(*) from staging.stg_instagram__account_daily "
                 "where account_id = 'ig1' and date = ?", [D1]) == [(1,)]
    assert built("select count(*) from staging.stg_instagram__post_metrics "
                 "where post_id = 'p1' and date = ?", [D2]) == [(1,)]


def land_likes(settings, pulls: list[tuple[str, list[int]]]) -> None:
    """Post q1 of account ig_life, created 2026-04-01; each pull day lands the lifetime likes listed."""
    land(settings, "instagram", "post", "2026-04-01", "ig_life", [
        {"post_id": "q1", "created_at": ts("2026-04-01T15:00"), "content_type": "image", "is_paid": False}])
    for day, likes in pulls:
        land(settings, "instagram", "post_metrics", day, "ig_life",
             [{"post_id": "q1", "likes": value} for value in likes])


def test_lifetime_likes_become_daily_increments_and_one_latest_value(settings, query):
    # lifetime likes pulled as 10, 12, 12, 15 on four days; the third day's pull came twice (same value)
    land_likes(settings, [("2026-04-02", [10]), ("2026-04-03", [12]), ("2026-04-04", [12, 12]),
                          ("2026-04-05", [15])])
    run_transform(settings)
    assert query("select date::varchar, likes, new_likes, new_engagements, decreased_metrics "
                 "from intermediate.int_post_metrics__snapshots where post_id = 'q1' order by date") == [
        ("2026-04-02", 10, 10, 10, None),     # the first pull gains its whole value
        ("2026-04-03", 12, 2, 2, None),       # 12 - 10
        ("2026-04-04", 12, 0, 0, None),       # 12 - 12, counted once although pulled twice
        ("2026-04-05", 15, 3, 3, None),       # 15 - 12
    ]
    assert query("select likes, engagements, snapshots from audit.kpi_post where post_id = 'q1'") == [(15, 15, 4)]
    # the account's daily engagement is the increments, which add up to the latest lifetime value: 10+2+0+3 = 15
    assert query("select sum(engagements) from audit.kpi_daily_account where account_id = 'ig_life'") == [(15,)]


def test_a_lifetime_decrease_is_recorded_never_negative(settings, query):
    land_likes(settings, [("2026-04-02", [10]), ("2026-04-03", [8]), ("2026-04-04", [11])])
    run_transform(settings)
    assert query("select date::varchar, likes, new_likes, decreased_metrics "
                 "from intermediate.int_post_metrics__snapshots where post_id = 'q1' order by date") == [
        ("2026-04-02", 10, 10, None),
        ("2026-04-03", 8, 0, "likes"),        # revised down by the platform: recorded, gains 0
        ("2026-04-04", 11, 3, None),          # 11 - 8
    ]
    assert query("select likes, decreased_metrics from audit.kpi_post where post_id = 'q1'") == [(11, None)]


def test_an_omitted_metric_is_null_and_never_doubles_the_next_gain(settings, query):
    land(settings, "instagram", "post", "2026-04-01", "ig_life", [
        {"post_id": "q1", "created_at": ts("2026-04-01T15:00"), "content_type": "image", "is_paid": False}])
    land(settings, "instagram", "post_metrics", "2026-04-02", "ig_life", [{"post_id": "q1", "likes": 10, "saves": 4}])
    land(settings, "instagram", "post_metrics", "2026-04-03", "ig_life", [{"post_id": "q1", "likes": 12}])
    land(settings, "instagram", "post_metrics", "2026-04-04", "ig_life", [{"post_id": "q1", "likes": 13, "saves": 5}])
    run_transform(settings)
    assert query("select date::varchar, saves, new_saves, new_engagements "
                 "from intermediate.int_post_metrics__snapshots where post_id = 'q1' order by date") == [
        ("2026-04-02", 4, 4, 14),
        ("2026-04-03", None, None, 2),        # saves omitted that day: unknown, not 0
        ("2026-04-04", 5, 1, 2),              # 5 - 4 (the last reported value), not 5 - 0
    ]


def test_empty_lake_builds_typed_empty_tables(settings, query):
    result = run_transform(settings)
    assert result["mode"] == "full"
    assert query("select count(*) from audit.kpi_daily_account") == [(0,)]
    types = dict(query("select column_name, data_type from duckdb_columns() "
                       "where schema_name = 'staging' and table_name = 'stg_tiktok__post'"))
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["is_paid"] == "BOOLEAN"
    assert types["partition_date"] == "DATE"


def test_file_drops_become_rows_of_their_network_and_api_rows_win(settings, query):
    # API: linkedin li_brand on 03-01 and 03-02; file drop (LinkedIn followers export) for 03-02 and 03-03.
    land(settings, "linkedin", "account_daily", "2026-03-01", "li_brand", [{"followers": 500}])
    land(settings, "linkedin", "account_daily", "2026-03-02", "li_brand", [{"followers": 510}])
    land(settings, "files", "account_daily", "2026-03-02", "linkedin.li_brand", [{"followers": 999}])
    land(settings, "files", "account_daily", "2026-03-03", "linkedin.li_brand", [{"followers": 530}])
    run_transform(settings)
    assert built_rows(query) == [
        ("2026-03-01", 500, None), ("2026-03-02", 510, 10), ("2026-03-03", 530, 20)]   # 510 (API) beats 999
    # a re-dropped export for 03-03 alone, run incrementally, updates that day and the next one's growth
    land(settings, "files", "account_daily", "2026-03-03", "linkedin.li_brand", [{"followers": 540}])
    assert run_transform(settings, changed={"files": ["2026-03-03"]})["mode"] == "incremental"
    assert built_rows(query) == [
        ("2026-03-01", 500, None), ("2026-03-02", 510, 10), ("2026-03-03", 540, 30)]


def built_rows(query):
    return query("select date::varchar, followers, net_new_followers from audit.kpi_daily_account "
                 "where platform = 'linkedin' and account_id = 'li_brand' order by date")


def test_post_exports_become_posts_of_their_network_and_the_api_wins_a_shared_key(settings, query):
    # a Meta Business Suite export of ig1 (landed as platform 'files', account 'instagram.ig1'): posts e1 and p1,
    # lifetime values as of the export day 04-03; the API has p1 too (created and pulled on 04-03 as well)
    land(settings, "files", "post", "2026-04-01", "instagram.ig1", [
        {"post_id": "e1", "created_at": ts("2026-04-01T05:00"), "content_type": "image"},   # 22:00 Pacific on 03-31
        {"post_id": "p1", "created_at": ts("2026-04-01T18:00"), "content_type": "image", "caption": "from the export"}])
    land(settings, "files", "post_metrics", "2026-04-03", "instagram.ig1", [
        {"post_id": "e1", "views": 500, "reach": 400, "likes": 30, "comments": 3},
        {"post_id": "p1", "views": 900, "reach": 700, "likes": 50, "comments": 5}])
    land(settings, "instagram", "post", "2026-04-01", "ig1", [
        {"post_id": "p1", "created_at": ts("2026-04-01T18:00"), "content_type": "image", "caption": "from the API"}])
    land(settings, "instagram", "post_metrics", "2026-04-03", "ig1", [
        {"post_id": "p1", "views": 950, "reach": 720, "likes": 55, "comments": 6}])
    run_transform(settings)
    assert query("select post_id, source_platform, created_date::varchar, report_timezone, caption "
                 "from intermediate.int_posts__unioned where account_id = 'ig1' order by post_id") == [
        ("e1", "files", "2026-03-31", "America/Los_Angeles", None),     # the network's native day, not UTC's
        ("p1", "instagram", "2026-04-01", "America/Los_Angeles", "from the API")]
    # e1: the export's lifetime values (30 + 3); p1: the API snapshot of the same day wins (55 + 6)
    assert query("select platform, post_id, likes, engagements, snapshots from audit.kpi_post "
                 "where account_id = 'ig1' order by post_id") == [
        ("instagram", "e1", 30, 33, 1), ("instagram", "p1", 55, 61, 1)]
