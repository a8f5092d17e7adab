"""Rollups, listening, customer service, web traffic, leads and A/B marts on hand-checked fixtures."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from scipy.stats import norm

from pipeline.transform import run_transform

from .conftest import land_core, metrics_row
from .lake import land, ts


def test_period_rollups_err_variants_and_reach_upper_bound(settings, query):
    land_core(settings)
    run_transform(settings)
    # March, instagram image/organic: p1 (60 eng / 700 reach), p2 (40 / 600), pz (1 / 0 -> ERR NULL, left out)
    row = query("select posts, engagements, reach_upper_bound, err_mean_of_posts, err_ratio_of_sums "
                "from audit.kpi_period_content where period = 'month' and period_start = '2026-03-01' "
                "and platform = 'instagram' and content_type = 'image' and paid_status = 'organic'")
    assert row[0][:3] == (3, 60 + 40 + 1, 700 + 600 + 0)
    assert row[0][3] == pytest.approx((60 * 100 / 700 + 40 * 100 / 600) / 2)
    assert row[0][4] == pytest.approx(101 * 100 / 1300)
    # ig1 weeks: 03-01 is a Sunday (week of Mon 02-23); 03-02..03-03 are the week of 03-02.
    rows = query("select period, period_start::varchar, days, followers_start, followers_end, "
                 "net_new_followers, "
                 "audience_growth_rate, reach_upper_bound from audit.kpi_period_account "
                 "where account_id = 'ig1' order by period, period_start")
    assert rows == [
        # month: no day before 03-01 in the data, so followers_start is the first day's own value
        ("month", "2026-03-01", 3, 1000, 1030, 30, 30 * 100 / 1000, 3000 + 3500 + 2000),
        ("week", "2026-02-23", 1, 1000, 1000, 0, 0.0, 3000),
        ("week", "2026-03-02", 2, 1000, 1030, 30, 30 * 100 / 1000, 3500 + 2000),  # start = end of 03-01
    ]
    campaigns = query("select campaign, posts, engagements from audit.kpi_period_campaign "
                      "where period = 'month' order by campaign")
    assert campaigns == [("(none)", 1, 1), ("launch", 1, 80), ("spring", 2, 100)]


def test_customer_service_by_hand(settings, query):
    def conversation(cid, opened, responded, agent, csat):
        return {"conversation_id": cid, "opened_at": ts(opened), "agent_id": agent, "csat_score": csat,
                    "first_response_at": ts(responded) if responded else None}
    land(settings, "facebook", "support_conversations", "2026-03-02", "fb1", [
        conversation("c1", "2026-03-02T17:00", "2026-03-02T17:02", "a1", 5),    # 2 min
        conversation("c2", "2026-03-02T18:00", "2026-03-02T18:10", "a1", 3),    # 10 min
        conversation("c3", "2026-03-02T19:00", "2026-03-02T19:30", "a2", 4),    # 30 min
        conversation("c4", "2026-03-02T20:00", None, None, None),                # never answered
    ])
    # 06:00 UTC on 03-03 is 22:00 Pacific on 03-02: Facebook's native day is 03-02.
    land(settings, "facebook", "support_conversations", "2026-03-03", "fb1", [
        conversation("c5", "2026-03-03T06:00", "2026-03-03T06:04", "a2", None)])  # 4 min
    run_transform(settings)
    assert query("select date::varchar, conversations, responded, median_first_response_minutes, "
                 "responses_within_sla, pct_within_sla, csat_responses, satisfied, csat, agents, "
                 "handled_per_agent "
                 "from audit.kpi_daily_customer_service") == [
        # median of 2, 4, 10, 30 = (4 + 10) / 2; within 15 min: 2, 10, 4 -> 3 of 5; CSAT 5, 4 of 5, 3, 4
        ("2026-03-02", 5, 4, 7.0, 3, 3 * 100 / 5, 3, 2, 2 * 100 / 3, 2, 4 / 2)]


def mention(mid, created, brand="acme", competitor=False, sentiment="neutral", followers=None, ugc=False,
            hashtags=None):
    return {"mention_id": mid, "created_at": ts(created), "brand": brand, "is_competitor": competitor,
                "sentiment": sentiment, "author_followers": followers, "is_ugc": ugc, "hashtags": hashtags}


def test_share_of_voice_sentiment_potential_reach_hashtags(settings, query):
    land(settings, "instagram", "mentions", "2026-03-01", "ig1", [
        mention("m1", "2026-03-01T18:00", sentiment="positive", followers=100, ugc=True,
                hashtags="spring sale"),
        mention("m2", "2026-03-01T18:05", sentiment="negative", followers=50, hashtags="sale"),
        mention("m3", "2026-03-01T18:10", sentiment="neutral", followers=None),
        mention("m4", "2026-03-01T18:15", brand="rival", competitor=True, sentiment="positive",
                followers=1000),
    ])
    run_transform(settings)
    assert query("select brand_mentions, competitor_mentions, share_of_voice, net_sentiment, "
                 "potential_reach, "
                 "ugc_mentions, is_crisis_spike from audit.kpi_daily_mentions") == [
        # SoV 3 / (3 + 1); net (1 positive - 1 negative) / 3; reach 100 + 50 (unknown followers skipped)
        (3, 1, 3 * 100 / 4, 0.0, 150, 1, False)]
    assert query("select hashtag, hashtag_mentions from audit.kpi_daily_hashtags order by hashtag") == [
        ("sale", 2), ("spring", 1)]
    assert query("select brand, mentions, share_of_voice from audit.kpi_competitor_benchmark order "
                 "by brand") == [
        ("acme", 3, 75.0), ("rival", 1, 25.0)]


def test_a_post_naming_two_brands_is_a_mention_of_each(settings, query):
    # X recent search runs one query per brand: a post naming acme and rival comes back from both
    land(settings, "x", "mentions", "2026-03-01", "x1", [
        mention("t1", "2026-03-01T18:00"), mention("t1", "2026-03-01T18:00", brand="rival", competitor=True),
        mention("t1", "2026-03-01T18:00"),                                   # re-pulled duplicate of the first
    ])
    run_transform(settings)
    assert query("select mention_id, brand from staging.stg_x__mentions order by brand") == [
        ("t1", "acme"), ("t1", "rival")]
    assert query("select brand_mentions, competitor_mentions, share_of_voice from audit.kpi_daily_mentions") == [
        (1, 1, 50.0)]


def test_crisis_spike_and_recovery(settings, query):
    start = dt.date(2026, 3, 1)
    for offset in range(12):
        day = start + dt.timedelta(days=offset)
        stamp = f"{day.isoformat()}T12:00"
        if offset < 10:      # 10 calm days: 1 positive + 1 negative
            rows = [mention(f"p{offset}", stamp, sentiment="positive"),
                    mention(f"n{offset}", stamp, sentiment="negative")]
        elif offset == 10:   # spike: 8 negatives (baseline mean 1, stddev 0) and 1 positive
            rows = [mention(f"p{offset}", stamp, sentiment="positive")]
            rows += [mention(f"n{offset}_{i}", stamp, sentiment="negative") for i in range(8)]
        else:                # 10 positives
            rows = [mention(f"p{offset}_{i}", stamp, sentiment="positive") for i in range(10)]
        land(settings, "x", "mentions", day.isoformat(), "x1", rows)
    run_transform(settings)
    spikes = query("select date::varchar, negative_mentions, negative_baseline_mean, "
                   "pre_spike_net_sentiment_7d, "
                   "recovered_on::varchar, days_to_recover from audit.kpi_crisis_events")
    # 7-day window before the spike (03-04..03-10): (7 - 7) / 14 = 0;
    # 03-12 (03-06..03-12): pos 5 + 1 + 10 = 16, neg 5 + 8 = 13 -> 3/29 >= 0, recovered after 1 day
    assert spikes == [("2026-03-11", 8, 1.0, 0.0, "2026-03-12", 1)]
    trend = dict(query("select date::varchar, net_sentiment_7d from audit.kpi_daily_mentions"))
    # 03-05..03-11: pos 6 + 1 = 7, neg 6 + 8 = 14 of 21 brand mentions
    assert trend["2026-03-11"] == pytest.approx((7 - 14) / 21)
    assert trend["2026-03-12"] == pytest.approx(3 / 29)


def test_web_traffic_from_social(settings, query):
    def row(source, medium, sessions, bounces, conversions, campaign=None, revenue=0.0):
        return {"source": source, "medium": medium, "campaign": campaign, "sessions": sessions, "engaged_sessions": 0,
                    "bounces": bounces, "conversions": conversions, "revenue": revenue, "signups": 0, "new_customers": 0}
    land(settings, "ga4", "web_sessions", "2026-03-01", "prop1", [
        row("l.facebook.com", "referral", 100, 40, 5, revenue=500.0),
        row("linkedin", "social", 50, 10, 5, campaign="launch"),
        row("google", "organic", 200, 100, 10),
        row("newsite", "social", 10, 0, 0),
    ])
    run_transform(settings)
    assert query("select platform, sessions, social_sessions, conversion_rate, bounce_rate "
                 "from audit.kpi_daily_web_traffic order by platform") == [
        ("facebook", 100, 100, 5.0, 40.0),
        ("linkedin", 50, 50, 10.0, 20.0),
        ("non_social", 200, 0, 5.0, 50.0),
        ("other_social", 10, 10, 0.0, 0.0),
    ]
    # dictionary rollups: conversion rate (5 + 5 + 0) / (100 + 50 + 10); social share 10 / 20 conversions
    assert query("select sum(social_conversions) * 100.0 / sum(social_sessions), "
                 "sum(social_conversions) * 100.0 / sum(conversions) from audit.kpi_daily_web_traffic") == [
        (10 * 100 / 160, 50.0)]


def test_leads_and_recruiting(settings, query):
    land(settings, "linkedin", "leads", "2026-03-01", "li1", [
        {"campaign": "launch", "lead_type": "lead_form", "leads": 3},
        {"campaign": None, "lead_type": "event_registration", "leads": 2},
        {"campaign": None, "lead_type": "newsletter", "leads": 4}])
    land(settings, "linkedin", "applications", "2026-03-01", "li1", [
        {"job_id": "j1", "applications": 10, "hires": 1}, {"job_id": "j2", "applications": 5, "hires": 0}])
    run_transform(settings)
    assert query("select leads, lead_form_leads, event_registrations, newsletter_signups from "
                 "audit.kpi_daily_leads") == [
        (3 + 2 + 4, 3, 2, 4)]
    assert query("select jobs, applications, hires, hire_rate from audit.kpi_daily_recruiting") == [
        (2, 15, 1, 1 * 100 / 15)]


def test_ab_test_matches_scipy(settings, query):
    land(settings, "instagram", "post", "2026-03-01", "ig1", [
        {"post_id": "a", "created_at": ts("2026-03-01T18:00"), "campaign": "ab1", "variant": "A"},
        {"post_id": "b", "created_at": ts("2026-03-01T18:00"), "campaign": "ab1", "variant": "B"}])
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [
        metrics_row("a", 1000, 900, 30, 5, 5, 10, 50),
        metrics_row("b", 1000, 900, 40, 10, 10, 10, 80)])
    run_transform(settings)
    rows = query("select variant, is_control, ctr, ctr_z, ctr_p_value, er_z, er_p_value "
                 "from audit.kpi_ab_test order by variant")
    assert rows[0][:2] == ("A", True) and rows[0][3:] == (None, None, None, None)
    # CTR 50/1000 vs 80/1000; pooled p = 130/2000
    pooled = 130 / 2000
    z = (80 / 1000 - 50 / 1000) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 1000))
    assert rows[1][3] == pytest.approx(z, abs=1e-8)
    assert rows[1][4] == pytest.approx(2 * norm.sf(abs(z)), abs=2e-7)
    # ER of impressions: 50/1000 vs 70/1000
    pooled_er = 120 / 2000
    z_er = (70 / 1000 - 50 / 1000) / math.sqrt(pooled_er * (1 - pooled_er) * (2 / 1000))
    assert rows[1][5] == pytest.approx(z_er, abs=1e-8)
    assert rows[1][6] == pytest.approx(2 * norm.sf(abs(z_er)), abs=2e-7)


def test_paid_roi_partners_best_time_and_demographics(settings, query):
    land(settings, "facebook", "ad_spend", "2026-03-01", "fb1", [
        {"campaign": "launch", "spend": 200.0, "currency": "EUR", "impressions": 10000, "clicks": 100, "acquisitions": 4},
        {"campaign": "collab", "spend": 50.0, "currency": "EUR", "impressions": 2000, "clicks": 10, "acquisitions": 0}])
    land(settings, "ga4", "web_sessions", "2026-03-01", "prop1", [
        {"source": "facebook", "medium": "paid_social", "campaign": "launch", "sessions": 80, "engaged_sessions": 40,
             "bounces": 20, "conversions": 6, "revenue": 500.0, "signups": 0, "new_customers": 5}])
    # a partner post on the 'collab' campaign at 18:30 UTC = 10:30 Pacific on Sunday 2026-03-01
    land(settings, "facebook", "post", "2026-03-01", "fb1", [
        {"post_id": "f1", "created_at": ts("2026-03-01T18:30"), "campaign": "collab", "author_type": "partner",
             "partner_handle": "@maker"},
        {"post_id": "f2", "created_at": ts("2026-03-01T18:45"), "author_type": "brand"}])
    land(settings, "facebook", "post_metrics", "2026-03-02", "fb1", [
        metrics_row("f1", 1000, 800, 60, 10, 5, 5, 30),      # 80 engagements
        metrics_row("f2", 500, 400, 15, 3, 1, 1, 5)])        # 20 engagements
    land(settings, "facebook", "audience_demographics", "2026-03-01", "fb1", [
        {"dimension": "country", "value": "DE", "followers": 300}, {"dimension": "country", "value": "FR", "followers": 100}])
    run_transform(settings)
    assert query("select spend, acquisitions, cpa, cpc from audit.kpi_daily_paid") == [
        (250.0, 4, 250 / 4, 250 / 110)]
    # launch: (500 - 200) / 200 x 100 = 150 %; collab: no attributed revenue -> -100 %
    assert query("select campaign, spend, attributed_revenue, roi, revenue_per_new_customer "
                 "from audit.kpi_campaign_roi order by campaign") == [
        ("collab", 50, 0, -100.0, None), ("launch", 200, 500, 150.0, 100.0)]
    assert query("select author_type, partner_handle, posts, engagements, campaign_spend, cost_per_engagement "
                 "from audit.kpi_monthly_author_type order by author_type") == [
        ("brand", "", 1, 20, None, None), ("partner", "@maker", 1, 80, 50, 50 / 80)]
    assert query("select weekday, hour, posts, engagements from audit.kpi_best_time_to_post") == [(7, 10, 2, 100)]
    assert query("select value, share_of_followers from audit.kpi_daily_demographics order by value") == [
        ("DE", 75.0), ("FR", 25.0)]
