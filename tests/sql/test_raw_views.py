"""Raw views: kept when their definition is unchanged (binding reads every file footer), re-created
when it changes; a kept view over a glob still sees files landed after it was created."""

from __future__ import annotations

import shutil

from pipeline.transform import run_transform

from .lake import land, ts


def view_comments(query) -> dict[str, str]:
    return dict(query("select view_name, comment from duckdb_views() where schema_name = 'raw' "
                      "and view_name in ('instagram__post', 'x__post')"))


def test_unchanged_raw_view_is_kept_and_sees_new_files(settings, query):
    land(settings, "instagram", "post", "2026-03-01", "ig1", [
        dict(post_id="p1", created_at=ts("2026-03-01T18:00"), content_type="image", is_paid=False)])
    run_transform(settings)
    first = view_comments(query)
    assert first["instagram__post"].startswith("instagram post rows as landed in the lake (definition ")
    assert query("select count(*) from raw.x__post") == [(0,)]          # typed and empty: nothing landed

    # a new day of instagram (same glob: view kept) and x's first file (empty view -> glob: re-created)
    land(settings, "instagram", "post", "2026-03-02", "ig1", [
        dict(post_id="p2", created_at=ts("2026-03-02T18:00"), content_type="image", is_paid=False)])
    land(settings, "x", "post", "2026-03-02", "x1", [
        dict(post_id="xp1", created_at=ts("2026-03-02T10:00"), content_type="text", is_paid=False)])
    run_transform(settings, changed={"instagram": ["2026-03-02"], "x": ["2026-03-02"]})
    second = view_comments(query)
    assert second["instagram__post"] == first["instagram__post"]
    assert second["x__post"] != first["x__post"]
    assert query("select post_id from raw.instagram__post order by 1") == [("p1",), ("p2",)]
    assert query("select post_id from staging.stg_x__post") == [("xp1",)]

    # every x file gone: the view goes back to typed and empty instead of failing on an empty glob
    shutil.rmtree(settings.raw_dir / "platform=x")
    run_transform(settings, full_refresh=True)
    assert view_comments(query)["x__post"] == first["x__post"]
    assert query("select count(*) from staging.stg_x__post") == [(0,)]
