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
                                "from raw.instagram__post_metrics",
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
    # full: p1 likes in pull 03-02 40 + 40 (this model does not drop the re-pulled duplicate) + 48 in 03-03 = 128
    assert query("select likes from intermediate.int_totals where post_id = 'p1'") == [(128,)]
    # pull day 03-03 re-landed with p1 at 50 likes (was 48)
    land(settings, "instagram", "post_metrics", "2026-03-03", "ig1", [
        metrics_row("p1", 1000, 700, 50, 6, 4, 2, 12), metrics_row("p2", 800, 600, 30, 6, 2, 2, 8),
        metrics_row("p3", 1000, 900, 60, 10, 5, 5, 20)])
    run_transform(custom, changed={"instagram": ["2026-03-03"]})
    # incremental on 03-03 with the bound 03-03: only p1's 03-03 row (50) was re-read (the full sum is 130)
    assert query("select likes from intermediate.int_totals where post_id = 'p1'") == [(50,)]


def test_increments_reread_the_whole_history_of_a_changed_post(settings, query):
    land_core(settings)
    run_transform(settings)
    # pull day 03-02 re-landed with p1 likes 40 -> 45: p1's gain on 03-03 becomes 48 - 45 = 3 (was 8), which
    # only a run that re-reads p1's other snapshots (03-03 was not re-landed) can know
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [
        metrics_row("p1", 800, 600, 45, 5, 3, 2, 10),
        metrics_row("p2", 500, 400, 20, 4, 0, 1, 5)])
    run_transform(settings, changed={"instagram": ["2026-03-02"]})
    assert query("select date::varchar, likes, new_likes, new_engagements from intermediate.int_post_metrics__snapshots "
                 "where post_id = 'p1' order by date") == [("2026-03-02", 45, 45, 55), ("2026-03-03", 48, 3, 5)]
    # the account's 03-03 activity follows: p1 5 + p2 15 + p3 80 = 100; 03-02: p1 55 + p2 25 = 80
    assert query("select date::varchar, engagements from audit.kpi_daily_account where account_id = 'ig1' "
                 "and date >= '2026-03-02' order by date") == [("2026-03-02", 80), ("2026-03-03", 100)]
    assert query("select engagements from audit.kpi_post where post_id = 'p1'") == [(60,)]
