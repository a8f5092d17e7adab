"""Incremental runs open only the lake partitions they need; an older warehouse layout is rebuilt in full."""

from __future__ import annotations

import pytest

from pipeline.transform import TransformError, connect, run_transform

from .conftest import land_core, metrics_row
from .lake import land


def test_incremental_run_never_opens_an_untouched_partition(settings, query):
    land_core(settings)
    # an old pull day of another account: no change below touches it
    old_file = land(settings, "instagram", "post_metrics", "2026-02-20", "ig_old", [
        metrics_row("q1", 100, 90, 9, 1, 0, 0, 1)])
    run_transform(settings)
    assert query("select engagements from audit.kpi_post where post_id = 'q1'") == [(10,)]   # 9 + 1
    old_file.write_bytes(b"not a parquet file")   # opening it now fails, so a run that rescans the lake fails
    # a new pull of p1 on 03-04: lifetime engagements 67 + 7 + 4 + 2 = 80
    land(settings, "instagram", "post_metrics", "2026-03-04", "ig1", [metrics_row("p1", 1070, 760, 67, 7, 4, 2, 13)])
    result = run_transform(settings, changed={"instagram": ["2026-03-04"]})
    assert result["mode"] == "incremental"
    by_model = {m["model"]: m for m in result["models"]}
    # the staging table re-read only the one changed partition: 1 snapshot row inserted
    assert by_model["staging.stg_instagram__post_metrics"]["mode"] == "incremental"
    assert by_model["staging.stg_instagram__post_metrics"]["rows"] == 1
    # p1: its latest snapshot (03-04), not a sum; q1 kept from the last run
    assert query("select post_id, engagements from audit.kpi_post where post_id in ('p1', 'q1') "
                 "order by 1") == [("p1", 80), ("q1", 10)]
    # a full rebuild does read the old partition, so the run above really did not
    with pytest.raises(TransformError, match=r"^model staging\.stg_instagram__post_metrics .* failed: "):
        run_transform(settings, full_refresh=True)


def test_a_warehouse_of_an_older_layout_is_rebuilt_in_full(settings, query):
    land_core(settings)
    run_transform(settings)
    con = connect(settings)
    try:   # as built before is_latest existed
        con.execute("alter table intermediate.int_post_metrics__snapshots drop column is_latest")
    finally:
        con.close()
    assert run_transform(settings, changed={"instagram": ["2026-03-03"]})["mode"] == "full"
    # p1 was pulled on 03-02 and 03-03
    assert query("select snapshots, metrics_as_of::varchar from intermediate.int_post_metrics__lifetime "
                 "where post_id = 'p1'") == [(2, "2026-03-03")]
