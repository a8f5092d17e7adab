"""Staging SQL is written once per entity and rendered per platform; unions are generated."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from pipeline import transform
from pipeline.schemas import PLATFORM_TIMEZONES
from pipeline.transform import (
    TransformError,
    discover_models,
    raw_entities,
    render_staging,
    union_staging,
    value_columns,
)

from .lake import land

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def staging_models(sql_dir: Path) -> dict[str, transform.Model]:
    return {m.relation: m for m in discover_models(sql_dir) if m.schema == "staging"}


def test_rendered_staging_models_are_exactly_the_raw_entities():
    models = staging_models(SQL_DIR)
    # 6 API platforms x 8 common entities + facebook support + ga4 web sessions + instagram and linkedin
    # competitor_account_daily + ga4 web_first_touch and web_cohorts + 7 file-drop entities (account_daily, mentions,
    # post, post_metrics, orders, competitor_account_daily, applications)
    expected = {f"staging.stg_{p}__{e}" for p, e in raw_entities()}
    assert len(expected) == 6 * 8 + 2 + 2 + 2 + 7 == 61
    assert set(models) == expected
    assert models["staging.stg_x__post_metrics"].source == "templates/stg_platform__post_metrics.sql for x"
    # only the single-platform entities are concrete files; the rest come from entity templates
    concrete = sorted(m.source for m in models.values() if m.path.parent.name == "staging")
    assert concrete == ["stg_facebook__support_conversations.sql", "stg_files__orders.sql", "stg_ga4__web_cohorts.sql",
                        "stg_ga4__web_first_touch.sql", "stg_ga4__web_sessions.sql"]
    assert models["staging.stg_x__post"].source == "templates/stg_platform__post.sql for x"


def test_template_takes_platform_and_time_zone_from_schemas():
    instagram = render_staging(SQL_DIR, "instagram", "post")
    tiktok = render_staging(SQL_DIR, "tiktok", "post")
    assert PLATFORM_TIMEZONES["instagram"] == "America/Los_Angeles"
    assert "select * from raw.instagram__post\n" in instagram
    assert "'instagram' as platform," in instagram
    assert "cast(created_at at time zone 'America/Los_Angeles' as date) as created_date," in instagram
    assert "cast(created_at at time zone 'UTC' as date) as created_date," in tiktok
    # the dedupe macro hashes every non-key canonical column, in schema order
    assert ("partition by account_id, post_id\n        order by schema_version desc, partition_date desc, "
            "hash(created_at, content_type, is_paid, campaign, variant, partner_handle, author_type, "
            "caption) desc") in tiktok
    files = render_staging(SQL_DIR, "files", "mentions")
    assert "-- File drops: account_id is '<network>.<account>'" in files
    assert "File drops" not in render_staging(SQL_DIR, "x", "mentions")


def test_unknown_platform_in_a_template_render_is_rejected():
    with pytest.raises(ValueError, match=r"^unknown platform 'myspace' for a staging template; known: "
                                         r"instagram, facebook, tiktok, linkedin, x, ga4, files$"):
        render_staging(SQL_DIR, "myspace", "post")
    with pytest.raises(ValueError, match=r"^unknown platform \"x'; drop table t; --\" for a staging"):
        render_staging(SQL_DIR, "x'; drop table t; --", "post")
    with pytest.raises(ValueError, match=r"^platform 'x' does not land entity 'web_sessions'"):
        render_staging(SQL_DIR, "x", "web_sessions")


def test_union_staging_lists_every_platform_landing_the_entity():
    assert union_staging("mentions") == (
        "select * from staging.stg_instagram__mentions\n    union all by name\n"
        "    select * from staging.stg_facebook__mentions\n    union all by name\n"
        "    select * from staging.stg_tiktok__mentions\n    union all by name\n"
        "    select * from staging.stg_linkedin__mentions\n    union all by name\n"
        "    select * from staging.stg_x__mentions\n    union all by name\n"
        "    select * from staging.stg_ga4__mentions\n    union all by name\n"
        "    select * from staging.stg_files__mentions")
    assert union_staging("web_sessions") == "select * from staging.stg_ga4__web_sessions"
    with pytest.raises(ValueError, match=r"^union_staging: unknown entity 'tweets'$"):
        union_staging("tweets")
    with pytest.raises(ValueError, match=r"^value_columns: \['job_id'\] are not columns of 'leads'$"):
        value_columns("leads", ["job_id"])


def test_a_new_platform_needs_no_sql_file(monkeypatch):
    monkeypatch.setattr(transform, "PLATFORMS", (*transform.PLATFORMS, "threads"))
    monkeypatch.setattr(transform, "PLATFORM_TIMEZONES", {**PLATFORM_TIMEZONES, "threads": "UTC"})
    models = {m.relation: m for m in discover_models(SQL_DIR)}
    assert "'threads' as platform," in models["staging.stg_threads__post_metrics"].sql
    assert "staging.stg_threads__post_metrics" in models["intermediate.int_post_metrics__unioned"].references
    assert "'threads' as platform," in models["staging.stg_threads__post"].sql
    assert "staging.stg_threads__mentions" in models["intermediate.int_mentions__unioned"].references


def test_platform_without_time_zone_is_rejected(monkeypatch):
    monkeypatch.setattr(transform, "PLATFORMS", (*transform.PLATFORMS, "threads"))
    with pytest.raises(ValueError, match=r"^platform 'threads': no valid time zone in PLATFORM_TIMEZONES "
                                         r"\(''\)$"):
        discover_models(SQL_DIR)


def test_concrete_staging_file_overrides_the_template(settings, query, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    override = render_staging(sql_dir, "x", "leads").replace("leads,\n", "leads * 10 as leads,\n")
    (sql_dir / "staging" / "stg_x__leads.sql").write_text(override)
    models = staging_models(sql_dir)
    assert models["staging.stg_x__leads"].source == "stg_x__leads.sql"
    assert models["staging.stg_tiktok__leads"].source == "templates/stg_platform__leads.sql for tiktok"
    land(settings, "x", "leads", "2026-03-01", "x1", [{"date": "2026-03-01", "lead_type": "form", "leads": 3}])
    land(settings, "tiktok", "leads", "2026-03-01", "t1", [{"date": "2026-03-01", "lead_type": "form", "leads": 3}])
    transform.run_transform(dataclasses.replace(settings, sql_dir=sql_dir))
    # x: 3 leads x 10 by the override; tiktok: 3 from the template
    assert query("select platform, leads from staging.stg_x__leads union all "
                 "select platform, leads from staging.stg_tiktok__leads order by 1") == [
        ("tiktok", 3), ("x", 30)]


def test_template_with_an_undefined_value_names_itself(tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    template = sql_dir / "staging" / "templates" / "stg_platform__leads.sql"
    template.write_text(template.read_text().replace("{{ timezone }}", "{{ time_zone }}"))
    with pytest.raises(TransformError, match=r"^templates/stg_platform__leads\.sql for instagram: "
                                             r"template error: 'time_zone' is undefined$"):
        discover_models(sql_dir)
