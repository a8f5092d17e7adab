"""kpi_daily_account and kpi_post on a hand-checked instagram fixture (see conftest.land_core)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.transform import run_transform

from .conftest import land_core

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
        # 03-01: posts p1 + p2 (p2's native day); engagements 50 + 25 = 75; post reach 600 + 400 = 1000
        (D1, "America/Los_Angeles", 1000, None, None, 5000, 3000, 40, 2, 75, 1000),
        # 03-02: net new 1010 - 1000 = 10; posts p3; engagements 10 + 15 + 80 = 105; reach 100 + 200 + 900
        (D2, "America/Los_Angeles", 1010, 10, 10 * 100 / 1000, 6000, 3500, 50, 1, 105, 1200),
        # 03-03: no posts and no post metrics -> zeros, not missing
        (D3, "America/Los_Angeles", 1030, 20, 20 * 100 / 1010, 4000, 2000, 30, 0, 0, 0),
    ]
    daily_er, err, ctr = zip(*[r[11:] for r in rows])
    assert daily_er == pytest.approx([75 * 100 / 1000, 105 * 100 / 1010, 0.0])
    assert err[:2] == pytest.approx([75 * 100 / 1000, 105 * 100 / 1200])
    assert err[2] is None                                   # no post reach that day -> NULL, not 0/0
    assert ctr[:2] == pytest.approx([(10 + 5) * 100 / (800 + 500), (2 + 3 + 20) * 100 / (200 + 300 + 1000)])


def test_zero_followers_and_reach_give_null_rates(built):
    rows = built("select date, followers, net_new_followers, audience_growth_rate, engagements, "
                 "daily_er, err, ctr "
                 "from audit.kpi_daily_account where account_id = 'ig_zero' order by date")
    assert rows == [
        (D1, 0, None, None, 1, None, None, None),
        (D2, 5, 5, None, 0, 0.0, None, None),              # growth from 0 followers -> NULL
    ]
    assert built("select err, post_er, ctr from audit.kpi_post where post_id = 'pz'") == [(None, None, None)]


def test_post_lifetime_kpis_by_hand(built):
    rows = built("select post_id, created_date, content_type, paid_status, campaign, impressions, "
                 "reach, likes, "
                 "comments, shares, saves, clicks, engagements, followers_at_post, err, post_er, ctr "
                 "from audit.kpi_post where account_id = 'ig1' order by post_id")
    head = [r[:14] for r in rows]
    assert head == [
        # p1: 800 + 200 impressions, 600 + 100 reach, likes 40 + 8, comments 5 + 1, shares 3 + 1, saves 2 + 0
        ("p1", D1, "image", "organic", "spring", 1000, 700, 48, 6, 4, 2, 12, 60, 1000),
        ("p2", D1, "image", "organic", "spring", 800, 600, 30, 6, 2, 2, 8, 40, 1000),
        ("p3", D2, "video", "paid", "launch", 1000, 900, 60, 10, 5, 5, 20, 80, 1010),
    ]
    assert [r[14] for r in rows] == pytest.approx([60 * 100 / 700, 40 * 100 / 600, 80 * 100 / 900])
    assert [r[15] for r in rows] == pytest.approx([60 * 100 / 1000, 40 * 100 / 1000, 80 * 100 / 1010])
    assert [r[16] for r in rows] == pytest.approx([12 * 100 / 1000, 8 * 100 / 800, 20 * 100 / 1000])


def test_re_pulled_duplicates_are_removed_in_staging(built):
    # 2 identical account_daily rows and 2 identical p1 metric rows landed on 03-01.
    assert built("select count(*) from staging.stg_instagram__account_daily "
                 "where account_id = 'ig1' and date = ?", [D1]) == [(1,)]
    assert built("select count(*) from staging.stg_instagram__post_daily_metrics "
                 "where post_id = 'p1' and date = ?", [D1]) == [(1,)]


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
    from .lake import land
    # API: linkedin li_brand on 03-01 and 03-02; file drop (LinkedIn followers export) for 03-02 and 03-03.
    land(settings, "linkedin", "account_daily", "2026-03-01", "li_brand", [dict(followers=500)])
    land(settings, "linkedin", "account_daily", "2026-03-02", "li_brand", [dict(followers=510)])
    land(settings, "files", "account_daily", "2026-03-02", "linkedin.li_brand", [dict(followers=999)])
    land(settings, "files", "account_daily", "2026-03-03", "linkedin.li_brand", [dict(followers=530)])
    run_transform(settings)
    assert built_rows(query) == [
        ("2026-03-01", 500, None), ("2026-03-02", 510, 10), ("2026-03-03", 530, 20)]   # 510 (API) beats 999
    # a re-dropped export for 03-03 alone, run incrementally, updates that day and the next one's growth
    land(settings, "files", "account_daily", "2026-03-03", "linkedin.li_brand", [dict(followers=540)])
    assert run_transform(settings, changed={"files": ["2026-03-03"]})["mode"] == "incremental"
    assert built_rows(query) == [
        ("2026-03-01", 500, None), ("2026-03-02", 510, 10), ("2026-03-03", 540, 30)]


def built_rows(query):
    return query("select date::varchar, followers, net_new_followers from audit.kpi_daily_account "
                 "where platform = 'linkedin' and account_id = 'li_brand' order by date")
