"""Raw views: kept when their definition is unchanged (binding reads every file footer), re-created
when it changes; a kept view over a glob still sees files landed after it was created."""

from __future__ import annotations

import datetime as dt
import shutil

from pipeline.transform import run_transform

from .lake import land, ts


def view_comments(query) -> dict[str, str]:
    return dict(query("select view_name, comment from duckdb_views() where schema_name = 'raw' "
                      "and view_name in ('instagram__post', 'x__post')"))


def test_unchanged_raw_view_is_kept_and_sees_new_files(settings, query):
    land(settings, "instagram", "post", "2026-03-01", "ig1", [
        {"post_id": "p1", "created_at": ts("2026-03-01T18:00"), "content_type": "image", "is_paid": False}])
    run_transform(settings)
    first = view_comments(query)
    assert first["instagram__post"].startswith("instagram post rows as landed in the lake (definition ")
    assert query("select count(*) from raw.x__post") == [(0,)]          # typed and empty: nothing landed

    # a new day of instagram (same glob: view kept) and x's first file (empty view -> glob: re-created)
    land(settings, "instagram", "post", "2026-03-02", "ig1", [
        {"post_id": "p2", "created_at": ts("2026-03-02T18:00"), "content_type": "image", "is_paid": False}])
    land(settings, "x", "post", "2026-03-02", "x1", [
        {"post_id": "xp1", "created_at": ts("2026-03-02T10:00"), "content_type": "text", "is_paid": False}])
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


def _land_without(settings, day: str, account_id: str, column: str, rows: list[dict]) -> None:
    """A post_metrics file of an older layout: ``column`` missing (as before a schema change)."""
    import pyarrow.parquet as pq

    path = land(settings, "instagram", "post_metrics", day, account_id, rows)
    pq.write_table(pq.read_table(path).drop_columns([column]), path)


def _metrics(post_id: str, day: str, likes: int, video_views: int | None) -> dict:
    """A lifetime snapshot of ``post_id`` pulled on ``day``."""
    return {"post_id": post_id, "date": day, "impressions": 10, "reach": 5, "likes": likes, "comments": 0, "shares": 0, "saves": 0,
                "clicks": 0, "video_views": video_views}


def test_files_that_differ_in_schema_are_read_by_name_with_the_same_rows(settings, query, caplog):
    # Files are read by the first file's schema (one footer per bind); a later file without a canonical column
    # is a schema mismatch that DuckDB reports: the run is repeated reading that entity by name.
    land(settings, "instagram", "post_metrics", "2026-03-01", "ig1", [_metrics("p1", "2026-03-01", 3, 7)])
    _land_without(settings, "2026-03-02", "ig1", "video_views", [_metrics("p1", "2026-03-02", 4, None)])
    with caplog.at_level("WARNING", logger="goalpost.transform"):
        run_transform(settings)
    assert any(r.getMessage().startswith("files of raw.instagram__post_metrics differ in schema: repeating "
                                         "the run reading them by name") for r in caplog.records)
    assert query("select date, likes, video_views from staging.stg_instagram__post_metrics order by 1") == [
        (dt.date(2026, 3, 1), 3, 7), (dt.date(2026, 3, 2), 4, None)]
    # likes from the latest snapshot (03-02); video_views, which that file lacks, from the last one reporting it
    assert query("select likes, video_views from intermediate.int_post_metrics__lifetime") == [(4, 7)]
    comment = query("select comment from duckdb_views() where schema_name = 'raw' "
                    "and view_name = 'instagram__post_metrics'")[0][0]
    assert comment.endswith(", read by name)")
    # the next incremental run keeps reading by name (no failed first attempt) ...
    caplog.clear()
    with caplog.at_level("WARNING", logger="goalpost.transform"):
        run_transform(settings, changed={"instagram": ["2026-03-02"]})
    assert not caplog.records
    # ... and once the old file is re-landed in the current layout, a full refresh reads by position again
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [_metrics("p1", "2026-03-02", 4, 1)])
    run_transform(settings, full_refresh=True)
    assert not query("select comment from duckdb_views() where schema_name = 'raw' "
                     "and view_name = 'instagram__post_metrics'")[0][0].endswith(", read by name)")
    assert query("select likes, video_views from intermediate.int_post_metrics__lifetime") == [(4, 1)]


def test_a_first_file_without_a_canonical_column_is_read_by_name(settings, query):
    # the bind itself fails here (the first file defines the columns read): the same fallback
    _land_without(settings, "2026-03-01", "ig1", "video_views", [_metrics("p1", "2026-03-01", 3, None)])
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [_metrics("p1", "2026-03-02", 4, 6)])
    run_transform(settings)
    assert query("select date, video_views from staging.stg_instagram__post_metrics order by 1") == [
        (dt.date(2026, 3, 1), None), (dt.date(2026, 3, 2), 6)]
