"""Issue #24: first-touch vs last-touch attribution, retention by acquisition channel and CLV / CAC of
social-acquired customers, from GA4-shaped rows and a mapped orders export, with the arithmetic written out."""

from __future__ import annotations

from datetime import date

from pipeline.transform import run_transform

from .lake import land


def order(order_id: str, customer: str, day: str, revenue: float, source: str | None = None,
          medium: str | None = None, platform: str | None = None) -> dict:
    return {"order_id": order_id, "customer_id": customer, "date": date.fromisoformat(day), "revenue": revenue,
            "currency": "USD", "first_touch_source": source, "first_touch_medium": medium,
            "social_platform": platform}


def land_orders(settings, shop: str, orders: list[dict]) -> None:
    for day in sorted({o["date"] for o in orders}):
        land(settings, "files", "orders", day.isoformat(), shop, [o for o in orders if o["date"] == day])


def test_a_conversion_counts_once_under_each_model(settings, query):
    # One user: first acquired by Instagram, converts in a session LinkedIn referred.
    land(settings, "ga4", "web_first_touch", "2026-09-07", "prop1", [
        {"source": "l.instagram.com", "medium": "referral", "social_platform": "instagram", "new_users": 1,
         "total_users": 1, "conversions": 1, "revenue": 80.0}])
    land(settings, "ga4", "web_sessions", "2026-09-07", "prop1", [
        {"source": "lnkd.in", "medium": "referral", "social_platform": "linkedin", "sessions": 3,
         "engaged_sessions": 2, "conversions": 1, "revenue": 80.0}])
    run_transform(settings)
    rows = query("select platform, first_touch_conversions, last_touch_conversions, first_touch_revenue::double, "
                 "last_touch_revenue::double from audit.kpi_daily_attribution order by platform")
    assert rows == [("instagram", 1, 0, 80.0, 0.0),       # first touch: Instagram
                    ("linkedin", 0, 1, 0.0, 80.0)]        # last touch: LinkedIn
    # each model counts the one conversion once: 1 + 0 = 0 + 1 = 1; social share of both = 1 / 1 x 100 = 100 %
    assert query("select sum(first_touch_conversions), sum(last_touch_conversions), "
                 "sum(social_first_touch_conversions) * 100.0 / sum(first_touch_conversions) "
                 "from audit.kpi_daily_attribution") == [(1, 1, 100.0)]


def test_a_model_not_pulled_is_null_not_zero(settings, query):
    land(settings, "ga4", "web_sessions", "2026-09-07", "prop1", [
        {"source": "t.co", "medium": "referral", "social_platform": "x", "sessions": 10, "engaged_sessions": 5,
             "conversions": 2, "revenue": 10.0}])
    run_transform(settings)
    assert query("select platform, first_touch_conversions, last_touch_conversions "
                 "from audit.kpi_daily_attribution") == [("x", None, 2)]


def test_a_cohort_of_four_with_one_returning_in_month_two_retains_25_percent(settings, query):
    land_orders(settings, "shop1", [
        # January cohort, all first-touched by Instagram: 4 customers
        order("o1", "c1", "2026-01-05", 30.0, "instagram", "social", "instagram"),
        order("o2", "c2", "2026-01-09", 20.0, "instagram", "social", "instagram"),
        order("o3", "c3", "2026-01-20", 25.0, "instagram", "social", "instagram"),
        order("o4", "c4", "2026-01-31", 10.0, "instagram", "social", "instagram"),
        order("o5", "c2", "2026-03-14", 40.0),                  # c2 returns in March = month 2
        order("o6", "c9", "2026-04-02", 15.0, "google", "organic"),   # another shopper: data runs to April 2
    ])
    run_transform(settings)
    rows = query("select date::varchar, month_n, cohort_customers, active_customers, retention_rate, is_complete "
                 "from audit.kpi_monthly_customer_retention where platform = 'instagram' order by month_n")
    assert rows == [
        ("2026-01-01", 0, 4, 4, 100.0, True),
        ("2026-01-01", 1, 4, 0, 0.0, True),                    # nobody ordered in February
        ("2026-01-01", 2, 4, 1, 25.0, True),                   # 1 / 4 x 100 = 25 %
        ("2026-01-01", 3, 4, 0, 0.0, False),                   # April has only run to the 2nd: not complete
    ]
    # the goal columns carry month 2 only once complete: 1 / 4 x 100 = 25 %; month 3 not yet (0 / 0 -> NULL)
    assert query("select sum(month_2_active_customers) * 100.0 / nullif(sum(month_2_cohort_customers), 0), "
                 "sum(month_3_active_customers) * 100.0 / nullif(sum(month_3_cohort_customers), 0) "
                 "from audit.kpi_monthly_customer_retention where platform = 'instagram'") == [(25.0, None)]


def test_clv_over_90_days_from_three_orders_and_clv_to_cac(settings, query):
    land_orders(settings, "shop1", [
        order("o1", "c1", "2026-01-10", 40.0, "l.instagram.com", "referral", "instagram"),
        order("o2", "c1", "2026-02-09", 25.0),                # day 30: inside the horizon
        order("o3", "c1", "2026-04-15", 50.0),                # day 95: outside days 0-89
        order("o4", "c5", "2026-01-10", 70.0, "tiktok", "social", "tiktok"),    # a network without ad spend
        order("o5", "c6", "2026-01-09", 30.0, "ig", "paid_social", "instagram"),  # a day before Instagram's spend data
    ])
    land(settings, "facebook", "ad_spend", "2026-01-10", "act1", [{"campaign": "spring", "spend": 13.0}])
    land(settings, "instagram", "ad_spend", "2026-01-10", "act2", [{"campaign": "spring", "spend": 13.0}])
    run_transform(settings)
    rows = query("select platform, date::varchar, new_customers, matured_customers, horizon_revenue::double, "
                 "clv_90d, spend::double, cac, clv_to_cac from audit.kpi_customer_value order by platform, date")
    assert rows == [
        # facebook bought no customer that the export shows: CAC and CLV NULL, not 0
        ("facebook", "2026-01-10", 0, 0, 0.0, None, 13.0, None, None),
        # CLV = (40 + 25) / 1 customer = 65 (the day-95 order is beyond 90 days); matured: 2026-01-10 + 89 days =
        # 2026-04-09 <= newest order day 2026-04-15. CAC = 13 / 1 = 13; CLV:CAC = 65 / 13 = 5.0
        # 2026-01-09: before Instagram's first spend day -> its CLV counts, but not in CLV:CAC
        ("instagram", "2026-01-09", 1, 1, 30.0, 30.0, 0.0, None, None),
        ("instagram", "2026-01-10", 1, 1, 65.0, 65.0, 13.0, 13.0, 5.0),
        # TikTok: CLV 70 / 1 = 70; no spend -> no CAC and no CLV:CAC
        ("tiktok", "2026-01-10", 1, 1, 70.0, 70.0, 0.0, None, None),
    ]
    # the clv_to_cac KPI over every network: revenue of days within spend data / their matured spend =
    # 65 / (13 + 13) = 2.5 (TikTok's 70 and Instagram's 01-09 30 are left out: no spend data bought them);
    # clv_90d = (30 + 65 + 70) / 3 = 55.0
    assert query("select sum(paid_horizon_revenue) / sum(matured_spend), "
                 "sum(horizon_revenue) / sum(matured_customers) from audit.kpi_customer_value") == [(2.5, 55.0)]
    # the cac KPI: spend / customers of days within spend data = (13 + 13) / 1 = 26.0 (facebook bought none);
    # TikTok alone: no spend data -> 0 / 0 -> NULL, not a CAC of 0
    assert query("select sum(spend) / nullif(sum(paid_new_customers), 0) from audit.kpi_customer_value") == [(26.0,)]
    assert query("select sum(spend) / nullif(sum(paid_new_customers), 0) from audit.kpi_customer_value "
                 "where platform = 'tiktok'") == [(None,)]


def test_no_orders_gives_null_clv_not_zero(settings, query):
    land(settings, "instagram", "ad_spend", "2026-01-10", "act2", [{"campaign": "spring", "spend": 13.0}])
    run_transform(settings)
    # no order export: no customer rows and no spend window -> no value at all (the goal reads NULL: no data)
    assert query("select count(*) from audit.kpi_customer_value") == [(0,)]
    assert query("select sum(horizon_revenue) / nullif(sum(matured_customers), 0) "
                 "from audit.kpi_customer_value") == [(None,)]


def test_a_customer_not_yet_90_days_old_is_not_matured(settings, query):
    land_orders(settings, "shop1", [
        order("o1", "c1", "2026-03-01", 40.0, "tiktok", "social", "tiktok"),
        order("o2", "c1", "2026-03-20", 10.0),                # newest order day: 2026-03-20 < 2026-03-01 + 89
    ])
    run_transform(settings)
    assert query("select platform, new_customers, matured_customers, clv_90d from audit.kpi_customer_value") == [
        ("tiktok", 1, 0, None)]


def test_ga4_cohorts_take_the_newest_pull_and_retention_by_network(settings, query):
    def cell(month_n: int, active: int, users: int = 200) -> dict:
        return {"cohort_start": date(2026, 6, 1), "month_n": month_n, "source": "l.instagram.com",
                "medium": "referral", "social_platform": "instagram", "cohort_users": users, "active_users": active}
    land(settings, "ga4", "web_cohorts", "2026-08-15", "prop1", [cell(0, 200), cell(1, 60), cell(2, 20)])
    land(settings, "ga4", "web_cohorts", "2026-09-08", "prop1", [cell(0, 200), cell(1, 60), cell(2, 50),
                                                                 cell(3, 10)])
    run_transform(settings)
    rows = query("select platform, date::varchar, month_n, cohort_users, active_users, retention_rate, is_complete "
                 "from audit.kpi_monthly_user_retention order by month_n")
    assert rows == [
        ("instagram", "2026-06-01", 0, 200, 200, 100.0, True),
        ("instagram", "2026-06-01", 1, 200, 60, 30.0, True),    # 60 / 200 x 100 = 30 %
        ("instagram", "2026-06-01", 2, 200, 50, 25.0, True),    # newest pull (09-08): 50, not 20 nor 20 + 50
        ("instagram", "2026-06-01", 3, 200, 10, 5.0, False),    # September runs past the 8th: incomplete
    ]
