"""`goalpost goals check` and `goalpost kpis`: every problem of every goal in one pass, with its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.goals import GoalsFileError, check_goals_file, load_goals_file
from pipeline.metrics import MetricsDictionary
from pipeline.settings import REPO_ROOT

from .conftest import write_goals

SOURCES = ["instagram", "facebook", "linkedin", "tiktok", "x"]

# Four bad goals, one problem each; the line numbers below are the lines of the offending fields.
FOUR_BAD = """\
goals:
  - id: unknown_kpi
    title: A KPI that does not exist
    objective: awareness
    kpi: folowers
    scope: {platforms: [instagram]}
    target: 100
    start: 2026-09-01
    deadline: 2027-03-01
    owner: a
  - id: bad_start
    title: A month 13
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram]}
    target: 100
    start: 2026-13-45
    deadline: 2027-03-01
    owner: a
  - id: csat_500
    title: CSAT of 500
    objective: customer_service
    kpi: csat
    scope: {platforms: [facebook]}
    target: 500
    start: 2026-10-01
    deadline: 2026-12-31
    owner: a
  - id: zero_baseline
    title: Fifteen percent of nothing
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram]}
    baseline: 0
    target: "+15%"
    start: 2026-09-01
    deadline: 2027-03-01
    owner: a
"""


def test_four_bad_goals_give_four_messages_in_one_pass(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = write_goals(tmp_path, FOUR_BAD)
    with pytest.raises(GoalsFileError) as exc:
        load_goals_file(path, metrics, sources=SOURCES)
    assert str(exc.value).splitlines() == [
        (f"{path}:5: goal 'unknown_kpi': field 'kpi': unknown KPI 'folowers'; valid KPIs: audience_growth_rate, "
        "csat, daily_er, followers, impressions, leads, median_first_response_minutes"),
        (f"{path}:17: goal 'bad_start': field 'start': '2026-13-45' is not a valid date "
        "(month value is outside expected range of 1-12); write it as YYYY-MM-DD"),
        (f"{path}:25: goal 'csat_500': field 'target': Achievable: target 500 is outside the range of percent KPI "
        "'csat': 0..100 (percentages are written 0..100: 80 % is 80)"),
        (f"{path}:35: goal 'zero_baseline': field 'target': Measurable: a relative target (+15%) of a zero "
        "baseline stays 0; set an absolute target (a number) instead"),
    ]
    letters = {g.goal_id: g.letters() for g in check_goals_file(path, metrics, sources=SOURCES).goals}
    assert letters["unknown_kpi"]["M"][0] == "fail"
    assert letters["bad_start"]["T"] == ("fail", (f"{path}:17: field 'start': '2026-13-45' is not a valid date "
                                                 "(month value is outside expected range of 1-12); "
                                                 "write it as YYYY-MM-DD"))
    assert letters["csat_500"]["A"][0] == "fail" and letters["zero_baseline"]["M"][0] == "fail"
    assert letters["csat_500"]["S"] == ("pass", "Specific: no problem found")


def test_unknown_kpi_is_reported_with_the_field_errors_of_the_same_goal(tmp_path: Path,
                                                                        metrics: MetricsDictionary) -> None:
    """Before: the unknown KPI came only after the objective was fixed (two passes)."""
    path = write_goals(tmp_path, FOUR_BAD.replace("objective: awareness\n    kpi: folowers",
                                                  "objective: fame\n    kpi: folowers"))
    lines = check_goals_file(path, metrics).errors
    assert [line.split(": goal ")[0] for line in lines[:2]] == [f"{path}:4", f"{path}:5"]
    assert "field 'objective'" in lines[0] and "unknown KPI 'folowers'" in lines[1]


RANGES = {
    # field: value -> (line, field, message); lines of TEMPLATE below
    "negative count target": (
        {"target": "-5"}, 7, "target",
        "Achievable: target -5 is outside the range of count KPI 'followers': 0 or more (count cannot be negative)"),
    "relative fall below zero": (
        {"target": '"-150%"'}, 7, "target",
        "Achievable: -150% would take count KPI 'followers' below 0; a fall is at most -100%"),
    "relative target above 100 %": (
        {"kpi": "csat", "baseline": "95", "target": '"+15%"'}, 7, "target",
        ("Achievable: target +15% of baseline 95 is 109.25, which is outside the range of percent KPI 'csat': "
        "0..100 (percentages are written 0..100: 80 % is 80)")),
    "percent baseline above 100": (
        {"kpi": "csat", "baseline": "120", "target": "90"}, 8, "baseline",
        ("Measurable: baseline 120 is outside the range of percent KPI 'csat': 0..100 "
        "(percentages are written 0..100: 80 % is 80)")),
    "platform not in sources.yml": (
        {"scope": "{platforms: [myspace]}"}, 6, "scope.platforms",
        ("Specific: 'myspace' is not a source in sources.yml (sources: instagram, facebook, linkedin, tiktok, x); "
        "fix the name or add the source")),
    "duration baseline on a count": (
        {"baseline": "10 minutes"}, 8, "baseline",
        "a duration baseline needs a time KPI (minutes or seconds); 'followers' is in count"),
}

TEMPLATE = """\
goals:
  - id: g1
    title: A goal
    objective: awareness
    kpi: {kpi}
    scope: {scope}
    target: {target}
    baseline: {baseline}
    start: 2026-09-01
    deadline: 2027-03-01
    owner: someone
"""


@pytest.mark.parametrize("case", RANGES, ids=list(RANGES))
def test_units_and_ranges_from_the_dictionary(tmp_path: Path, metrics: MetricsDictionary, case: str) -> None:
    fields, line, field, message = RANGES[case]
    values = {"kpi": "followers", "scope": "{platforms: [instagram]}", "target": "100", "baseline": "auto",
              **fields}
    path = write_goals(tmp_path, TEMPLATE.format(**values))
    assert check_goals_file(path, metrics, sources=SOURCES).errors == [
        f"{path}:{line}: goal 'g1': field '{field}': {message}"]


def test_duration_baseline_is_converted_like_a_duration_target(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = write_goals(tmp_path, TEMPLATE.format(kpi="median_first_response_minutes", scope="{platforms: [facebook]}",
                                                 target="2 minutes", baseline="10 minutes").replace(
        "objective: awareness", "objective: customer_service"))
    (goal,) = load_goals_file(path, metrics, sources=SOURCES).goals
    assert goal.baseline == 10.0 and goal.target.resolve(goal.baseline, "minutes") == 2.0
    path = write_goals(tmp_path, TEMPLATE.format(kpi="median_first_response_minutes", scope="{platforms: [facebook]}",
                                                 target="2 hours", baseline="600 seconds").replace(
        "objective: awareness", "objective: customer_service"))
    (goal,) = load_goals_file(path, metrics).goals
    assert goal.baseline == 10.0              # 600 s / 60
    assert goal.smart_warnings == (("Relevant: target 120 is above the baseline 10 but lower is better for "
                                   "'median_first_response_minutes'; check the target's unit and sign"),)


def test_percent_target_written_as_a_fraction_is_a_warning(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = write_goals(tmp_path, TEMPLATE.format(kpi="csat", scope="{platforms: [facebook]}", target="0.8",
                                                 baseline="auto"))
    (check,) = check_goals_file(path, metrics).goals
    assert check.letters()["M"] == ("warn", ("Measurable: target 0.8 of percent KPI 'csat' reads as 0.8 %; "
                                            "percentages are written 0..100 (80 % is 80)"))


def _repo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOALPOST_GOALS_FILE", "GOALPOST_METRICS_FILE", "GOALPOST_SOURCES_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_seed_goals_check_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    _repo_env(monkeypatch)
    result = CliRunner().invoke(main, ["goals", "check"])
    assert result.exit_code == 0, result.output
    count = len(yaml.safe_load((REPO_ROOT / "goals.yml").read_text())["goals"])
    lines = result.output.splitlines()
    assert lines[-1] == f"{REPO_ROOT / 'goals.yml'}: {count} goal(s), 0 error(s), 0 warning(s)"
    for letter in "SMART":
        assert sum(line.startswith(f"  {letter}  pass  ") for line in lines) == count


def test_cli_prints_one_line_per_letter_and_exits_1_on_errors(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _repo_env(monkeypatch)
    path = write_goals(tmp_path, FOUR_BAD)
    result = CliRunner().invoke(main, ["goals", "check", "--file", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    headers = [line for line in lines if line.startswith(f"{path}:") and "  " in line and ": goal" not in line]
    assert [h.split("  ")[1] for h in headers[:4]] == ["unknown_kpi", "bad_start", "csat_500", "zero_baseline"]
    for letter in "SMART":
        assert sum(line.startswith(f"  {letter}  ") for line in lines) == 4
    fails = [line for line in lines if line[5:9] == "fail"]
    assert [(f[2], f.split(f"{path}:")[1].split(":")[0]) for f in fails] == [
        ("M", "5"), ("T", "17"), ("A", "25"), ("M", "35")]
    assert lines[-1] == f"{path}: 4 goal(s), 4 error(s), 0 warning(s)"


def test_unreadable_file_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo_env(monkeypatch)
    result = CliRunner().invoke(main, ["goals", "check", "--file", str(tmp_path / "nope.yml")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"{tmp_path / 'nope.yml'}: cannot read goals file: No such file or directory"]


def test_kpis_lists_every_metric_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _repo_env(monkeypatch)
    result = CliRunner().invoke(main, ["kpis"])
    assert result.exit_code == 0, result.output
    names = [m["name"] for m in yaml.safe_load((REPO_ROOT / "sql" / "metrics.yml").read_text())["metrics"]]
    rows = result.output.splitlines()
    assert rows[0].split()[:3] == ["name", "unit", "direction"]
    assert [row.split()[0] for row in rows[1:]] == names
    followers = rows[1 + names.index("followers")].split()
    assert followers == ["followers", "count", "increase", "platform,account_id", "Followers"]
    csat = rows[1 + names.index("csat")].split()
    assert csat[:3] == ["csat", "percent", "increase"]
