"""kpi_daily_audience_share: our followers / engagements over ours + the tracked competitors', per platform,
observing account and snapshot day, with the arithmetic written out."""

from __future__ import annotations

from datetime import date

from pipeline import quality
from pipeline.transform import run_transform

from .lake import land, ts


def own(handle: str, followers: int | None, engagements: int | None = None) -> dict:
    return {"handle": handle, "is_own": True, "followers": followers, "engagements": engagements}


def rival(handle: str, followers: int | None, engagements: int | None = None) -> dict:
    return {"handle": handle, "is_own": False, "followers": followers, "engagements": engagements}


def test_shares_count_only_days_where_every_tracked_account_reported(settings, query):
    land(settings, "linkedin", "competitor_account_daily", "2026-10-01", "li1", [
        own("li1", 1200), rival("2000001", 2000), rival("2000002", 800)])
    land(settings, "linkedin", "competitor_account_daily", "2026-10-02", "li1", [
        own("li1", 1300), rival("2000001", 2100), rival("2000002", None)])     # a competitor without a count
    land(settings, "instagram", "competitor_account_daily", "2026-10-01", "ig1", [
        own("Acme", 500, 90), rival(" RivalCo ", 1500, 210)])
    run_transform(settings)
    assert query("select platform, account_id, date::varchar, competitors_tracked, own_followers, tracked_followers, "
                 "audience_share, own_engagements, tracked_engagements, engagement_share "
                 "from audit.kpi_daily_audience_share order by platform, date") == [
        # 500 / (500 + 1500) x 100 = 25.0 %; engagements 90 / (90 + 210) x 100 = 30.0 %
        ("instagram", "ig1", "2026-10-01", 1, 500, 2000, 25.0, 90, 300, 30.0),
        # 1200 / (1200 + 2000 + 800) x 100 = 1200 / 4000 x 100 = 30.0 %; LinkedIn reports no engagements
        ("linkedin", "li1", "2026-10-01", 2, 1200, 4000, 30.0, None, None, None),
        # 2000002 has no count that day: counting 1300 / (1300 + 2100) = 38.2 % would be a false gain -> NULL
        ("linkedin", "li1", "2026-10-02", 2, None, None, None, None, None, None),
    ]
    # handles are trimmed and lowercased in staging
    assert query("select handle from intermediate.int_competitor_account_daily__unioned "
                 "where platform = 'instagram' order by handle") == [("acme",), ("rivalco",)]


def test_a_day_without_our_own_row_or_without_competitors_has_no_share(settings, query):
    land(settings, "linkedin", "competitor_account_daily", "2026-10-01", "li1", [rival("2000001", 2000)])
    land(settings, "linkedin", "competitor_account_daily", "2026-10-02", "li1", [own("li1", 1200)])
    run_transform(settings)
    assert query("select date::varchar, competitors_tracked, audience_share from audit.kpi_daily_audience_share "
                 "order by date") == [("2026-10-01", 1, None), ("2026-10-02", 0, None)]


def test_the_new_tables_pass_their_suites(settings):
    land(settings, "linkedin", "competitor_account_daily", "2026-10-01", "li1", [
        own("li1", 1200), rival("2000001", 2000), rival("2000002", 800)])
    land(settings, "instagram", "competitor_account_daily", "2026-10-01", "ig1", [
        own("acme", 500, 90), rival("rivalco", 1500, 210)])
    run_transform(settings)
    summary = quality.validate(settings, run_id="audience-share", as_of=date(2026, 10, 3),
                               tables=["raw.*", "staging.*", "intermediate.*", "audit.*"])
    # raw + staging x (instagram, linkedin), the union, the mart; kpi_daily_account and kpi_post are validated
    # when empty (contract marts) and only warn that they are
    assert summary["tables"] == 2 + 2 + 1 + 1 + 2
    assert summary["failures"]["critical"] == 0
    assert {f["table"] for f in summary["failed"]} == {"audit.kpi_daily_account", "audit.kpi_post"}


def test_linkedin_share_of_voice_comes_from_a_listening_export_landed_as_linkedin(settings, query):
    # LinkedIn documents no mentions search (share statistics count mentions of our own organization only), so
    # LinkedIn share of voice needs a listening export whose rows name the network: landed as platform 'files'
    # with account '<network>.<account>' like every file drop, it conforms to platform 'linkedin'.
    def mention(mention_id: str, brand: str, hour: str) -> dict:
        return {"mention_id": mention_id, "created_at": ts(f"2026-10-01T{hour}"), "brand": brand,
                "is_competitor": brand != "acme", "sentiment": "neutral", "text": f"{brand} on LinkedIn"}

    land(settings, "files", "mentions", "2026-10-01", "linkedin.li_brand", [
        mention("m1", "acme", "09:00"), mention("m2", "acme", "10:00"), mention("m3", "acme", "11:00"),
        mention("m4", "rivalco", "12:00"), mention("m5", "globex", "13:00")])
    run_transform(settings)
    # 3 acme mentions / (3 + 1 rivalco + 1 globex) x 100 = 3 / 5 x 100 = 60.0 %
    assert query("select platform, account_id, brand_mentions, mentions, share_of_voice "
                 "from audit.kpi_daily_mentions") == [("linkedin", "li_brand", 3, 5, 60.0)]
    assert query("select brand, mentions, share_of_voice from audit.kpi_competitor_benchmark "
                 "where platform = 'linkedin' order by brand") == [
        ("acme", 3, 60.0), ("globex", 1, 20.0), ("rivalco", 1, 20.0)]
