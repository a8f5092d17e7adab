"""`-- key_filtered_since:` bounds what an incremental run re-reads of a key-filtered input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.transform import TransformError, discover_models, run_transform

from .conftest import land_core, metrics_row
from .lake import land

TOTALS_HEADER = """-- incremental_key: platform, account_id, post_id
-- affected_keys: select distinct platform, account_id, post_id from staging.stg_days
--     where (platform, partition_date) in (select platform, date from _changed)
-- key_filtered_inputs: staging.stg_days
"""
TOTALS_BODY = "select platform, account_id, post_id, sum(likes) as likes from staging.stg_days group by all\n"


def write_models(root: Path, totals_header: str) -> Path:
    files = {
        "staging/stg_days.sql": "select 'instagram' as platform, account_id, post_id, likes, partition_date "
                                "from raw.instagram__post_daily_metrics",
        "intermediate/int_totals.sql": totals_header + TOTALS_BODY,
    }
    for name, sql in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(sql)
    (root / "marts").mkdir(exist_ok=True)
    return root


def test_header_needs_a_column_and_a_query(tmp_path):
    sql_dir = write_models(tmp_path / "sql", TOTALS_HEADER + "-- key_filtered_since: select 1\n")
    with pytest.raises(TransformError, match=r"^int_totals\.sql: key_filtered_since must read "
                                             r"'<column> >= <query>'$"):
        discover_models(sql_dir)


def test_header_continues_on_indented_lines(tmp_path):
    header = TOTALS_HEADER + ("-- key_filtered_since: partition_date >= select\n"
                              "--     min(date) from _changed\n")
    sql_dir = write_models(tmp_path / "sql", header)
    totals = {m.relation: m for m in discover_models(sql_dir)}["intermediate.int_totals"]
    assert totals.key_filtered_since == ("partition_date", "select min(date) from _changed")


def test_inputs_are_read_only_from_the_bound(settings, query, tmp_path):
    # A deliberately too tight bound (only the last changed day) shows the inputs really are cut there.
    sql_dir = write_models(tmp_path / "sql", TOTALS_HEADER + "-- key_filtered_since: partition_date >= "
                                                            "select max(date) from _changed\n")
    custom = dataclasses.replace(settings, sql_dir=sql_dir)
    land_core(settings)
    run_transform(custom)
    # full: p1 likes on 03-01 40 + 40 (this model does not drop the re-pulled duplicate) + 8 on 03-02 = 88
    assert query("select likes from intermediate.int_totals where post_id = 'p1'") == [(88,)]
    run_transform(custom, changed={"instagram": ["2026-03-02"]})
    # incremental on 03-02 with the bound 03-02: only p1's 03-02 row (8) was re-read
    assert query("select likes from intermediate.int_totals where post_id = 'p1'") == [(8,)]


def test_lifetime_aggregates_reach_back_to_the_first_stored_partition(settings, query):
    land_core(settings)
    run_transform(settings)
    # 03-02 re-pulled with p1 likes 8 -> 9; nothing else of p1 changes
    land(settings, "instagram", "post_daily_metrics", "2026-03-02", "ig1", [
        metrics_row("p1", "2026-03-02", 200, 100, 9, 1, 1, 0, 2),
        metrics_row("p2", "2026-03-02", 300, 200, 10, 2, 2, 1, 3),
        metrics_row("p3", "2026-03-02", 1000, 900, 60, 10, 5, 5, 20)])
    run_transform(settings, changed={"instagram": ["2026-03-02"]})
    # the bound is p1's stored first partition (03-01), so 03-01 is re-read: likes 40 + 9 = 49,
    # engagements (40 + 5 + 3 + 2) + (9 + 1 + 1 + 0) = 50 + 11 = 61 over 2 days
    assert query("select likes, engagements, days_with_metrics, first_partition_date::varchar "
                 "from intermediate.int_post_metrics__lifetime where post_id = 'p1'") == [
        (49, 61, 2, "2026-03-01")]
    assert query("select engagements from audit.kpi_post where post_id = 'p1'") == [(61,)]
