"""Incremental runs: late data, new days and deletions give the same bytes as a full rebuild."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import duckdb
import pytest

from pipeline import quality, transform
from pipeline.transform import TransformError, connect, discover_models, normalise_changed, run_transform

from .conftest import land_core, metrics_row
from .lake import land, ts


def export_all(settings, folder: Path) -> dict[str, bytes]:
    """Every staging/intermediate/audit table as ordered CSV bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    con = connect(settings)
    try:
        tables = con.execute("select schema_name, table_name from duckdb_tables() where schema_name in "
                             "('staging', 'intermediate', 'audit') order by all").fetchall()
        out = {}
        for schema, table in tables:
            path = folder / f"{schema}.{table}.csv"
            con.execute(f"copy (select * from {schema}.{table} order by all) to '{path}' (format csv)")
            out[f"{schema}.{table}"] = path.read_bytes()
        return out
    finally:
        con.close()


def revise_lake(settings) -> None:
    # Late data: pull day 03-02 re-landed with p1 likes 40 -> 70 (engagements 50 -> 80).
    land(settings, "instagram", "post_metrics", "2026-03-02", "ig1", [
        metrics_row("p1", 800, 600, 70, 5, 3, 2, 10),
        metrics_row("p2", 500, 400, 20, 4, 0, 1, 5)])
    # Pull day 03-03 re-landed without p2 (not re-pulled): p2's latest snapshot is 03-02's again;
    # p1 now has 78 likes (engagements 90).
    land(settings, "instagram", "post_metrics", "2026-03-03", "ig1", [
        metrics_row("p1", 1000, 700, 78, 6, 4, 2, 12),
        metrics_row("p3", 1000, 900, 60, 10, 5, 5, 20)])
    # A new day: followers 1050, one new post with 10 + 2 + 1 + 1 = 14 engagements; p1 pulled again, unchanged.
    land(settings, "instagram", "account_daily", "2026-03-04", "ig1", [
        {"followers": 1050, "impressions": 3000, "reach": 1500, "profile_views": 20}])
    land(settings, "instagram", "post", "2026-03-04", "ig1", [
        {"post_id": "p4", "created_at": ts("2026-03-04T17:00"), "content_type": "reel", "is_paid": False}])
    land(settings, "instagram", "post_metrics", "2026-03-04", "ig1", [
        metrics_row("p1", 1000, 700, 78, 6, 4, 2, 12),
        metrics_row("p4", 300, 280, 10, 2, 1, 1, 4)])


def test_incremental_equals_full_rebuild_byte_for_byte(settings, query, tmp_path):
    land_core(settings)
    assert run_transform(settings)["mode"] == "full"
    revise_lake(settings)
    result = run_transform(settings, changed={"instagram": ["2026-03-02", "2026-03-03", "2026-03-04"]})
    assert result["mode"] == "incremental"

    # latest lifetime snapshot per post: p1 78 + 6 + 4 + 2 = 90 (03-04); p2 25 (03-02); p3 80; p4 14
    assert query("select post_id, engagements, metrics_as_of::varchar from audit.kpi_post "
                 "where account_id = 'ig1' order by 1") == [
        ("p1", 90, "2026-03-04"), ("p2", 25, "2026-03-02"), ("p3", 80, "2026-03-03"), ("p4", 14, "2026-03-04")]
    # gains per pull day: 03-02 p1 80 + p2 25 = 105; 03-03 p1 90 - 80 = 10 + p3 80 = 90; 03-04 p1 0 + p4 14;
    # net new followers 03-04: 1050 - 1030 = 20 (03-03 was not re-landed)
    assert query("select date::varchar, engagements, net_new_followers from audit.kpi_daily_account "
                 "where account_id = 'ig1' order by date") == [
        ("2026-03-01", 0, None), ("2026-03-02", 105, 10), ("2026-03-03", 90, 20), ("2026-03-04", 14, 20)]

    incremental = export_all(settings, tmp_path / "incremental")
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    # an empty warehouse builds in full even when told what changed
    assert run_transform(full_settings, changed={"instagram": ["2026-03-02"]})["mode"] == "full"
    full = export_all(full_settings, tmp_path / "full")
    assert sorted(incremental) == sorted(full)
    different = [name for name in full if full[name] != incremental[name]]
    assert different == []


def test_rerun_is_byte_identical(settings, tmp_path):
    land_core(settings)
    run_transform(settings)
    first = export_all(settings, tmp_path / "first")
    run_transform(settings, full_refresh=True)
    assert export_all(settings, tmp_path / "second") == first


def test_changed_accepts_ingest_summaries():
    summary = {"platform": "x", "account_id": "a", "since": "2026-03-01T00:00:00+00:00",
               "until": "2026-03-03T00:00:00+00:00"}
    assert sorted(d.isoformat() for _, d in normalise_changed([summary])) == ["2026-03-01", "2026-03-02"]
    # the lifetime snapshot of a run lands in its pull day's partition, outside the window
    summary["snapshot"] = {"pulled_on": "2026-03-09", "posts": 3, "rows": 3, "quarantined": 0}
    assert sorted(d.isoformat() for _, d in normalise_changed([summary])) == [
        "2026-03-01", "2026-03-02", "2026-03-09"]
    with pytest.raises(ValueError, match=r"changed: unknown platform\(s\) \['myspace'\]"):
        normalise_changed({"myspace": ["2026-03-01"]})


def write_models(root: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    for layer in ("staging", "intermediate", "marts"):
        (root / layer).mkdir(parents=True, exist_ok=True)
    return root


def test_unknown_reference_is_a_clear_error(tmp_path):
    sql_dir = write_models(tmp_path / "sql", {"marts/kpi_a.sql": "select * from audit.kpi_missing"})
    with pytest.raises(TransformError, match=r"^model audit\.kpi_a \(kpi_a\.sql\) references unknown "
                                             r"relation\(s\): audit\.kpi_missing$"):
        discover_models(sql_dir)


def test_cycle_is_a_clear_error(tmp_path):
    sql_dir = write_models(tmp_path / "sql", {
        "marts/kpi_a.sql": "select * from audit.kpi_b",
        "marts/kpi_b.sql": "select * from audit.kpi_a"})
    with pytest.raises(TransformError, match=r"^dependency cycle between models: "
                                             r"audit\.kpi_a -> audit\.kpi_b -> audit\.kpi_a$"):
        discover_models(sql_dir)


def test_models_run_after_their_references(tmp_path):
    sql_dir = write_models(tmp_path / "sql", {
        "marts/kpi_a.sql": "select * from audit.kpi_z",      # depends on a later name
        "marts/kpi_z.sql": "select 1 as one",
        "intermediate/int_x.sql": "select 1 as one"})
    assert [m.relation for m in discover_models(sql_dir)] == [
        "intermediate.int_x", "audit.kpi_z", "audit.kpi_a"]


def test_failing_model_names_itself_and_rolls_the_whole_run_back(settings, query, tmp_path):
    sql_dir = write_models(tmp_path / "sql", {
        "marts/kpi_braces.sql": "select {'a': 1} as struct_literal, 1 as one",   # braces are not templates
    })
    custom = dataclasses.replace(settings, sql_dir=sql_dir)
    run_transform(custom)
    assert query("select struct_literal.a, one from audit.kpi_braces") == [(1, 1)]
    (sql_dir / "marts" / "kpi_braces.sql").write_text("select 2 as one")
    (sql_dir / "marts" / "kpi_broken.sql").write_text("select no_such_column from audit.kpi_braces")
    expected = r"^model audit\.kpi_broken \(kpi_broken\.sql\) failed: Binder Error"
    with pytest.raises(TransformError, match=expected):
        run_transform(custom)
    # kpi_braces was rebuilt before kpi_broken failed; the rollback keeps the old table
    assert query("select one from audit.kpi_braces") == [(1,)]


def test_an_incremental_run_out_of_memory_is_repeated_with_the_full_limit(settings, tmp_path, monkeypatch,
                                                                          caplog):
    land_core(settings)
    run_transform(settings)
    revise_lake(settings)
    monkeypatch.setenv("GOALPOST_DUCKDB_INCREMENTAL_MEMORY_LIMIT", "1KB")     # nothing fits: DuckDB OOMs
    with caplog.at_level("WARNING", logger="goalpost.transform"):
        result = run_transform(settings, changed={"instagram": ["2026-03-02", "2026-03-03", "2026-03-04"]})
    assert result["mode"] == "incremental"
    assert any(r.getMessage().startswith("incremental run needs more than 1KB: repeating it with 800MB (")
               for r in caplog.records)
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    run_transform(full_settings)
    assert export_all(settings, tmp_path / "incremental") == export_all(full_settings, tmp_path / "full")


def test_an_incremental_run_out_of_memory_at_the_full_limit_too_rebuilds_every_model(settings, tmp_path, monkeypatch,
                                                                                    caplog):
    land_core(settings)
    run_transform(settings)
    revise_lake(settings)

    def out_of_memory(*args, **kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block of size 256.0 KiB")

    monkeypatch.setattr(transform, "_run_incremental", out_of_memory)     # both incremental attempts run out
    with caplog.at_level("WARNING", logger="goalpost.transform"):
        result = run_transform(settings, changed={"instagram": ["2026-03-02", "2026-03-03", "2026-03-04"]})
    assert result["mode"] == "full"
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.levelno >= logging.WARNING] == [
        "incremental run needs more than 256MB: repeating it with 800MB",
        "incremental run needs more than 800MB too: rebuilding every model instead"]
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    run_transform(full_settings)
    assert export_all(settings, tmp_path / "incremental") == export_all(full_settings, tmp_path / "full")


def test_a_bad_memory_limit_is_a_clear_error(settings, monkeypatch):
    land_core(settings)
    run_transform(settings)
    monkeypatch.setenv("GOALPOST_DUCKDB_INCREMENTAL_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match=r"^GOALPOST_DUCKDB_INCREMENTAL_MEMORY_LIMIT='lots': expected a size "
                                         r"like '1GB' or '512MB'$"):
        run_transform(settings, changed={"instagram": ["2026-03-01"]})


def test_models_a_change_cannot_reach_are_left_unchanged(settings):
    land_core(settings)
    run_transform(settings)
    revise_lake(settings)
    modes = {m["model"]: m["mode"] for m in run_transform(settings, changed={"instagram": ["2026-03-04"]})["models"]}
    assert modes["staging.stg_instagram__account_daily"] == "incremental"
    assert modes["audit.kpi_daily_account"] == "incremental"
    # instagram never landed leads; tiktok did not change: their staging and what reads only them stay as they are
    assert modes["staging.stg_instagram__leads"] == "unchanged"
    assert modes["staging.stg_tiktok__post"] == "unchanged"
    assert modes["audit.kpi_daily_leads"] == "unchanged"


def test_a_day_read_again_with_the_same_rows_is_not_recomputed_downstream_nor_revalidated(settings, tmp_path):
    land_core(settings)
    run_transform(settings)
    before = export_all(settings, tmp_path / "before")
    # 03-02 is reported changed, but its partitions hold the rows they held (an export dropped twice)
    result = run_transform(settings, changed={"instagram": ["2026-03-02"]})
    runs = {m["model"]: (m["mode"], m["changed"]) for m in result["models"]}
    # staging re-reads the day and finds the same rows ...
    assert runs["staging.stg_instagram__post_metrics"] == ("incremental", False)
    assert runs["staging.stg_instagram__account_daily"] == ("incremental", False)
    # ... so nothing that reads them is recomputed
    assert runs["intermediate.int_post_metrics__snapshots"] == ("unchanged", False)
    assert runs["audit.kpi_daily_account"] == ("unchanged", False)
    assert runs["audit.kpi_post"] == ("unchanged", False)
    assert export_all(settings, tmp_path / "after") == before
    # and the validation after it re-checks only the raw views of the platform that landed
    assert quality.changed_relations(settings, result) == ["raw.instagram__*"]
    # a real revision of that day still reaches the marts
    revise_lake(settings)
    runs = {m["model"]: (m["mode"], m["changed"])
            for m in run_transform(settings, changed={"instagram": ["2026-03-02"]})["models"]}
    assert runs["staging.stg_instagram__post_metrics"] == ("incremental", True)
    assert runs["audit.kpi_post"] == ("incremental", True)


def test_since_filtered_inputs_need_a_bound_and_a_reference(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "kpi_a.sql").write_text(
        "-- incremental_key: platform, date\n"
        "-- affected_keys: select platform, date from _changed\n"
        "-- since_filtered_inputs: intermediate.int_x.date - 1\n"
        "select 1 as platform, 2 as date\n")
    with pytest.raises(TransformError, match=r"^kpi_a\.sql: since_filtered_inputs needs key_filtered_since "
                                              r"\(the date to read from\)$"):
        discover_models(tmp_path)
    (tmp_path / "marts" / "kpi_a.sql").write_text(
        "-- since_filtered_inputs: intermediate.int_x.date minus one\nselect 1 as a\n")
    with pytest.raises(TransformError, match=r"^kpi_a\.sql: since_filtered_inputs item 'intermediate\.int_x\.date "
                                              r"minus one' must read 'schema\.table\.column' or "
                                              r"'schema\.table\.column - <days>'$"):
        discover_models(tmp_path)


def test_file_drop_account_days_incremental_equals_full(settings, query, tmp_path):
    # int_account_daily__unioned is a table keyed by the conformed (platform, date): a file drop lands under
    # platform 'files' as account 'linkedin.li1', and an API row of the same account-day wins over it.
    land(settings, "linkedin", "account_daily", "2026-03-01", "li1", [{"followers": 500}])
    land(settings, "files", "account_daily", "2026-03-01", "linkedin.li1", [{"followers": 999}])
    land(settings, "files", "account_daily", "2026-03-02", "linkedin.li1", [{"followers": 510}])
    run_transform(settings)
    assert query("select date::varchar, followers, source_platform from intermediate.int_account_daily__unioned "
                 "order by 1") == [("2026-03-01", 500, "linkedin"), ("2026-03-02", 510, "files")]
    # the drop of 03-02 is replaced by a newer export, a 03-03 drop arrives, and the API pull of 03-01 is emptied:
    # 03-01 falls back to the file drop's row
    land(settings, "files", "account_daily", "2026-03-02", "linkedin.li1", [{"followers": 512}])
    land(settings, "files", "account_daily", "2026-03-03", "linkedin.li1", [{"followers": 520}])
    land(settings, "linkedin", "account_daily", "2026-03-01", "li1", [])
    result = run_transform(settings, changed={"files": ["2026-03-02", "2026-03-03"], "linkedin": ["2026-03-01"]})
    assert {m["model"]: m["mode"] for m in result["models"]}["intermediate.int_account_daily__unioned"] \
        == "incremental"
    assert query("select date::varchar, followers, source_platform from intermediate.int_account_daily__unioned "
                 "order by 1") == [("2026-03-01", 999, "files"), ("2026-03-02", 512, "files"),
                                   ("2026-03-03", 520, "files")]
    # 03-02: 512 - 999 = -487 net new followers; 03-03: 520 - 512 = 8
    assert query("select date::varchar, net_new_followers from audit.kpi_daily_account order by 1") == [
        ("2026-03-01", None), ("2026-03-02", -487), ("2026-03-03", 8)]
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    run_transform(full_settings)
    assert export_all(settings, tmp_path / "incremental") == export_all(full_settings, tmp_path / "full")


def test_period_rollups_recompute_the_periods_a_replaced_post_left_and_entered(settings, query, tmp_path):
    # The rollups are incremental by (period, period_start, platform): replaced_rows(audit.kpi_post) names the
    # weeks and months of a recomputed post before and after the run. p3 is re-landed with its creation moved
    # from 03-02 (week of 03-02, March) to 02-27 12:00 Pacific (week of 02-23, February).
    land_core(settings)
    run_transform(settings)
    rollup = ("select period, period_start::varchar, content_type, paid_status, posts, engagements "
              "from audit.kpi_period_content order by all")
    # p1 60 (50 + 10), p2 40 (25 + 15), pz 1: image, organic; p3 80: video, paid
    assert query(rollup) == [
        ("month", "2026-03-01", "image", "organic", 3, 101), ("month", "2026-03-01", "video", "paid", 1, 80),
        ("week", "2026-02-23", "image", "organic", 3, 101), ("week", "2026-03-02", "video", "paid", 1, 80)]
    land(settings, "instagram", "post", "2026-03-02", "ig1", [
        {"post_id": "p2", "created_at": ts("2026-03-02T05:00"), "content_type": "image", "is_paid": False,
             "campaign": "spring", "author_type": "brand"},
        {"post_id": "p3", "created_at": ts("2026-02-27T20:00"), "content_type": "video", "is_paid": True,
             "campaign": "launch", "author_type": "brand"}])
    result = run_transform(settings, changed={"instagram": ["2026-03-02"]})
    modes = {m["model"]: m["mode"] for m in result["models"]}
    assert {modes[f"audit.kpi_period_{name}"] for name in ("account", "content", "campaign")} == {"incremental"}
    # the week of 03-02 is left without posts; p3 now counts in February and in the week of 02-23
    assert query(rollup) == [
        ("month", "2026-02-01", "video", "paid", 1, 80), ("month", "2026-03-01", "image", "organic", 3, 101),
        ("week", "2026-02-23", "image", "organic", 3, 101), ("week", "2026-02-23", "video", "paid", 1, 80)]
    # kpi_daily_account too: the old and the new creation day are recomputed (p3 was ig1's only post of 03-02)
    assert query("select date::varchar, posts from audit.kpi_daily_account where account_id = 'ig1' "
                 "and date in ('2026-02-27', '2026-03-02') order by 1") == [("2026-02-27", 1), ("2026-03-02", 0)]
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    run_transform(full_settings)
    assert export_all(settings, tmp_path / "incremental") == export_all(full_settings, tmp_path / "full")


@pytest.mark.parametrize("header, message", [
    ("-- affected_keys: select platform from replaced_rows(audit.kpi_b)\n",
     (r"model audit\.kpi_a \(kpi_a\.sql\): replaced_rows\(audit\.kpi_b\) needs the model to read audit\.kpi_b "
     r"\(directly or through views\)$")),
    ("-- affected_keys: select platform from replaced_rows(audit.kpi_b)\nselect * from audit.kpi_b\n",
     (r"model audit\.kpi_a \(kpi_a\.sql\): replaced_rows\(audit\.kpi_b\) needs an incremental table "
     r"\(one with incremental_key\)$")),
])
def test_replaced_rows_must_name_an_incremental_table_the_model_reads(tmp_path, header, message):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "kpi_b.sql").write_text("select 'x' as platform\n")
    (tmp_path / "marts" / "kpi_a.sql").write_text(f"-- incremental_key: platform\n{header}select 'x' as platform\n")
    with pytest.raises(TransformError, match=message):
        discover_models(tmp_path)


def snapshot(post_id: str, likes: int, reach: int | None) -> dict:
    """A lifetime snapshot with only likes and reach moving (the other counters 0)."""
    return {**metrics_row(post_id, 1000, 0, likes, 0, 0, 0, 0), "reach": reach}


def test_revised_pull_days_recompute_only_the_later_snapshots_from_the_kept_state(settings, query, tmp_path):
    # s1 pulled on 4 days: 03-02 omits reach (NULL: not reported), 03-03 reports likes down (15 -> 14);
    # s2 pulled once on 03-01, which no change below touches
    for day, rows in {"2026-03-01": [snapshot("s1", 10, 100), snapshot("s2", 5, 50)],
                      "2026-03-02": [snapshot("s1", 15, None)],
                      "2026-03-03": [snapshot("s1", 14, 130)],
                      "2026-03-04": [snapshot("s1", 20, 150)]}.items():
        land(settings, "instagram", "post_metrics", day, "ig2", rows)
    run_transform(settings)
    gains = ("select date::varchar, new_likes, new_reach, decreased_metrics, snapshot_number, is_latest "
             "from intermediate.int_post_metrics__snapshots where post_id = 's1' order by date")
    # likes 10, 15 - 10 = 5, decrease -> 0, 20 - 14 = 6; reach 100, omitted, 130 - 100 = 30, 150 - 130 = 20
    assert query(gains) == [("2026-03-01", 10, 100, None, 1, False), ("2026-03-02", 5, None, None, 2, False),
                            ("2026-03-03", 0, 30, "likes", 3, False), ("2026-03-04", 6, 20, None, 4, True)]
    # 03-03 revised (likes 18, reach omitted), 03-04 re-landed without s1, a new pull on 03-05
    land(settings, "instagram", "post_metrics", "2026-03-03", "ig2", [snapshot("s1", 18, None)])
    land(settings, "instagram", "post_metrics", "2026-03-04", "ig2", [])
    land(settings, "instagram", "post_metrics", "2026-03-05", "ig2", [snapshot("s1", 25, 170)])
    result = run_transform(settings, changed={"instagram": ["2026-03-03", "2026-03-04", "2026-03-05"]})
    by_model = {m["model"]: m for m in result["models"]}
    # recomputed from s1's last kept snapshot before the first changed day (03-02, whose is_latest could flip) on:
    # 03-02, 03-03 and 03-05 inserted; 03-01 of s1 and s2 kept as stored
    assert (by_model["intermediate.int_post_metrics__snapshots"]["mode"],
            by_model["intermediate.int_post_metrics__snapshots"]["rows"]) == ("incremental", 3)
    # likes 18 - 15 = 3 and 25 - 18 = 7; reach: 03-05 gains 170 - 100 (03-01's, the last reported, read from the
    # kept snapshot: 03-02 and 03-03 omitted it); snapshot numbers continue from the kept one
    assert query(gains) == [("2026-03-01", 10, 100, None, 1, False), ("2026-03-02", 5, None, None, 2, False),
                            ("2026-03-03", 3, None, None, 3, False), ("2026-03-05", 7, 70, None, 4, True)]
    assert query("select post_id, likes, reach, snapshots from audit.kpi_post where account_id = 'ig2' "
                 "order by 1") == [("s1", 25, 170, 4), ("s2", 5, 50, 1)]
    full_settings = dataclasses.replace(settings, warehouse_path=tmp_path / "full.duckdb")
    run_transform(full_settings)
    assert export_all(settings, tmp_path / "incremental") == export_all(full_settings, tmp_path / "full")


def test_a_model_that_became_a_table_replaces_the_view_of_an_older_layout(settings, query):
    # int_post_metrics__lifetime was a view before it became an incremental table
    land_core(settings)
    run_transform(settings)
    con = connect(settings)
    try:
        con.execute("drop table intermediate.int_post_metrics__lifetime")
        con.execute("create view intermediate.int_post_metrics__lifetime as select 1 as stale")
    finally:
        con.close()
    assert run_transform(settings, changed={"instagram": ["2026-03-03"]})["mode"] == "full"
    assert query("select table_type from information_schema.tables where table_schema = 'intermediate' "
                 "and table_name = 'int_post_metrics__lifetime'") == [("BASE TABLE",)]
    # p1 pulled on 03-02 and 03-03: lifetime engagements 48 + 6 + 4 + 2 = 60
    assert query("select snapshots, engagements from intermediate.int_post_metrics__lifetime "
                 "where post_id = 'p1'") == [(2, 60)]
