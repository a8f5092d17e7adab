"""Statuses that mean what they say (issue #22): not_started, sticky achieved, bounded forecasts,
and snapshot files a dashboard user can read. Every number is computed by hand in the comments."""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.emit import _DUCKDB_TYPES, SNAPSHOT_SCHEMA, run_snapshots, write_snapshot_files
from pipeline.goals import Goal, GoalSnapshot, ObjectiveGroup, evaluate_goal, rollup_objectives
from pipeline.metrics import MetricsDictionary
from pipeline.settings import Settings

from .conftest import METRICS_YML, days, insert_account_daily, insert_support_daily, write_goals


def goal(**fields) -> Goal:
    base = {"id": "g", "title": "t", "objective": "awareness", "kpi": "followers",
            "scope": {"platforms": ["instagram"]}, "window": "daily", "target": 130, "start": "2026-09-01",
            "deadline": "2026-09-30", "owner": "o"}
    return Goal.model_validate({**base, **fields})


def evaluate(con, metrics: MetricsDictionary, g: Goal, as_of: date) -> GoalSnapshot:
    return evaluate_goal(con, g, metrics.get(g.kpi), as_of)


def insert_csat(con, first: date, values: list[float]) -> None:
    for day, value in zip(days(first, len(values)), values):
        con.execute("insert into marts.kpi_support_daily values ('facebook', 'fb1', ?, null, ?)", [day, value])


# ---------------------------------------------------------------- not_started

def test_a_stay_above_goal_is_not_started_not_off_track_before_its_start(con, metrics) -> None:
    # followers 100 a day Sep 1..10; "stay above 150 from Sep 5": 100 < 150 used to be off_track on Sep 3
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100] * 10)
    g = goal(success="stay_above", target=150, start="2026-09-05")
    snap = evaluate(con, metrics, g, date(2026, 9, 3))
    assert snap.status == "not_started"
    assert (snap.progress_pct, snap.pace_ratio, snap.expected_today) == (None, None, None)
    assert (snap.projected_at_deadline, snap.projected_low, snap.projected_high) == (None, None, None)
    assert snap.time_elapsed_pct == 0.0 and snap.achieved_on is None
    assert (snap.current, snap.target, snap.direction) == (100.0, 150.0, "increase")
    # an auto baseline is the KPI on Sep 4, not in reach on Sep 3: left out rather than guessed
    assert snap.baseline is None
    assert snap.smart_warnings == []
    # from the start day it is judged: Sep 5 breaches -> off_track
    assert evaluate(con, metrics, g, date(2026, 9, 5)).status == "off_track"


def test_a_reach_goal_before_start_has_no_progress(con, metrics) -> None:
    # impressions 100, 300, 200, 400 on Sep 1..4; a cumulative goal 1000 -> 2000 starting Sep 10
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [1] * 4, impressions=[100, 300, 200, 400])
    g = goal(kpi="impressions", window="cumulative", target=2000, start="2026-09-10", deadline="2026-09-30")
    snap = evaluate(con, metrics, g, date(2026, 9, 4))
    assert snap.status == "not_started"
    # a cumulative sum starts at 0 on the start day: nothing counted yet, baseline fixed at 0
    assert (snap.current, snap.baseline, snap.target, snap.progress_pct) == (None, 0.0, 2000.0, None)
    assert snap.smart_warnings == []                       # not a data problem: the goal has not begun
    # a relative target on an auto baseline appears once the day before start is reachable
    rel = goal(target="+10%", start="2026-09-05", deadline="2026-09-30")
    assert evaluate(con, metrics, rel, date(2026, 9, 3)).target is None
    on_eve = evaluate(con, metrics, rel, date(2026, 9, 4))
    assert (on_eve.status, on_eve.baseline, on_eve.target) == ("not_started", 1.0, 1.1)


def test_no_data_before_start_is_still_not_started(con, metrics) -> None:
    g = goal(start="2026-09-10")
    snap = evaluate(con, metrics, g, date(2026, 9, 4))
    assert snap.status == "not_started"
    assert snap.smart_warnings == [("Measurable: no data for KPI 'followers': no rows in "
                                    "marts.kpi_account_daily for platforms=instagram up to 2026-09-04")]


def test_objective_roll_up_places_not_started_between_on_track_and_achieved() -> None:
    def snap(goal_id: str, status: str) -> GoalSnapshot:
        return GoalSnapshot(goal_id=goal_id, as_of=date(2026, 9, 1), kpi="k", title="t", objective="awareness",
                            parent="o", weight=1.0, success="reach", kpi_window="daily", scope="s",
                            period_start=date(2026, 9, 1), deadline=date(2026, 9, 30), data_as_of=None,
                            current=None, baseline=None, target=None, direction="increase", progress_pct=None,
                            time_elapsed_pct=0.0, pace_ratio=None, expected_today=None,
                            projected_at_deadline=None, projected_low=None, projected_high=None,
                            status=status, smart_warnings=[], method="m")
    group = [ObjectiveGroup(id="o", title="O")]
    assert rollup_objectives(group, [snap("a", "on_track"), snap("b", "not_started")])[0]["status"] == "on_track"
    done = rollup_objectives(group, [snap("a", "achieved"), snap("b", "not_started")])[0]
    assert done["status"] == "not_started" and done["unscored"] == ["a", "b"]


# ---------------------------------------------------------------- achieved sticks

def test_achieved_sticks_after_the_value_drops_below_the_target(con, metrics) -> None:
    # followers 100, 120, 135, 128, 125, 122 on Sep 1..6; target 130 from a baseline of 100
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100, 120, 135, 128, 125, 122])
    g = goal(baseline=100)
    snap = evaluate(con, metrics, g, date(2026, 9, 6))
    assert (snap.status, snap.achieved_on, snap.current) == ("achieved", date(2026, 9, 3), 122.0)
    assert snap.progress_pct == pytest.approx(73.3333)            # (122 - 100) / (130 - 100): where it is now
    assert evaluate(con, metrics, g, date(2026, 9, 2)).achieved_on is None
    # at the deadline it is still achieved, not missed
    at_deadline = evaluate(con, metrics, g.model_copy(update={"deadline": date(2026, 9, 6)}), date(2026, 9, 6))
    assert (at_deadline.status, at_deadline.achieved_on) == ("achieved", date(2026, 9, 3))


def test_a_peak_before_start_does_not_count(con, metrics) -> None:
    # same data, start Sep 4: 128, 125, 122 since start, none >= 130; the deadline Sep 6 has passed
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100, 120, 135, 128, 125, 122])
    g = goal(baseline=100, start="2026-09-04", deadline="2026-09-06")
    snap = evaluate(con, metrics, g, date(2026, 9, 6))
    assert (snap.status, snap.achieved_on) == ("missed", None)


def test_stay_goals_keep_their_own_rule(con, metrics) -> None:
    # stay_above 110: 100 on Sep 1 breaches although 120+ later meets it; achieved_on stays empty
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100, 120, 135, 128, 125, 122])
    g = goal(success="stay_above", target=110, deadline="2026-09-06")
    snap = evaluate(con, metrics, g, date(2026, 9, 6))
    assert (snap.status, snap.achieved_on) == ("missed", None)


# ---------------------------------------------------------------- forecasts within the KPI's domain

def test_a_percentage_forecast_stays_within_100(con, metrics) -> None:
    # CSAT 81, 84, 89, 96 on Oct 1..4 (x = 0..3): x̄ 1.5, ȳ 87.5, Sxy 25, Sxx 5 -> slope 5, intercept 80;
    # residuals +1 -1 -1 +1, SSE 4, s = √2. At the deadline Oct 10 (x = 9) the line says 125 and
    # half-band = t(0.90, 2) 1.885618 * √2 * √(1 + 1/4 + 7.5²/5) = 1.885618 * √2 * √12.5 = 9.42809.
    # Raw 125 [115.572..134.428] -> pinned at 100 with the same half-width: 100 [90.5719..100].
    insert_csat(con, date(2026, 10, 1), [81, 84, 89, 96])
    g = goal(objective="customer_service", kpi="csat", scope={"platforms": ["facebook"]}, baseline=80,
             target=98, start="2026-10-01", deadline="2026-10-10")
    snap = evaluate(con, metrics, g, date(2026, 10, 4))
    assert snap.projected_at_deadline == 100.0
    assert snap.projected_low == pytest.approx(90.5719, abs=1e-4)
    assert snap.projected_high == 100.0
    assert snap.status == "on_track"                                  # 100 >= 98


def test_a_response_time_forecast_is_floored_at_zero_with_an_honest_band(con, metrics) -> None:
    # minutes 9.5, 7.5, 6.5, 6.5 on Oct 1..4: ȳ 7.5, Sxy -5 -> slope -1, intercept 9; residuals
    # ±0.5, SSE 1, s = √0.5. Deadline Oct 14 (x = 13): line 9 - 13 = -4; half-band =
    # 1.885618 * √0.5 * √(1.25 + 11.5²/5) = 1.333333 * √27.7 = 1.333333 * 5.263079 = 7.01744.
    # Raw -4 [-11.017..3.017]; floored the old way it read 0 [0..3.017] (and 0 [0..0] without scatter);
    # pinned at 0 with its half-width it is 0 [0..7.0174].
    insert_support_daily(con, "facebook", "fb1", date(2026, 10, 1), [9.5, 7.5, 6.5, 6.5])
    g = goal(objective="customer_service", kpi="median_first_response_minutes",
             scope={"platforms": ["facebook"]}, baseline=10, target="2 minutes",
             start="2026-10-01", deadline="2026-10-14")
    snap = evaluate(con, metrics, g, date(2026, 10, 4))
    assert (snap.projected_at_deadline, snap.projected_low) == (0.0, 0.0)
    assert snap.projected_high == pytest.approx(7.0174, abs=1e-4)
    assert snap.status == "on_track"                                  # 0 <= 2 minutes


def test_a_forecast_inside_the_domain_only_has_its_edges_clipped(con, metrics) -> None:
    # CSAT 69, 72, 77, 84: the fit above 12 lower (slope 5, intercept 68, s = √2); deadline Oct 7
    # (x = 6): 68 + 5 * 6 = 98, inside 0..100; half = 1.885618 * √2 * √(1.25 + 4.5²/5)
    # = 2.666667 * √5.3 = 6.13913 -> 98 [91.8609..100] (the high edge 104.139 clipped)
    insert_csat(con, date(2026, 10, 1), [69, 72, 77, 84])
    g = goal(objective="customer_service", kpi="csat", scope={"platforms": ["facebook"]}, baseline=60,
             target=90, start="2026-10-01", deadline="2026-10-07")
    snap = evaluate(con, metrics, g, date(2026, 10, 4))
    assert snap.projected_at_deadline == pytest.approx(98.0)
    assert snap.projected_low == pytest.approx(91.8609, abs=1e-4)
    assert snap.projected_high == 100.0


# ---------------------------------------------------------------- publishing

STAY_GOALS = """\
goals:
  - id: followers_floor
    title: Keep at least 5 followers from Sep 10
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram]}
    window: daily
    success: stay_above
    target: 5
    start: 2026-09-10
    deadline: 2026-09-30
    owner: ig-lead
"""


@pytest.fixture
def stay_settings(settings: Settings, tmp_path: Path) -> Settings:
    metrics_file = tmp_path / "metrics.yml"
    metrics_file.write_text(METRICS_YML, encoding="utf-8")
    goals_file = write_goals(tmp_path, STAY_GOALS)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema marts")
    con.execute("""create table marts.kpi_account_daily (platform varchar, account_id varchar, date date,
                   followers bigint, impressions bigint, engagements bigint)""")
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [1] * 4)   # 1 < 5 every day
    con.close()
    return dataclasses.replace(settings, metrics_file=metrics_file, goals_file=goals_file,
                               webhook_url="http://127.0.0.1:9/hook")


def test_not_started_goals_record_no_events_and_files_are_0644(stay_settings: Settings) -> None:
    for as_of in ("2026-09-02", "2026-09-03", "2026-09-04"):
        result = run_snapshots(stay_settings, as_of=as_of, run_id="r", webhook_backoff=0)
        assert result["statuses"] == {"not_started": 1} and result["events"] == []
    con = duckdb.connect(str(stay_settings.warehouse_path))
    try:
        assert con.execute("select count(*) from ops.goal_events").fetchall() == [(0,)]
    finally:
        con.close()
    folder = stay_settings.snapshots_dir / "as_of=2026-09-04"
    for name in ("goal_progress.parquet", "goal_progress.json", "goal_report.html"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["goal_progress.json", "goal_progress.parquet",
                                                        "goal_report.html"]


def test_write_snapshot_files_is_0644_whatever_the_umask(tmp_path: Path, con, metrics) -> None:
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100, 120, 135])
    snap = evaluate(con, metrics, goal(baseline=100), date(2026, 9, 3))
    old = os.umask(0o077)
    try:
        paths = write_snapshot_files([snap], [], tmp_path / "snapshots", date(2026, 9, 3))
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o644, 0o644]
    assert '"achieved_on": "2026-09-03"' in paths[1].read_text(encoding="utf-8")


def test_a_warehouse_from_before_achieved_on_gains_the_column(stay_settings: Settings) -> None:
    old_columns = ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in SNAPSHOT_SCHEMA if f.name != "achieved_on")
    con = duckdb.connect(str(stay_settings.warehouse_path))
    con.execute(f"create table marts.goal_progress_snapshots ({old_columns}, run_id varchar, "
                "primary key (goal_id, as_of))")
    con.close()
    run_snapshots(stay_settings, as_of="2026-09-04", run_id="r", webhook_backoff=0)
    con = duckdb.connect(str(stay_settings.warehouse_path))
    try:
        rows = con.execute("select goal_id, status, achieved_on from marts.goal_progress_snapshots").fetchall()
    finally:
        con.close()
    assert rows == [("followers_floor", "not_started", None)]
