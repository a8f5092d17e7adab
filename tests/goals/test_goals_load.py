"""goals.yml loading: the model, SMART checks at load time, and exact error messages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.goals import GoalsFileError, Target, load_goals, load_goals_file, smart_check
from pipeline.metrics import MetricsDictionary, load_metrics
from pipeline.settings import REPO_ROOT

from .conftest import write_goals

VALID = """\
objective_groups:
  - id: care
    title: Answer customers fast
goals:
  - id: messenger_wait
    title: Cut Messenger wait time from 10 to 2 minutes
    objective: customer_service
    kpi: median_first_response_minutes
    scope: {platforms: [facebook]}
    window: trailing_7d
    baseline: 10
    target: 2 minutes
    start: 2026-10-01
    deadline: 2026-12-31
    owner: care-lead
    parent: care
    weight: 0.6
  - id: ig_followers
    title: Grow Instagram audience 15 %
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram]}
    target: "+15%"
    start: 2026-09-01
    deadline: 2027-03-01
    owner: ig-lead
"""

# One goal whose fields are set by each bad case below; line 2 is the `- id:` line.
TEMPLATE = """\
goals:
  - id: g1
    title: A goal
    objective: {objective}
    kpi: {kpi}
    scope: {scope}
    target: {target}
    start: 2026-09-01
    deadline: {deadline}
    owner: someone
"""


def bad_goal(tmp_path: Path, **fields: str) -> Path:
    values = {"objective": "awareness", "kpi": "followers", "scope": "{platforms: [instagram]}",
              "target": '"+15%"', "deadline": "2027-03-01", **fields}
    return write_goals(tmp_path, TEMPLATE.format(**values))


def test_valid_file_loads_targets_scopes_and_groups(tmp_path: Path, metrics: MetricsDictionary) -> None:
    loaded = load_goals_file(write_goals(tmp_path, VALID), metrics)
    wait, followers = loaded.goals
    assert wait.target == Target(kind="duration", value=120.0, text="2 minutes")
    assert wait.target.resolve(10.0, "minutes") == 2.0          # 120 s / 60
    assert wait.baseline == 10.0 and wait.parent == "care" and wait.weight == 0.6
    assert followers.target.kind == "relative" and followers.target.value == 15.0
    assert followers.target.resolve(1000.0, "count") == pytest.approx(1150.0)   # 1000 * 1.15
    assert followers.baseline == "auto" and followers.window == "trailing_28d"
    assert followers.freshness_days == 3 and followers.success == "reach"
    assert [g.id for g in loaded.objective_groups] == ["care"]
    assert wait.smart_warnings == () and followers.smart_warnings == ()


def test_target_forms() -> None:
    assert Target.parse(300).resolve(None, "count") == 300.0
    assert Target.parse("-20%").resolve(50.0, "percent") == pytest.approx(40.0)   # 50 * 0.8
    assert Target.parse("90 seconds").resolve(None, "minutes") == 1.5             # 90 / 60
    assert Target.parse("2 min").resolve(None, "seconds") == 120.0
    assert Target.parse("+15%").resolve(None, "count") is None                     # needs a baseline
    with pytest.raises(ValueError, match=r"^target 'lots' is not a number"):
        Target.parse("lots")


# one bad field of an otherwise valid goal -> (line, field, message) of the error
BAD_FIELDS = {
    "unknown KPI lists the valid names": (
        {"kpi": "folowers"}, 5, "kpi", ("unknown KPI 'folowers'; valid KPIs: audience_growth_rate, csat, daily_er, "
        "followers, impressions, leads, median_first_response_minutes")),
    "Time-bound: deadline after start": (
        {"deadline": "2026-08-01"}, 9, "deadline", "Time-bound: deadline 2026-08-01 is not after start 2026-09-01"),
    "Time-bound: a deadline or a recurrence": (
        {"deadline": "null"}, 9, "deadline", "Time-bound: a goal needs a deadline or a recurring period"),
    "Specific: scope is a dimension of the KPI": (
        {"scope": "{campaign: spring}"}, 6, "scope.campaign",
        "Specific: KPI 'followers' has no 'campaign' dimension (it splits by: platform, account_id)"),
    "objective names the allowed values": (
        {"objective": "fame"}, 4, "objective", ("Input should be 'awareness', 'reputation', 'traffic', "
        "'engagement', 'conversions', 'leads', 'events', 'customer_service' or 'recruiting'")),
    "target that is no number": (
        {"target": "a lot"}, 7, "target",
        "target 'a lot' is not a number, a relative change like '+15%' or a duration like '2 minutes'"),
    "duration target on a count": (
        {"target": "2 minutes"}, 7, "target",
        "a duration target needs a time KPI (minutes or seconds); 'followers' is in count"),
}


@pytest.mark.parametrize("case", BAD_FIELDS, ids=list(BAD_FIELDS))
def test_a_bad_field_is_reported_with_its_line_and_reason(tmp_path: Path, metrics: MetricsDictionary,
                                                          case: str) -> None:
    fields, line, field, message = BAD_FIELDS[case]
    path = bad_goal(tmp_path, **fields)
    with pytest.raises(GoalsFileError) as exc:
        load_goals(path, metrics)
    assert str(exc.value) == f"{path}:{line}: goal 'g1': field '{field}': {message}"


def test_every_problem_is_reported_with_its_line(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = write_goals(tmp_path, """\
        goals:
          - id: first
            title: One
            objective: awareness
            kpi: followers
            scope: {platforms: [instagram]}
            target: 10
            start: 2026-09-01
            deadline: 2026-12-01
            owner: a
            parent: nowhere
          - id: first
            title: Two
            objective: awareness
            kpi: followers
            target: 10
            start: 2026-09-01
            deadline: 2026-12-01
            owner: a
          - title: Three
            objective: awareness
            kpi: followers
            target: 10
            start: 2026-09-01
            deadline: 2026-12-01
            owner: a
            colour: red
        """)
    with pytest.raises(GoalsFileError) as exc:
        load_goals(path, metrics)
    assert str(exc.value).splitlines() == [
        f"{path}:11: goal 'first': field 'parent': unknown objective group 'nowhere'; defined groups: none",
        f"{path}:12: goal 'first': field 'id': duplicate goal id (first defined on line 2)",
        f"{path}:20: goal '#3': field 'id': Field required",
        f"{path}:27: goal '#3': field 'colour': Extra inputs are not permitted",
    ]


def test_file_level_errors(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = write_goals(tmp_path, "goals: [\n")
    with pytest.raises(GoalsFileError, match=rf"^{path}: not valid YAML: "):
        load_goals(path, metrics)
    path = write_goals(tmp_path, "targets: []\n")
    with pytest.raises(GoalsFileError) as exc:
        load_goals(path, metrics)
    assert str(exc.value) == f"{path}:1: the file needs a top-level 'goals:' list"
    path = write_goals(tmp_path, "defaults:\n  freshness: 2\ngoals: []\n")
    with pytest.raises(GoalsFileError) as exc:
        load_goals(path, metrics)
    assert str(exc.value) == (f"{path}:2: defaults: unknown key 'freshness'; "
                              "allowed: achievable_factor, freshness_days, owner, window")


def test_static_smart_warnings_specific_and_relevant(tmp_path: Path, metrics: MetricsDictionary) -> None:
    path = bad_goal(tmp_path, objective="leads", scope="{}")
    (goal,) = load_goals(path, metrics)
    assert goal.smart_warnings == (
        ("Specific: no scope; name platforms, accounts or a campaign "
        "(the goal covers every platform and account)"),
        "Relevant: KPI 'followers' does not fit objective 'leads' (it fits: awareness)",
    )
    letters = smart_check(goal, metrics.get("followers"))
    assert letters["S"].startswith("Specific: no scope")
    assert letters["R"].startswith("Relevant: KPI 'followers' does not fit")
    assert letters["T"] == "Time-bound: start 2026-09-01, deadline 2027-03-01"
    assert letters["M"] == "Measurable: followers is read from marts.kpi_account_daily (last)"


def test_smart_check_passing_letters(tmp_path: Path, metrics: MetricsDictionary) -> None:
    (goal,) = load_goals(bad_goal(tmp_path), metrics)
    letters = smart_check(goal, metrics.get("followers"))
    assert letters["S"] == "Specific: followers for platforms=instagram"
    assert letters["R"] == "Relevant: followers fits objective awareness"


def test_repo_goals_yml_loads_with_demo_kpis() -> None:
    """The shipped goals.yml is valid against the shipped metrics dictionary and sources.yml, warning-free, and
    has an example for each of the nine goal types of the source article."""
    from pipeline.runtime import load_source_specs
    from pipeline.settings import get_settings

    settings = get_settings({})
    sources = [s.platform for s in load_source_specs(settings)]
    loaded = load_goals_file(REPO_ROOT / "goals.yml", load_metrics(REPO_ROOT / "sql" / "metrics.yml"),
                             sources=sources)
    ids = [g.id for g in loaded.goals]
    assert {"instagram_audience_15pct", "linkedin_audience_15pct", "messenger_wait_2min"} <= set(ids)
    assert {g.objective for g in loaded.goals} == {
        "awareness", "reputation", "traffic", "engagement", "conversions", "leads", "events", "customer_service",
        "recruiting"}
    leads = next(g for g in loaded.goals if g.id == "monthly_leads_300")
    assert leads.recurring == "month" and leads.deadline is None
    assert all(g.smart_warnings == () for g in loaded.goals)
    assert loaded.achievable_factor == 2.0
    assert next(g for g in loaded.goals if g.id == "instagram_audience_15pct").start == date(2026, 9, 1)
