"""The post-day fact is read once: int_post_metrics__lifetime sums the landed rows and flags the posts holding a
repeated key; only those go through the dedupe window (sql/macros/latest_row_per_key.sql)."""

from __future__ import annotations

import datetime as dt

from pipeline.transform import run_transform

from .lake import land


def day(n: int) -> str:
    return (dt.date(2026, 1, 1) + dt.timedelta(days=n)).isoformat()


def test_repeated_keys_are_flagged_and_deduplicated_exactly(settings, query):
    # q1: 03-01 landed twice in one file, the newer schema version (likes 9) must win over the older (likes 5)
    land(settings, "tiktok", "post_daily_metrics", "2026-03-01", "tt1", [
        dict(post_id="q1", likes=5, reach=100, schema_version=1),
        dict(post_id="q1", likes=9, reach=100, schema_version=2),
        dict(post_id="q2", likes=1, reach=10)])
    land(settings, "tiktok", "post_daily_metrics", "2026-03-02", "tt1", [
        dict(post_id="q1", likes=2, reach=50), dict(post_id="q2", likes=3, reach=30)])
    run_transform(settings)
    assert query("select post_id, rows_landed, days_with_metrics, likes, reach, engagements "
                 "from intermediate.int_post_metrics__lifetime order by post_id") == [
        ("q1", 3, 2, 9 + 2, 100 + 50, 9 + 2),        # 3 rows landed, 2 days: the 5-like row is dropped
        ("q2", 2, 2, 1 + 3, 10 + 30, 1 + 3),
    ]
    assert query("select post_id, date::varchar, likes from intermediate.int_post_daily_metrics__unioned "
                 "order by all") == [("q1", "2026-03-01", 9), ("q1", "2026-03-02", 2),
                                     ("q2", "2026-03-01", 1), ("q2", "2026-03-02", 3)]
    # the account-day sums see one row per key: 03-01 = 9 + 1 likes, 03-02 = 2 + 3
    assert query("select date::varchar, engagements, post_reach from audit.kpi_daily_account "
                 "where account_id = 'tt1' order by date") == [("2026-03-01", 10, 110), ("2026-03-02", 5, 80)]
    # the per-platform staging view dedupes on its own, the same way
    assert query("select likes from staging.stg_tiktok__post_daily_metrics "
                 "where post_id = 'q1' and date = '2026-03-01'") == [(9,)]


def test_a_post_longer_than_64_days_is_summed_once_per_day(settings, query):
    # days 0 and 64 share a slot of the 64-bit day mask: the post is checked through the window, and kept whole
    for n in (0, 1, 64, 65):
        land(settings, "x", "post_daily_metrics", day(n), "x1", [dict(post_id="long", likes=1, reach=1)])
    run_transform(settings)
    assert query("select rows_landed, days_with_metrics, likes from intermediate.int_post_metrics__lifetime") == [
        (4, 4, 4)]
    assert query("select count(*) from intermediate.int_post_daily_metrics__unioned") == [(4,)]


def test_repeats_appearing_and_going_away_incrementally_equal_a_full_rebuild(settings, query, tmp_path):
    # An incremental run recomputes a post's deduplicated rows when it is flagged (before or after the run) and its
    # days cover a changed partition: checked against a full rebuild at every step.
    import dataclasses

    from .test_incremental import export_all

    def likes(post_id: str) -> list[tuple]:
        return query("select likes, days_with_metrics, rows_landed from intermediate.int_post_metrics__lifetime "
                     "where post_id = ?", [post_id])

    def same_as_full(step: str) -> None:
        full = dataclasses.replace(settings, warehouse_path=tmp_path / f"full_{step}.duckdb")
        run_transform(full)
        assert export_all(settings, tmp_path / f"inc_{step}") == export_all(full, tmp_path / f"full_{step}")

    for n in (1, 2, 3):
        land(settings, "x", "post_daily_metrics", day(n), "x1", [dict(post_id="r1", likes=n, reach=1)])
    run_transform(settings)
    assert likes("r1") == [(1 + 2 + 3, 3, 3)]
    # day 2 re-pulled with r1 twice (schema version 2 wins): r1 is flagged, its repeat deduplicated
    land(settings, "x", "post_daily_metrics", day(2), "x1", [
        dict(post_id="r1", likes=20, reach=1, schema_version=2), dict(post_id="r1", likes=99, reach=1)])
    run_transform(settings, changed={"x": [day(2)]})
    assert likes("r1") == [(1 + 20 + 3, 3, 4)]
    same_as_full("repeat_added")
    # day 3 revised: r1 is still flagged (its repeat is on day 2) and its deduplicated rows follow the revision
    land(settings, "x", "post_daily_metrics", day(3), "x1", [dict(post_id="r1", likes=30, reach=1)])
    run_transform(settings, changed={"x": [day(3)]})
    assert likes("r1") == [(1 + 20 + 30, 3, 4)]
    assert query("select date, likes from intermediate.int_post_daily_metrics__repeats_deduplicated order by 1") \
        == [(dt.date.fromisoformat(day(n)), v) for n, v in ((1, 1), (2, 20), (3, 30))]
    same_as_full("other_day_revised")
    # day 2 re-pulled clean: r1 is no longer flagged, and its stored rows go
    land(settings, "x", "post_daily_metrics", day(2), "x1", [dict(post_id="r1", likes=2, reach=1)])
    run_transform(settings, changed={"x": [day(2)]})
    assert likes("r1") == [(1 + 2 + 30, 3, 3)]
    assert query("select count(*) from intermediate.int_post_daily_metrics__repeats_deduplicated") == [(0,)]
    same_as_full("repeat_removed")
