"""Validating only what a transform build changed: the other tables keep the results of the validation of the
build before, and the gate stays as strict (a changed table's critical failure, or an unchanged table's kept
one, still refuses publishing)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipeline import quality, transform
from pipeline.settings import Settings, get_settings
from tests.quality import warehouse

AS_OF = dt.date(2026, 11, 25)
# build_clean's six relations: raw.instagram__{account_daily, post, post_metrics},
# staging.stg_instagram__post_metrics, audit.kpi_daily_account, audit.kpi_post
CLEAN_TABLES = 6
# the duplicate of post p1 breaks audit.kpi_post's critical uniqueness of (platform, post_id) (see
# test_gate_reliability): one critical failure
DUPLICATE_POST = "insert into audit.kpi_post select * from audit.kpi_post where post_id = 'p1'"


def _settings(root: Path) -> Settings:
    settings = get_settings({"GOALPOST_HOME": str(root)})
    settings.ensure_dirs()
    return settings


def _build(settings: Settings, *statements: str) -> str:
    """A transform build: ``statements`` and the build id, committed together (as run_transform does)."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("begin transaction")
        for statement in statements:
            con.execute(statement)
        build = transform.record_build(con, "incremental")
        con.execute("commit")
    return build


def _checked_tables(settings: Settings, run_id: str) -> set[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {t for (t,) in con.execute("select distinct table_name from ops.dq_results where run_id = ?",
                                          [run_id]).fetchall()}


def _result_rows(settings: Settings, run_id: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select table_name, check_name, success, unexpected_count from ops.dq_results "
                           "where run_id = ? order by all", [run_id]).fetchall()


@pytest.fixture
def validated(tmp_path: Path) -> tuple[Settings, str]:
    """The clean warehouse as one build, validated in full (run "full")."""
    settings = _settings(tmp_path)
    warehouse.build_clean(settings.warehouse_path)
    build = _build(settings)
    summary = quality.validate(settings, run_id="full", as_of=AS_OF)
    assert (summary["tables"], summary["reused_from"], summary["failures"]["critical"]) == (CLEAN_TABLES, None, 0)
    return settings, build


def test_a_build_that_changed_one_table_validates_only_its_suite_and_keeps_the_rest(validated) -> None:
    settings, _ = validated
    build = _build(settings, "update audit.kpi_daily_account set profile_views = 6 where date = date '2026-11-24'")
    summary = quality.validate(settings, run_id="changed", as_of=AS_OF, changed=["audit.kpi_daily_account"],
                               changed_build=build)
    # re-checked: kpi_daily_account and kpi_post, whose suite's cross-table check reads kpi_daily_account;
    # the other 4 keep run "full"'s results
    assert (summary["tables"], summary["reused_tables"], summary["reused_from"]) == (2, 4, "full")
    assert summary["build_id"] == build and summary["failures"]["critical"] == 0
    # the run's results are complete: every table, the same checks and outcomes as the full run's
    assert _checked_tables(settings, "changed") == _checked_tables(settings, "full")
    assert _result_rows(settings, "changed") == _result_rows(settings, "full")
    assert transform.publish(settings)["validation_run"] == "changed"      # the gate accepts it: no scope
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select scope, reused_from from ops.validation_runs where run_id = 'changed'"
                           ).fetchall() == [(None, "full")]


def test_a_critical_failure_in_the_changed_table_still_refuses_publishing(validated) -> None:
    settings, _ = validated
    build = _build(settings, DUPLICATE_POST)
    with pytest.raises(quality.QualityGateFailed) as caught:
        quality.validate(settings, run_id="dup", as_of=AS_OF, changed=["audit.kpi_post"], changed_build=build)
    assert caught.value.summary["tables"] == 1 and caught.value.summary["reused_tables"] == CLEAN_TABLES - 1
    assert caught.value.summary["failures"]["critical"] == 1
    with pytest.raises(transform.PublishRefused, match=f"failed 1 critical expectation on build {build}"):
        transform.publish(settings)


def test_an_unchanged_tables_kept_failure_still_refuses_publishing(validated) -> None:
    settings, _ = validated
    _build(settings, DUPLICATE_POST)
    with pytest.raises(quality.QualityGateFailed):
        quality.validate(settings, run_id="dup", as_of=AS_OF)
    # the next build changes only Instagram's lake: its 3 raw relations are re-checked, kpi_post is not and
    # keeps its failure
    later = _build(settings, "update raw.instagram__post set caption = 'hi' where post_id = 'p2'")
    with pytest.raises(quality.QualityGateFailed) as caught:
        quality.validate(settings, run_id="later", as_of=AS_OF, changed=["raw.instagram__*"], changed_build=later)
    summary = caught.value.summary
    assert (summary["tables"], summary["reused_tables"], summary["reused_from"]) == (3, 3, "dup")
    assert summary["failures"]["critical"] == 1
    assert summary["failed"][0]["table"] == "audit.kpi_post"
    with pytest.raises(transform.PublishRefused, match=f"failed 1 critical expectation on build {later}"):
        transform.publish(settings)


@pytest.mark.parametrize("case", ["unvalidated build in between", "other as-of day", "other suites",
                                  "result of another build", "narrowed run"])
def test_every_suite_runs_when_the_kept_results_might_not_hold(validated, case, monkeypatch) -> None:
    settings, _ = validated
    as_of = AS_OF
    if case == "unvalidated build in between":
        _build(settings)
    build = _build(settings)
    changed_build = build
    if case == "other as-of day":
        as_of = AS_OF + dt.timedelta(days=1)
    elif case == "other suites":
        monkeypatch.setattr(quality, "suites_digest", lambda suites: "edited")
    elif case == "result of another build":
        changed_build = "20261125T000000Z-000000"
    tables = ["*"] if case == "narrowed run" else None
    summary = quality.validate(settings, run_id="again", as_of=as_of, tables=tables, changed=["raw.x__*"],
                               changed_build=changed_build)
    assert (summary["tables"], summary["reused_tables"], summary["reused_from"]) == (CLEAN_TABLES, 0, None)


def test_changed_relations_of_an_incremental_file_drop_build() -> None:
    settings = get_settings()
    result = {"mode": "incremental", "changed": [["files", "2026-11-20"]], "models": [
        {"model": "staging.stg_files__mentions", "mode": "incremental"},
        {"model": "staging.stg_x__mentions", "mode": "unchanged"},
        {"model": "intermediate.int_mentions__unioned", "mode": "view"},
        {"model": "intermediate.int_ad_spend__unioned", "mode": "view"},
        {"model": "audit.kpi_daily_mentions", "mode": "incremental"},
        {"model": "audit.kpi_daily_account", "mode": "unchanged"},
    ]}
    changed = quality.changed_relations(settings, result)
    # the two tables the run wrote, the view reading one of them, the lake views of the changed platform;
    # not the view over untouched tables (int_ad_spend__unioned) nor the unchanged tables
    assert {"staging.stg_files__mentions", "audit.kpi_daily_mentions", "intermediate.int_mentions__unioned",
            "raw.files__*"} <= set(changed)
    assert not {"intermediate.int_ad_spend__unioned", "staging.stg_x__mentions",
                "audit.kpi_daily_account"} & set(changed)
    assert quality.changed_relations(settings, {**result, "mode": "full"}) is None
    assert quality.changed_relations(settings, None) is None


def test_which_suites_read_a_changed_relation() -> None:
    def planned(query: str) -> quality._Planned:
        suite = quality.Suite("s", "audit.kpi_post", Path("s.json"), {"expectations": [
            {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": query}}]})
        return quality._Planned("audit.kpi_post", suite, "audit.kpi_post")

    cross = planned("select * from {batch} where account_id not in (select account_id from audit.kpi_daily_account)")
    assert quality._reads_changed(cross, ["audit.kpi_daily_account"], AS_OF)
    assert not quality._reads_changed(cross, ["raw.x__*", "audit.kpi_period_account"], AS_OF)
    assert quality._reads_changed(cross, ["audit.kpi_*"], AS_OF)          # its own table, by pattern
    # ops tables are reloaded by every validation: a check reading one runs even when nothing changed
    assert quality._reads_changed(planned("select * from {batch} join ops.quarantine using (post_id)"), [], AS_OF)
