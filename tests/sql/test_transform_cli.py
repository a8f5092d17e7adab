"""`goalpost transform`: --changed runs the incremental build for the days given; progress goes to stderr."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main

from .conftest import land_core
from .test_incremental import revise_lake


def test_changed_days_run_incrementally_with_progress_on_stderr(settings, query):
    land_core(settings)
    first = CliRunner().invoke(main, ["transform"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["mode"] == "full"
    revise_lake(settings)
    result = CliRunner().invoke(main, ["transform", "--changed", "instagram:2026-03-02..2026-03-03",
                                       "--changed", "instagram:2026-03-04"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["mode"] == "incremental"
    assert summary["changed"] == [["instagram", "2026-03-02"], ["instagram", "2026-03-03"],
                                  ["instagram", "2026-03-04"]]
    # each model as it finishes, then one line for the run
    assert any(line.startswith("incremental") and "audit.kpi_post " in line for line in result.stderr.splitlines())
    unchanged = sum(m["mode"] == "unchanged" for m in summary["models"])
    assert result.stderr.splitlines()[-1].startswith(
        f"transform: incremental, {len(summary['models'])} models ({unchanged} unchanged), 3 changed platform-days, ")
    # the same numbers as tests/sql/test_incremental.py: p1's latest snapshot 78 + 6 + 4 + 2 = 90, p4 14
    assert query("select post_id, engagements from audit.kpi_post where account_id = 'ig1' order by 1") == [
        ("p1", 90), ("p2", 25), ("p3", 80), ("p4", 14)]


@pytest.mark.parametrize("args, message", [
    (["--changed", "instagram"],
     ("Invalid value for --changed: 'instagram': expected PLATFORM:YYYY-MM-DD or PLATFORM:YYYY-MM-DD..YYYY-MM-DD "
     "(last day included)")),
    (["--changed", "instagram:2026-03-04..2026-03-01"],
     "Invalid value for --changed: 'instagram:2026-03-04..2026-03-01': 2026-03-04 is after 2026-03-01"),
    (["--changed", "instagram:2026-02-30"],
     "Invalid value for --changed: 'instagram:2026-02-30': day is out of range for month"),
    (["--changed", "myspace:2026-03-01"],
     ("Invalid value for --changed: unknown platform(s) ['myspace']; known: instagram, facebook, tiktok, "
     "linkedin, x, ga4, files")),
    (["--full-refresh", "--changed", "x:2026-03-01"],
     "Error: --full-refresh rebuilds everything: it does not take --changed"),
    (["--select", "+kpi_post", "--changed", "x:2026-03-01"],
     "Error: --select builds the chosen models in full: it does not take --changed"),
])
def test_bad_changed_days_are_refused_before_anything_runs(settings, args, message):
    result = CliRunner().invoke(main, ["transform", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not settings.warehouse_path.exists()


def test_select_builds_a_model_and_what_it_reads(settings, query):
    land_core(settings)
    result = CliRunner().invoke(main, ["transform", "--select", "+kpi_post"])
    assert result.exit_code == 0, result.output
    built = {m["model"] for m in json.loads(result.stdout)["models"]}
    assert "audit.kpi_post" in built and "intermediate.int_post_metrics__lifetime" in built
    assert "audit.kpi_daily_web_traffic" not in built          # not read by kpi_post
    assert query("select post_id, engagements from audit.kpi_post where account_id = 'ig1' order by 1")[0][0] == "p1"
    unknown = CliRunner().invoke(main, ["transform", "--select", "kpi_nothing"])
    assert unknown.exit_code == 1
    assert unknown.output.strip().endswith("select 'kpi_nothing': no model of that name under sql/ (give a file stem "
                                           "like kpi_post or a relation like audit.kpi_post)")
