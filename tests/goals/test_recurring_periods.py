"""Recurring goals (issue #22): the period containing as_of is judged on its own rows only, a new period
without data is no_data (never last period's value), and every period keeps a result.

Bug this pins: as of a day before November's leads arrived, a monthly goal reported October's 879 leads
as November's 293 %. Every number is computed by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.emit import run_snapshots
from pipeline.goals import Goal, GoalSnapshot, PeriodResult, evaluate_goal, evaluate_periods
from pipeline.metrics import MetricsDictionary
from pipeline.settings import Settings

from .conftest import METRICS_YML, insert_leads_daily, write_goals


def monthly_leads(**fields) -> Goal:
    base = {"id": "monthly_leads_300", "title": "300 leads a month", "objective": "leads", "kpi": "leads",
            "scope": {"platforms": ["facebook"]}, "window": "calendar_month", "recurring": "month",
            "target": 300, "start": "2026-09-01", "owner": "demand-gen"}
    return Goal.model_validate({**base, **fields})


def evaluate(con, metrics: MetricsDictionary, g: Goal, as_of: date) -> GoalSnapshot:
    return evaluate_goal(con, g, metrics.get(g.kpi), as_of)


def september_and_october(con) -> None:
    # September: 9 a day for 30 days = 270 (short of 300). October: 30 a day on Oct 1..28 = 840, then 13 a day
    # on Oct 29..31 = 39: 840 + 39 = 879; month to date reaches 300 on Oct 10 (10 x 30).
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 9, 1), [9] * 30)
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 10, 1), [30] * 28 + [13] * 3)


def test_october_is_achieved_with_its_879_leads(con, metrics: MetricsDictionary) -> None:
    september_and_october(con)
    snap = evaluate(con, metrics, monthly_leads(), date(2026, 10, 31))
    assert (snap.period_start, snap.deadline) == (date(2026, 10, 1), date(2026, 10, 31))
    assert snap.current == 879.0 and snap.target == 300.0
    assert snap.status == "achieved" and snap.achieved_on == date(2026, 10, 10)


def test_first_day_of_a_period_without_its_data_is_no_data(con, metrics: MetricsDictionary) -> None:
    september_and_october(con)
    snap = evaluate(con, metrics, monthly_leads(), date(2026, 11, 1))
    assert (snap.period_start, snap.deadline) == (date(2026, 11, 1), date(2026, 11, 30))
    assert snap.status == "no_data"
    assert snap.current is None and snap.progress_pct is None and snap.pace_ratio is None   # not 879, not 293 %
    assert snap.projected_at_deadline is None
    assert snap.data_as_of == date(2026, 10, 31)
    assert snap.target == 300.0 and snap.baseline == 879.0            # last month's total, for reference only
    assert snap.smart_warnings[-1] == (
        "Measurable: no data yet for the month 2026-11-01..2026-11-30 of KPI 'leads' for platforms=facebook; "
        "newest data day is 2026-10-31")


def test_second_day_counts_only_the_new_period(con, metrics: MetricsDictionary) -> None:
    september_and_october(con)
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 11, 1), [20, 30])     # Nov 1..2: 20 + 30 = 50
    snap = evaluate(con, metrics, monthly_leads(), date(2026, 11, 2))
    assert snap.current == 50.0
    assert snap.progress_pct == pytest.approx(16.6667)                 # 50 / 300 * 100 = 16.667 (path from 0)
    assert snap.time_elapsed_pct == pytest.approx(6.6667)              # 2 of 30 days
    assert snap.pace_ratio == pytest.approx(2.5)                       # 16.667 / 6.667
    assert snap.status != "no_data"


def test_a_period_waits_for_every_platform_of_its_scope(con, metrics: MetricsDictionary) -> None:
    # Facebook and LinkedIn both reported in October; on Nov 1 only Facebook's 40 leads have landed.
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 10, 1), [10] * 31)
    insert_leads_daily(con, "linkedin", "li1", None, date(2026, 10, 1), [5] * 31)
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 11, 1), [40])
    g = monthly_leads(scope={"platforms": ["facebook", "linkedin"]})
    early = evaluate(con, metrics, g, date(2026, 11, 1))
    assert (early.status, early.current, early.data_as_of) == ("no_data", None, date(2026, 10, 31))
    insert_leads_daily(con, "linkedin", "li1", None, date(2026, 11, 1), [7])
    both = evaluate(con, metrics, g, date(2026, 11, 1))
    assert (both.current, both.data_as_of) == (47.0, date(2026, 11, 1))    # 40 + 7


def test_a_trailing_window_stops_at_the_period_start(con, metrics: MetricsDictionary) -> None:
    # Weekly goal on a 7-day sum: Mon Nov 2 and Tue Nov 3 are the new week's only days. The 7-day window
    # ending Tue would reach back to Wed Oct 28 (5 days of 100 from the old week); clipped, it is 10 + 20 = 30.
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 10, 26), [100] * 7 + [10, 20])
    weekly = monthly_leads(recurring="week", window="trailing_7d", target=70)
    snap = evaluate(con, metrics, weekly, date(2026, 11, 3))
    assert (snap.period_start, snap.deadline) == (date(2026, 11, 2), date(2026, 11, 8))
    assert snap.current == 30.0


def test_period_results_per_month(con, metrics: MetricsDictionary) -> None:
    september_and_october(con)
    # as of Nov 1, before November's first row landed: no_data, not October's total
    nov_1 = evaluate_periods(con, [monthly_leads()], metrics, date(2026, 11, 1))["monthly_leads_300"][-1]
    assert (nov_1.period_start, nov_1.value, nov_1.status, nov_1.data_as_of) == (
        date(2026, 11, 1), None, "no_data", None)
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 11, 1), [20, 30])
    results = evaluate_periods(con, [monthly_leads()], metrics, date(2026, 11, 2))["monthly_leads_300"]
    assert [(r.period_start, r.period_end, r.value, r.target, r.status, r.data_as_of) for r in results] == [
        (date(2026, 9, 1), date(2026, 9, 30), 270.0, 300.0, "missed", date(2026, 9, 30)),      # 9 x 30 = 270
        (date(2026, 10, 1), date(2026, 10, 31), 879.0, 300.0, "achieved", date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 30), 50.0, 300.0, "in_progress", date(2026, 11, 2)),
    ]
    assert all(r.evaluated_as_of == date(2026, 11, 2) for r in results)
    # only the newest `limit` periods are listed
    newest = evaluate_periods(con, [monthly_leads()], metrics, date(2026, 11, 2), limit=2)["monthly_leads_300"]
    assert [r.period_start for r in newest] == [date(2026, 10, 1), date(2026, 11, 1)]


GOALS = """\
goals:
  - id: monthly_leads_300
    title: 300 leads a month
    objective: leads
    kpi: leads
    scope: {platforms: [facebook]}
    window: calendar_month
    recurring: month
    target: 300
    start: 2026-09-01
    owner: demand-gen
"""


@pytest.fixture
def leads_settings(settings: Settings, tmp_path: Path) -> Settings:
    metrics_file = tmp_path / "metrics.yml"
    metrics_file.write_text(METRICS_YML, encoding="utf-8")
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema marts")
    con.execute("""create table marts.kpi_leads_daily (
        platform varchar, account_id varchar, campaign varchar, date date, leads bigint)""")
    september_and_october(con)
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 11, 1), [20, 30])
    con.close()
    return dataclasses.replace(settings, metrics_file=metrics_file, goals_file=write_goals(tmp_path, GOALS))


def period_rows(settings: Settings) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        return con.execute("select period_start, value, status, evaluated_as_of from marts.goal_period_results "
                           "order by period_start").fetchall()
    finally:
        con.close()


def test_run_snapshots_upserts_the_period_table_and_lists_periods_in_the_json(leads_settings: Settings) -> None:
    first = run_snapshots(leads_settings, as_of="2026-11-02", run_id="r1")
    expected = [(date(2026, 9, 1), 270.0, "missed", date(2026, 11, 2)),
                (date(2026, 10, 1), 879.0, "achieved", date(2026, 11, 2)),
                (date(2026, 11, 1), 50.0, "in_progress", date(2026, 11, 2))]
    assert period_rows(leads_settings) == expected
    run_snapshots(leads_settings, as_of="2026-11-02", run_id="r2")     # a re-run: same rows, no duplicates
    assert period_rows(leads_settings) == expected
    # a backfill as of Oct 15 re-evaluates September and October, but never overwrites what Nov 2 saw
    run_snapshots(leads_settings, as_of="2026-10-15", run_id="r3")
    assert period_rows(leads_settings) == expected
    goal = json.loads(Path(first["json"]).read_text())["goals"][0]
    assert [(p["period_start"], p["value"], p["status"]) for p in goal["periods"]] == [
        ("2026-09-01", 270.0, "missed"), ("2026-10-01", 879.0, "achieved"), ("2026-11-01", 50.0, "in_progress")]


def test_period_result_dict_is_json_ready() -> None:
    result = PeriodResult("g", date(2026, 10, 1), date(2026, 10, 31), 879.0, 300.0, "achieved",
                          date(2026, 10, 31), date(2026, 11, 2))
    assert result.as_dict() == {"period_start": "2026-10-01", "period_end": "2026-10-31", "value": 879.0,
                                "target": 300.0, "status": "achieved", "data_as_of": "2026-10-31",
                                "evaluated_as_of": "2026-11-02"}
