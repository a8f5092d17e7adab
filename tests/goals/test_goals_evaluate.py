"""Goal evaluation: roll-ups, progress, pace, forecast and every status, computed by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.goals import (
    Goal,
    GoalSnapshot,
    ObjectiveGroup,
    _rollup,
    _Rows,
    evaluate_goal,
    evaluate_goals,
    forecast_linear,
    load_goals,
    rollup_objectives,
)
from pipeline.metrics import MetricsDictionary

from .conftest import insert_account_daily, insert_leads_daily, insert_support_daily, write_goals

SEP1 = date(2026, 9, 1)


def goal(**fields) -> Goal:
    base = {"id": "g", "title": "t", "objective": "awareness", "kpi": "impressions",
            "scope": {"platforms": ["instagram"]}, "target": 1000, "start": "2026-09-01",
            "deadline": "2026-09-10", "owner": "o"}
    return Goal.model_validate({**base, **fields})


def evaluate(con, metrics: MetricsDictionary, g: Goal, as_of: date) -> GoalSnapshot:
    return evaluate_goal(con, g, metrics.get(g.kpi), as_of)


# ---------------------------------------------------------------- roll-ups

def test_rollup_per_aggregation(metrics: MetricsDictionary) -> None:
    d1, d2 = date(2026, 9, 1), date(2026, 9, 2)
    rows = _Rows(keys=[("ig", "a"), ("ig", "b"), ("ig", "a"), ("ig", "b")], days=[d1, d1, d2, d2],
                 values=[(100.0, 10.0), (50.0, 5.0), (110.0, None), (40.0, 20.0)])
    by = metrics.by_name()
    assert _rollup(by["impressions"], rows, d1, d2) == 300.0            # 100 + 50 + 110 + 40
    assert _rollup(by["followers"], rows, d1, d2) == 150.0              # last per account: a=110, b=40
    assert _rollup(by["followers"], rows, d1, d1) == 150.0              # day 1: 100 + 50
    assert _rollup(by["csat"], rows, d1, d2) == 75.0                    # mean(100, 50, 110, 40)
    assert _rollup(by["median_first_response_minutes"], rows, d1, d2) == 75.0   # median(40,50,100,110)
    # growth: first per account 100 + 50 = 150, last 110 + 40 = 150 -> 0 %
    assert _rollup(by["audience_growth_rate"], rows, d1, d2) == 0.0
    # ratio skips the row with a null denominator: (100 + 50 + 40) / (10 + 5 + 20) * 100 = 542.857...
    assert _rollup(by["daily_er"], rows, d1, d2) == pytest.approx(19000 / 35)
    assert _rollup(by["impressions"], rows, date(2026, 9, 3), date(2026, 9, 9)) is None


def test_forecast_linear_by_hand() -> None:
    # x̄ = 1.5, ȳ = 2.5, Sxx = 5, Sxy = 4 -> slope 0.8, intercept 1.3; at x=5: 1.3 + 4 = 5.3
    # residuals -0.3, 0.9, -0.9, 0.3 -> SSE 1.8, s = sqrt(0.9); t(0.90, 2) = 1.885618
    # half band = 1.885618 * 0.948683 * sqrt(1 + 1/4 + 3.5²/5) = 1.885618 * 0.948683 * 1.923538 = 3.44093
    fc = forecast_linear([0, 1, 2, 3], [1, 3, 2, 4], at=5)
    assert fc is not None
    assert fc.projected == pytest.approx(5.3)
    assert fc.low == pytest.approx(5.3 - 3.44093, abs=1e-4)
    assert fc.high == pytest.approx(5.3 + 3.44093, abs=1e-4)
    assert forecast_linear([0, 1], [1, 2], at=5) is None                # fewer than 3 points


# ---------------------------------------------------------------- reach goals: progress, pace, forecast

def test_level_kpi_relative_target_on_track(con, metrics: MetricsDictionary) -> None:
    # followers 1000, 1010, ... from Aug 25 (+10/day); data through Sep 13.
    insert_account_daily(con, "instagram", "ig1", date(2026, 8, 25), [1000 + 10 * i for i in range(20)])
    insert_account_daily(con, "tiktok", "tt1", date(2026, 8, 25), [5] * 20)        # out of scope
    g = goal(kpi="followers", target="+15%", deadline="2026-09-30")
    snap = evaluate(con, metrics, g, date(2026, 9, 13))
    # baseline = followers on Aug 31 = 1000 + 6*10 = 1060; target = 1060 * 1.15 = 1219
    assert (snap.baseline, snap.target, snap.current) == (1060.0, 1219.0, 1190.0)
    assert snap.direction == "increase" and snap.data_as_of == date(2026, 9, 13)
    # elapsed = 13 / 30 days; progress = (1190 - 1060) / (1219 - 1060) = 130 / 159
    assert snap.time_elapsed_pct == pytest.approx(43.3333)
    assert snap.progress_pct == pytest.approx(81.761)
    assert snap.pace_ratio == pytest.approx(1.8868)                      # 0.81761 / 0.43333
    assert snap.expected_today == pytest.approx(1128.9)                 # 1060 + 159 * 13/30
    # exact +10/day trend: Sep 30 is 17 days after Sep 13 -> 1190 + 170; no residuals, no band
    assert (snap.projected_at_deadline, snap.projected_low, snap.projected_high) == (1360.0, 1360.0, 1360.0)
    assert snap.status == "on_track" and snap.smart_warnings == []


@pytest.mark.parametrize(("stated", "warned"), [(1100, False), (1300, True)])
def test_a_stated_baseline_far_from_the_measured_one_is_a_warning(con, metrics: MetricsDictionary, stated: int,
                                                                   warned: bool) -> None:
    # followers 1000 + 10/day from Aug 25: Aug 31 (the day before start) measures 1060.
    # 1100 is 40 / 1060 = 3.8 % off (fine); 1300 is 240 / 1060 = 22.6 % off, over the 20 % tolerance.
    insert_account_daily(con, "instagram", "ig1", date(2026, 8, 25), [1000 + 10 * i for i in range(20)])
    snap = evaluate(con, metrics, goal(kpi="followers", baseline=stated, target=1500, deadline="2026-09-30"),
                    date(2026, 9, 13))
    expected = [("Measurable: stated baseline 1300 is 23 % off the 1060 measured for platforms=instagram on "
                 "2026-08-31; check the baseline, the scope or the KPI")] if warned else []
    assert [w for w in snap.smart_warnings if w.startswith("Measurable")] == expected
    assert snap.baseline == stated                     # the team's number still drives the path


def cumulative_impressions(con) -> None:
    # daily 100, 300, 200, 400 on Sep 1..4 -> cumulative 100, 400, 600, 1000
    insert_account_daily(con, "instagram", "ig1", SEP1, [1] * 4, impressions=[100, 300, 200, 400])


@pytest.mark.parametrize(("target", "status"), [(2600, "on_track"), (2800, "at_risk"), (3200, "off_track")])
def test_forecast_band_decides_on_track_at_risk_off_track(con, metrics: MetricsDictionary,
                                                          target: int, status: str) -> None:
    cumulative_impressions(con)
    snap = evaluate(con, metrics, goal(window="cumulative", target=target), date(2026, 9, 4))
    # OLS on x = 0..3, y = 100, 400, 600, 1000: slope 1450 / 5 = 290, intercept 525 - 435 = 90
    # deadline Sep 10 is x = 9: 90 + 2610 = 2700. residuals 10, 20, -70, 40 -> SSE 7000, s² = 3500
    # half band = 1.885618 * sqrt(3500) * sqrt(1 + 1/4 + 7.5²/5) = 394.405 -> [2305.595, 3094.405]
    assert snap.projected_at_deadline == pytest.approx(2700.0)
    assert snap.projected_low == pytest.approx(2305.5947, abs=1e-3)
    assert snap.projected_high == pytest.approx(3094.4053, abs=1e-3)
    assert (snap.baseline, snap.current) == (0.0, 1000.0)               # a cumulative sum starts at 0
    assert snap.time_elapsed_pct == 40.0                                # 4 of 10 days
    assert snap.expected_today == pytest.approx(target * 0.4)
    assert snap.progress_pct == pytest.approx(100000 / target)          # 1000 / target * 100
    # 2600: 2700 meets it; 2800: only the band's high edge (3094) does; 3200: not even that
    assert snap.status == status


@pytest.mark.parametrize(("day2", "status", "pace"), [(120, "on_track", 1.1), (80, "at_risk", 0.9),
                                                     (50, "off_track", 0.75)])
def test_pace_decides_without_a_forecast(con, metrics: MetricsDictionary, day2: int, status: str,
                                         pace: float) -> None:
    # two days of data is too few for a trend: pace = progress / elapsed
    insert_account_daily(con, "instagram", "ig1", SEP1, [1, 1], impressions=[100, day2])
    snap = evaluate(con, metrics, goal(window="cumulative"), date(2026, 9, 2))
    # after 2 of 10 days (20 %): 220/1000 / 0.2 = 1.1 -> on_track; 180/1000 / 0.2 = 0.9 -> at_risk
    # (>= 0.8); 150/1000 / 0.2 = 0.75 -> off_track
    assert snap.pace_ratio == pytest.approx(pace)
    assert snap.projected_at_deadline is None
    assert snap.status == status


def test_decreasing_duration_goal_messenger_seed(con, metrics: MetricsDictionary) -> None:
    # daily median first response 9, 8, 7, 6 minutes on Oct 1..4; from 10 min to "2 minutes" by Oct 10
    insert_support_daily(con, "facebook", "fb1", date(2026, 10, 1), [9, 8, 7, 6])
    g = goal(objective="customer_service", kpi="median_first_response_minutes",
             scope={"platforms": ["facebook"]}, window="daily", baseline=10, target="2 minutes",
             start="2026-10-01", deadline="2026-10-10")
    snap = evaluate(con, metrics, g, date(2026, 10, 4))
    assert snap.direction == "decrease" and snap.target == 2.0
    assert snap.progress_pct == 50.0                                    # (6 - 10) / (2 - 10)
    assert snap.time_elapsed_pct == 40.0                                # 4 of 10 days
    assert snap.pace_ratio == 1.25                                      # 0.5 / 0.4
    assert snap.expected_today == pytest.approx(6.8)                    # 10 - 8 * 0.4
    assert snap.projected_at_deadline == 0.0                            # -1/day: 6 - 6 days
    assert snap.status == "on_track"
    # by Oct 14 the line would reach 6 - 10 = -4 minutes: a wait time is floored at 0
    later = evaluate(con, metrics, g.model_copy(update={"deadline": date(2026, 10, 14)}), date(2026, 10, 4))
    assert (later.projected_at_deadline, later.projected_low, later.projected_high) == (0.0, 0.0, 0.0)


def test_achieved_and_missed(con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)
    early = goal(window="cumulative", target=900)
    assert evaluate(con, metrics, early, date(2026, 9, 4)).status == "achieved"
    # deadline Sep 4 passed on as_of Sep 4 with 1000 < 1200
    late = goal(window="cumulative", target=1200, deadline="2026-09-04")
    snap = evaluate(con, metrics, late, date(2026, 9, 4))
    assert snap.status == "missed" and snap.time_elapsed_pct == 100.0
    assert snap.projected_at_deadline == 1000.0                         # observed, not forecast


def test_stale_when_newest_data_is_older_than_the_freshness_limit(con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)                                          # newest row: Sep 4
    g = goal(window="cumulative", target=900, deadline="2026-09-30")
    snap = evaluate(con, metrics, g, date(2026, 9, 8))
    # Sep 8 - Sep 4 = 4 days > 3: even an achieved value is not reported with confidence
    assert snap.status == "stale" and snap.current == 1000.0
    assert snap.smart_warnings == [("Measurable: newest data is from 2026-09-04, 4 days before 2026-09-08 "
                                    "(freshness limit 3 days)")]
    ok = evaluate(con, metrics, g, date(2026, 9, 7))
    assert ok.status == "achieved"                                       # 3 days old is fresh enough


def test_a_failed_source_makes_a_multi_platform_goal_stale_not_undercounted(con, metrics: MetricsDictionary) -> None:
    # followers: instagram 100/day flat Sep 1..10; linkedin 50 on Sep 1..5, then its source stops landing
    insert_account_daily(con, "instagram", "ig1", date(2026, 9, 1), [100] * 10)
    insert_account_daily(con, "linkedin", "li1", date(2026, 9, 1), [50] * 5)
    g = goal(kpi="followers", scope={"platforms": ["instagram", "linkedin"]}, baseline=150, target=300,
             deadline="2026-09-30")
    snap = evaluate(con, metrics, g, date(2026, 9, 10))
    # measured on Sep 5, the newest day both platforms reported: 100 + 50 = 150 (Sep 10 would read
    # instagram alone, 100 — an undercount); Sep 10 - Sep 5 = 5 days > 3: stale
    assert (snap.status, snap.current, snap.data_as_of) == ("stale", 150.0, date(2026, 9, 5))
    # flat history: (300 - 150) / 30 days = +5/day needed vs +0/day best
    assert snap.smart_warnings == [
        "Achievable: needs +5/day, more than the best 9-day rate in history (+0/day)",
        "Measurable: newest data is from 2026-09-05, 5 days before 2026-09-10 (freshness limit 3 days)"]


def test_days_without_the_kpi_value_are_not_data_days(con, metrics: MetricsDictionary) -> None:
    # Instagram has followers only on the days a pull read them (the API has no history): the account rows of
    # 09-01..09-03 (reach only) are not data for 'followers'; the first day with a value is the baseline day
    insert_account_daily(con, "instagram", "ig1", SEP1, [None, None, None, 1000, 1010, 1030])
    g = goal(kpi="followers", window="trailing_7d", baseline="auto", target="+10%")
    snap = evaluate(con, metrics, g, date(2026, 9, 6))
    assert (snap.baseline, snap.target, snap.current) == (1000.0, 1000.0 * 1.10, 1030.0)
    assert snap.data_as_of == date(2026, 9, 6)
    assert snap.status != "no_data"


def test_no_data_for_scope_and_for_missing_table(con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)
    snap = evaluate(con, metrics, goal(scope={"platforms": ["linkedin"]}), date(2026, 9, 4))
    assert snap.status == "no_data" and snap.current is None and snap.target == 1000.0
    assert snap.smart_warnings == [("Measurable: no data for KPI 'impressions': no rows in "
                                    "marts.kpi_account_daily for platforms=linkedin up to 2026-09-04")]
    con.execute("drop table marts.kpi_leads_daily")
    snap = evaluate(con, metrics, goal(objective="leads", kpi="leads"), date(2026, 9, 4))
    assert snap.status == "no_data"
    assert snap.smart_warnings == [
        "Measurable: no data for KPI 'leads': marts.kpi_leads_daily does not exist"]


def test_achievable_warns_when_needed_rate_is_far_beyond_history(con, metrics: MetricsDictionary) -> None:
    insert_account_daily(con, "instagram", "ig1", date(2026, 8, 25), [1000 + 10 * i for i in range(20)])
    snap = evaluate(con, metrics, goal(kpi="followers", baseline=1000, target="+100%", deadline="2026-09-30"),
                    date(2026, 9, 13))
    # needs (2000 - 1000) / 30 days = 33.33/day; history Aug 25..Sep 13 spans 19 days: best 19-day move
    # is (1190 - 1000) / 19 = 10/day; 33.33 / 10 = 3.3x > 2x
    assert snap.smart_warnings == [
        "Achievable: needs +33.33/day, 3.3x the best 19-day rate in history (+10/day)"]


def test_snapshot_carries_static_smart_warnings(tmp_path: Path, con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)
    path = write_goals(tmp_path, """\
        goals:
          - {id: everywhere, title: t, objective: leads, kpi: impressions, window: cumulative, target: 900,
             start: 2026-09-01, deadline: 2026-09-10, owner: o}
        """)
    (snap,) = evaluate_goals(con, load_goals(path, metrics), metrics, date(2026, 9, 4))
    assert snap.smart_warnings == [
        ("Specific: no scope; name platforms, accounts or a campaign "
         "(the goal covers every platform and account)"),
        "Relevant: KPI 'impressions' does not fit objective 'leads' (it fits: awareness)",
        # impressions start on 09-01: 09-04 - 09-01 = 3 days, under the 7 a best rate needs
        "Achievable: not judged: KPI history spans 3 day(s) up to 2026-09-04; the best-rate check needs 7",
    ]
    assert snap.status == "achieved"


# ---------------------------------------------------------------- stay_below / stay_above

@pytest.mark.parametrize(("minutes", "as_of", "status", "progress"), [
    ([1.5, 1.5, 1.5, 1.5], date(2026, 10, 4), "on_track", 100.0),     # held 4 of 4 days, flat trend
    ([1.5, 1.5, 1.5, 2.5], date(2026, 10, 4), "off_track", 75.0),     # today's 2.5 > 2 breaches
    ([2.5, 1.5, 1.5, 1.5], date(2026, 10, 4), "at_risk", 75.0),       # breached on Oct 1, holds today
    ([1.5] * 10, date(2026, 10, 10), "achieved", 100.0),              # deadline reached, never breached
    ([1.5] * 5 + [3.0] + [1.5] * 4, date(2026, 10, 10), "missed", 90.0),   # one breach in 10 days
])
def test_stay_below_threshold(con, metrics: MetricsDictionary, minutes: list[float], as_of: date, status: str,
                              progress: float) -> None:
    insert_support_daily(con, "facebook", "fb1", date(2026, 10, 1), minutes)
    g = goal(objective="customer_service", kpi="median_first_response_minutes",
             scope={"platforms": ["facebook"]}, window="daily", success="stay_below", target="2 minutes",
             start="2026-10-01", deadline="2026-10-10")
    snap = evaluate(con, metrics, g, as_of)
    assert snap.direction == "decrease" and snap.expected_today == 2.0
    assert snap.status == status and snap.progress_pct == progress and snap.pace_ratio is None


def test_stay_above_forecast_crossing_is_at_risk(con, metrics: MetricsDictionary) -> None:
    # csat 90, 88, 86, 84 on Oct 1..4 (mean per day): -2/day crosses 80 at Oct 6, before the Oct 10 deadline
    for day, value in zip(range(1, 5), (90, 88, 86, 84)):
        con.execute("insert into marts.kpi_support_daily values ('facebook', 'fb1', ?, null, ?)",
                    [date(2026, 10, day), value])
    g = goal(objective="customer_service", kpi="csat", scope={"platforms": ["facebook"]}, window="daily",
             success="stay_above", target=80, start="2026-10-01", deadline="2026-10-10")
    snap = evaluate(con, metrics, g, date(2026, 10, 4))
    assert snap.projected_at_deadline == 72.0                           # 84 - 2 * 6
    assert snap.status == "at_risk" and snap.progress_pct == 100.0


# ---------------------------------------------------------------- recurring, scope, roll-up, determinism

def test_recurring_monthly_leads_per_period(con, metrics: MetricsDictionary) -> None:
    insert_leads_daily(con, "facebook", "fb1", "autumn", date(2026, 10, 1), [10] * 31)     # October: 310
    insert_leads_daily(con, "facebook", "fb1", "autumn", date(2026, 11, 1), [12] * 10)     # Nov 1..10: 120
    insert_leads_daily(con, "facebook", "fb1", "other", date(2026, 11, 1), [1000] * 10)    # other campaign
    g = goal(objective="leads", kpi="leads", scope={"platforms": ["facebook"], "campaign": "autumn"},
             window="calendar_month", recurring="month", target=300, deadline=None)
    snap = evaluate(con, metrics, g, date(2026, 11, 10))
    assert (snap.period_start, snap.deadline) == (date(2026, 11, 1), date(2026, 11, 30))
    assert snap.baseline == 310.0                                        # last month's total
    assert snap.current == 120.0 and snap.direction == "increase"       # month to date, path from 0
    assert snap.time_elapsed_pct == pytest.approx(33.3333)              # 10 of 30 days
    assert snap.expected_today == pytest.approx(100.0)                  # 300 * 10/30
    assert snap.progress_pct == 40.0 and snap.pace_ratio == pytest.approx(1.2)
    assert snap.projected_at_deadline == pytest.approx(360.0)           # 12/day, Nov 30 is day 30
    assert snap.status == "on_track"
    october = evaluate(con, metrics, g, date(2026, 10, 31))
    assert (october.period_start, october.current, october.status) == (date(2026, 10, 1), 310.0, "achieved")


def test_objective_rollup_weights_progress(con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)
    snaps = [evaluate(con, metrics, goal(id="a", window="cumulative", target=2000, parent="grow", weight=3),
                      date(2026, 9, 4)),
             evaluate(con, metrics, goal(id="b", window="cumulative", target=800, parent="grow", weight=1),
                      date(2026, 9, 4)),
             evaluate(con, metrics, goal(id="c", scope={"platforms": ["x"]}, parent="grow"),
                      date(2026, 9, 4))]
    (objective,) = rollup_objectives([ObjectiveGroup(id="grow", title="Grow")], snaps)
    # a: 1000/2000 = 50 %, weight 3; b: 125 % capped at 100, weight 1; c: no data, left out
    # (3 * 50 + 1 * 100) / 4 = 62.5
    assert objective["progress_pct"] == 62.5
    assert objective["unscored"] == ["c"]
    assert objective["status"] == "no_data"                             # worst of on_track/achieved/no_data


def test_evaluation_is_deterministic(con, metrics: MetricsDictionary) -> None:
    cumulative_impressions(con)
    goals = [goal(id="b", window="cumulative", target=2800), goal(id="a", kpi="followers", target=5)]
    first = evaluate_goals(con, goals, metrics, date(2026, 9, 4))
    second = evaluate_goals(con, list(reversed(goals)), metrics, date(2026, 9, 4))
    assert [s.goal_id for s in first] == ["a", "b"]
    assert [s.model_dump() for s in first] == [s.model_dump() for s in second]
