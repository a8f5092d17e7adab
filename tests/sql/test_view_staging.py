"""Post-day staging is a view over the lake: incremental runs open only the partitions they need."""

from __future__ import annotations

import pytest

from pipeline.transform import TransformError, connect, run_transform

from .conftest import land_core, metrics_row
from .lake import land


def test_incremental_run_never_opens_an_untouched_partition(settings, query):
    land_core(settings)
    # an old partition of another account: no change below touches it
    old_file = land(settings, "instagram", "post_daily_metrics", "2026-02-20", "ig_old", [
        metrics_row("q1", "2026-02-20", 100, 90, 9, 1, 0, 0, 1)])
    run_transform(settings)
    assert query("select engagements from audit.kpi_post where post_id = 'q1'") == [(10,)]   # 9 + 1
    old_file.write_bytes(b"not a parquet file")   # opening it now fails, so a run that rescans the lake fails
    # a new post-day row for p1 on 03-04: 7 + 1 + 0 + 0 = 8 engagements more
    land(settings, "instagram", "post_daily_metrics", "2026-03-04", "ig1", [
        metrics_row("p1", "2026-03-04", 70, 60, 7, 1, 0, 0, 1)])
    result = run_transform(settings, changed={"instagram": ["2026-03-04"]})
    assert result["mode"] == "incremental"
    by_model = {m["model"]: m for m in result["models"]}
    assert by_model["staging.stg_instagram__post_daily_metrics"]["delta_rows"] == 1
    # p1: 03-01 (40 + 5 + 3 + 2 = 50) + 03-02 (8 + 1 + 1 + 0 = 10) + 03-04 8 = 68; q1 kept from the last run
    assert query("select post_id, engagements from audit.kpi_post where post_id in ('p1', 'q1') "
                 "order by 1") == [("p1", 68), ("q1", 10)]
    # a full rebuild does read the old partition, so the run above really did not
    with pytest.raises(TransformError, match=r"^model intermediate\.int_post_metrics__summed_as_landed .* failed: "):
        run_transform(settings, full_refresh=True)


def test_a_warehouse_of_an_older_layout_is_rebuilt_in_full(settings, query):
    land_core(settings)
    run_transform(settings)
    con = connect(settings)
    try:   # as built before last_partition_date existed
        con.execute("alter table intermediate.int_post_metrics__summed_as_landed drop column last_partition_date")
    finally:
        con.close()
    assert run_transform(settings, changed={"instagram": ["2026-03-02"]})["mode"] == "full"
    # p1 has rows on 03-01 and 03-02
    assert query("select first_partition_date::varchar, last_partition_date::varchar from "
                 "intermediate.int_post_metrics__lifetime where post_id = 'p1'") == [("2026-03-01", "2026-03-02")]
