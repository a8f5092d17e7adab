"""Smoke test of the W10M generator at a tiny scale, end to end through the transform."""

from __future__ import annotations

import dataclasses
import logging

from pipeline.transform import run_transform

from bench.generate_w10m import PLATFORMS, POST_LIFETIME_DAYS, POSTS_PER_DAY, generate


def test_generator_lake_runs_through_the_transform(settings, query, tmp_path, caplog):
    accounts, days = 2, 3
    counts = generate(tmp_path / "bench", accounts=accounts, days=days)
    # the generator writes days + 1 days, then holds the last one out of the lake
    assert counts["account_daily"] == len(PLATFORMS) * accounts * (days + 1)
    assert counts["post"] == len(PLATFORMS) * accounts * (days + 1) * POSTS_PER_DAY
    assert POST_LIFETIME_DAYS > days + 1            # so every post has a metric row on every later day
    lake_settings = dataclasses.replace(settings, lake_dir=tmp_path / "bench" / "lake")
    with caplog.at_level(logging.INFO, logger="goalpost.transform"):
        run_transform(lake_settings)
    posts = len(PLATFORMS) * accounts * days * POSTS_PER_DAY
    assert query("select count(*) from audit.kpi_post") == [(posts,)]
    assert query("select count(*) from audit.kpi_daily_account where followers is not null") == [
        (len(PLATFORMS) * accounts * days,)]
    # the only other account-days: posts made early on the first UTC day fall on the Pacific day before
    assert query("select distinct platform, date::varchar from audit.kpi_daily_account where "
                 "followers is null "
                 "order by all") in ([], [("facebook", "2024-12-31")], [("instagram", "2024-12-31")],
                                     [("facebook", "2024-12-31"), ("instagram", "2024-12-31")])
    # post-day rows per account: posts of day d have rows on days d..days-1 -> 2 * (3 + 2 + 1) = 12
    assert query("select count(*) from staging.stg_x__post_daily_metrics") == [
        (accounts * POSTS_PER_DAY * 6,)]
    lines = [r.getMessage() for r in caplog.records if "audit.kpi_post " in r.getMessage()]
    assert len(lines) == 1 and " 60 rows " in lines[0] and lines[0].endswith(" ms")
