"""The HTML goal report: every goal, escaped strings, inlined charts, same bytes for the same inputs.

Numbers asserted here are computed by hand from the rows the fixture writes; the page drawing in a
browser is checked in test_goal_report_chromium.py.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import altair as alt
import pytest

from pipeline import goal_report
from pipeline.emit import write_snapshot_files
from pipeline.goal_report import GoalChart, PeriodResult, ReportError, build_report, render_report
from pipeline.goals import evaluate_goals, load_goals_file, rollup_objectives
from pipeline.metrics import load_metrics
from pipeline.settings import get_settings

from .conftest import METRICS_YML, insert_account_daily, insert_leads_daily, insert_support_daily, write_goals

AS_OF = date(2026, 10, 15)
EVIL_TITLE = '<script>alert(1)</script> & "q"'

GOALS = """\
objective_groups:
  - {id: grow, title: "Grow & <b>care</b>"}
goals:
  - id: followers_200
    title: '<script>alert(1)</script> & "q"'
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram]}
    window: daily
    baseline: 100
    target: 200
    start: 2026-10-01
    deadline: 2026-12-31
    owner: ig-lead
    parent: grow
  - id: monthly_leads_300
    title: At least 300 leads every month
    objective: leads
    kpi: leads
    scope: {platforms: [facebook]}
    window: calendar_month
    recurring: month
    target: 300
    start: 2026-08-01
    owner: demand-lead
  - id: wait_2min
    title: Answer within 2 minutes
    objective: customer_service
    kpi: median_first_response_minutes
    scope: {platforms: [facebook]}
    window: daily
    baseline: 10
    target: 2 minutes
    start: 2026-10-01
    deadline: 2026-12-31
    owner: care-lead
    parent: grow
"""


def make_report(tmp_path: Path, con) -> tuple[Path, object]:
    """The fixture's snapshot for AS_OF and its report (built from ``con``, a DuckDB with ``marts``)."""
    home = tmp_path / "home"
    (tmp_path / "metrics.yml").write_text(METRICS_YML, encoding="utf-8")
    write_goals(tmp_path, GOALS)
    settings = get_settings({"GOALPOST_HOME": str(home), "GOALPOST_GOALS_FILE": str(tmp_path / "goals.yml"),
                             "GOALPOST_METRICS_FILE": str(tmp_path / "metrics.yml")})
    # followers 100, 102, ..., 128 on 1-15 Oct
    insert_account_daily(con, "instagram", "ig1", date(2026, 10, 1), [100 + 2 * i for i in range(15)])
    # leads: 8/day in August, 10/day in September, 5/day on 1-15 October
    insert_leads_daily(con, "facebook", "fb1", None, date(2026, 8, 1), [8] * 31 + [10] * 30 + [5] * 15)
    # median wait 10.0, 9.8, ..., 7.2 minutes on 1-15 Oct
    insert_support_daily(con, "facebook", "fb1", date(2026, 10, 1), [10 - 0.2 * i for i in range(15)])
    con.execute("""create table marts.kpi_best_time_to_post (platform varchar, weekday integer, hour integer,
        posts bigint, engagements bigint, reach bigint, engagements_per_post double, err_ratio_of_sums double)""")
    con.execute("insert into marts.kpi_best_time_to_post values ('instagram', 1, 9, 2, 30, 300, 15, 10), "
                "('facebook', 1, 9, 2, 10, 200, 5, 5), ('x', 5, 18, 4, 8, 80, 2, 10)")
    metrics = load_metrics(settings.metrics_file)
    goals_file = load_goals_file(settings.goals_file, metrics)
    snapshots = evaluate_goals(con, goals_file.goals, metrics, AS_OF)
    write_snapshot_files(snapshots, rollup_objectives(goals_file.objective_groups, snapshots),
                         settings.snapshots_dir, AS_OF)
    return build_report(settings, AS_OF, con=con), settings


def specs(page: str) -> list[dict]:
    return [json.loads(text) for text in re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>',
                                                    page)]


def layer_values(spec: dict, mark: str) -> list[dict]:
    layers = spec.get("layer", [spec])
    found = [layer for layer in layers if (layer["mark"]["type"] if isinstance(layer["mark"], dict)
                                           else layer["mark"]) == mark]
    data = found[0]["data"]
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


@pytest.fixture
def report(tmp_path, con):
    path, settings = make_report(tmp_path, con)
    return path, path.read_text(encoding="utf-8"), settings


def test_report_has_every_goal_its_status_and_a_chart(report):
    path, page, _ = report
    assert path.name == "goal_report.html" and path.parent.name == "as_of=2026-10-15"
    for goal_id in ("followers_200", "monthly_leads_300", "wait_2min"):
        assert page.count(f'id="goal-{goal_id}"') == 1                   # its card
        assert page.count(f'href="#goal-{goal_id}"') == 1                # its row in "All goals"
    labels = re.findall(r'data-spec="spec-\d+" data-label="([^"]*)"', page)
    assert labels == [
        "burn-up of &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;",   # awareness
        "burn-up of Answer within 2 minutes",                                      # customer_service
        "burn-up of At least 300 leads every month", "periods of At least 300 leads every month",   # leads
        "trend of Followers", "trend of Leads", "trend of Median first response time",
        "best time to post",
    ]
    assert len(specs(page)) == len(labels)
    assert "SMART check" in page and "Time-bound: start 2026-10-01, deadline 2026-12-31" in page


def test_titles_are_escaped_in_html_and_in_chart_json(report):
    _, page, _ = report
    assert "alert(1)</script>" not in page and "<b>care</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;" in page
    assert "Grow &amp; &lt;b&gt;care&lt;/b&gt;" in page
    # a user string inside a spec cannot end its <script> block: '<', '>' and '&' are JSON escapes
    spec = {"title": EVIL_TITLE}
    text = goal_report._script_json(spec)
    assert text == '{"title":"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e \\u0026 \\"q\\""}'
    assert json.loads(text) == spec


def test_burnup_plots_actual_plan_and_forecast_from_the_rows(report):
    _, page, _ = report
    burnup = specs(page)[0]
    lines = layer_values(burnup, "line")
    actual = [(v["day"], v["value"]) for v in lines if v["series"] == "actual"]
    # followers 100 + 2*i on day i of October (window daily: the day's own value)
    assert actual == [((date(2026, 10, 1) + timedelta(days=i)).isoformat(), 100 + 2 * i) for i in range(15)]
    plan = [(v["day"], v["value"]) for v in lines if v["series"] == "plan"]
    assert plan == [("2026-10-01", 100), ("2026-12-31", 200)]          # baseline 100 -> target 200 at deadline
    forecast = [(v["day"], v["value"]) for v in lines if v["series"] == "forecast"]
    # a straight line +2/day from 128 on 15 Oct: 77 more days to 31 Dec -> 128 + 154 = 282
    assert forecast == [("2026-10-15", 128), ("2026-12-31", 282)]
    band = layer_values(burnup, "area")
    assert band[0] == {"day": "2026-10-15", "low": 128, "high": 128}
    assert band[1]["day"] == "2026-12-31" and band[1]["low"] == pytest.approx(282) == band[1]["high"]
    rule = layer_values(burnup, "rule")
    assert rule == [{"day": "2026-12-31", "label": "deadline"}]


def test_recurring_goal_gets_one_bar_per_period(report):
    path, page, _ = report
    periods = next(s for s in specs(page) if "period" in json.dumps(s))
    bars = layer_values(periods, "bar")
    # August 31 x 8 = 248 (missed), September 30 x 10 = 300 (achieved), October 1-15: 15 x 5 = 75 so far
    assert [(b["period"], b["value"], b["target"]) for b in bars] == [
        ("2026-08", 248, 300), ("2026-09", 300, 300), ("2026-10", 75, 300)]
    document = json.loads((path.parent / "goal_progress.json").read_text(encoding="utf-8"))
    now = next(g["status"] for g in document["goals"] if g["goal_id"] == "monthly_leads_300")
    assert [b["status"] for b in bars] == ["missed", "achieved", now]   # the current period: the snapshot's


def test_specs_are_valid_vega_lite(report):
    _, page, _ = report
    for spec in specs(page):
        (alt.LayerChart if "layer" in spec else alt.Chart).from_dict(spec)   # raises on an invalid spec


def test_page_loads_nothing_from_the_network(report):
    _, page, _ = report
    assert page.count('<script id="vega-bundle">') == 1 and page.count("vegaEmbed(") == 1
    # the inlined bundle runs to its own end: nothing inside it closes the <script> element early
    start = page.index('<script id="vega-bundle">') + len('<script id="vega-bundle">')
    assert page.index("</script>", start) == start + len(goal_report.vega_bundle())
    # the Vega bundle names XML namespaces (not fetched); everything else has no address at all
    outside = re.sub(r'<script id="vega-bundle">.*?</script>', "", page, flags=re.DOTALL)
    assert re.findall(r"https?://", outside) == []
    assert " src=" not in outside and "<link" not in outside
    hrefs = re.findall(r'href="([^"]*)"', outside)
    assert hrefs and all(h.startswith("#goal-") for h in hrefs)          # no DQ report in this home yet
    assert "data-quality report: not built yet (run <code>goalpost validate</code>)" in page


def test_data_quality_report_is_a_relative_link(tmp_path, con):
    home = tmp_path / "home"
    dq = home / "docs" / "data_docs" / "goalpost_dq_report.html"
    dq.parent.mkdir(parents=True)
    dq.write_text("<html></html>", encoding="utf-8")
    path, _ = make_report(tmp_path, con)
    page = path.read_text(encoding="utf-8")
    assert '<a href="../../docs/data_docs/goalpost_dq_report.html">data-quality report</a>' in page
    assert (path.parent / "../../docs/data_docs/goalpost_dq_report.html").resolve() == dq.resolve()


def test_same_inputs_give_the_same_bytes_and_a_readable_file(report, con):
    path, page, settings = report
    assert path.stat().st_mode & 0o777 == 0o644
    again = build_report(settings, AS_OF, con=con)
    assert again == path and again.read_text(encoding="utf-8") == page
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []     # no temp file left


def test_newest_snapshot_is_the_default(report, con):
    path, _, settings = report
    assert build_report(settings, con=con) == path


def test_missing_snapshot_says_what_to_run(tmp_path):
    settings = get_settings({"GOALPOST_HOME": str(tmp_path)})
    with pytest.raises(ReportError) as err:
        build_report(settings)
    assert str(err.value) == (f"no goal snapshot yet in {tmp_path / 'snapshots'}: run `goalpost snapshot` "
                              "(or `goalpost demo`) first")
    with pytest.raises(ReportError) as err:
        build_report(settings, date(2026, 10, 15))
    assert str(err.value) == (f"no goal snapshot for as_of=2026-10-15 in {tmp_path / 'snapshots'}: run "
                              "`goalpost snapshot --as-of 2026-10-15` first")


def _row(goal_id: str, objective: str = "awareness", status: str = "on_track") -> dict:
    return {"goal_id": goal_id, "title": f"Goal {goal_id}", "kpi": "followers", "scope": "all", "success": "reach",
            "objective": objective, "period_start": "2026-10-01", "deadline": "2026-12-31",
            "data_as_of": "2026-10-02", "current": 102.0, "baseline": 100.0, "target": 200.0, "progress_pct": 2.0,
            "time_elapsed_pct": 2.2, "projected_at_deadline": None, "projected_low": None, "projected_high": None,
            "status": status, "smart_warnings": []}


def test_chart_limit_per_objective_keeps_the_worst_goals_drawn():
    chart = GoalChart(actual=[(date(2026, 10, 1), 100.0), (date(2026, 10, 2), 102.0)], path_start=100.0)
    document = {"as_of": "2026-10-02", "objectives": [],
                "goals": [_row("a_fine"), _row("b_bad", status="off_track"), _row("c_other", objective="leads")]}
    page = render_report(document, {g["goal_id"]: chart for g in document["goals"]}, max_charts_per_objective=1)
    drawn = re.findall(r'data-label="burn-up of Goal (\w+)"', page)
    assert drawn == ["b_bad", "c_other"]                  # off_track before on_track within awareness
    assert page.count("No chart: more goals than the chart limit") == 1
    assert page.count('href="#goal-') == 3                # the table still lists all three
    assert render_report(document, {g["goal_id"]: chart for g in document["goals"]},
                         max_charts_per_objective=1) == page


def test_goal_without_data_or_no_longer_in_goals_yml_says_why():
    document = {"as_of": "2026-10-02", "objectives": [], "goals": [_row("gone"), _row("empty")]}
    charts = {"empty": GoalChart(note="no data for followers in all platforms and accounts up to 2026-10-02")}
    page = render_report(document, charts)
    assert "No chart: not in goals.yml any more" in page
    assert "No chart: no data for followers in all platforms and accounts up to 2026-10-02" in page
    assert "data-spec" not in page.split("<h2>KPI trends</h2>")[0]


def test_an_achieved_goal_shows_the_day_it_got_there():
    # achieved sticks (goals.py): the KPI has dropped back to 150 since it reached 200 on 10-14
    achieved = {**_row("reached", status="achieved"), "current": 150.0, "progress_pct": 50.0,
                "achieved_on": "2026-10-14"}
    page = render_report({"as_of": "2026-10-20", "objectives": [], "goals": [achieved, _row("going")]}, {})
    card = page.split('id="goal-reached"')[1].split('id="goal-going"')[0]
    assert "<span>achieved on <b>2026-10-14</b></span>" in card
    assert '>achieved</span> <span class="muted">on 2026-10-14</span></td>' in page     # the "All goals" table
    assert page.count("2026-10-14") == 2                                              # not on the other goal


def test_period_labels():
    periods = [PeriodResult("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), 10.0, 12.0, "missed")]
    spec = goal_report.periods_spec(_row("q"), periods)
    assert layer_values(spec, "bar") == [{"period": "2026-Q3", "value": 10.0, "target": 12.0, "status": "missed"}]


def test_recurring_bars_use_the_snapshots_published_periods():
    from pipeline.goals import Goal

    goal = Goal(id="leads_q", title="Leads per quarter", objective="leads", kpi="leads", recurring="quarter",
                target=900, start=date(2026, 4, 1), owner="demand-lead")
    row = {**_row("leads_q"), "periods": [
        {"period_start": "2026-04-01", "period_end": "2026-06-30", "value": 950.0, "target": 900.0,
         "status": "achieved"},
        {"period_start": "2026-07-01", "period_end": "2026-09-30", "value": 610.0, "target": 900.0,
         "status": "missed"},
        {"period_start": "2026-10-01", "period_end": "2026-12-31", "value": 75.0, "target": 900.0,
         "status": "in_progress"}]}
    # the published results are taken as they are: no warehouse is read (con=None)
    periods = goal_report._periods(None, goal, None, row, date(2026, 10, 15), 2.0)
    assert [(p.label, p.value, p.status) for p in periods] == [
        ("2026-Q2", 950.0, "achieved"), ("2026-Q3", 610.0, "missed"), ("2026-Q4", 75.0, "in_progress")]
    assert periods[-1].end == date(2026, 12, 31)


def test_periods_without_any_value_are_said_not_drawn():
    chart = GoalChart(actual=[(date(2026, 10, 1), 1.0)], path_start=0.0, periods=[
        PeriodResult("2026-09", date(2026, 9, 1), date(2026, 9, 30), None, 40.0, "no_data"),
        PeriodResult("2026-10", date(2026, 10, 1), date(2026, 10, 31), None, 40.0, "no_data")])
    page = render_report({"as_of": "2026-10-02", "objectives": [], "goals": [_row("apps")]}, {"apps": chart})
    # an all-empty bar chart has no extent to scale (Vega warns "Infinite extent" in the console)
    assert "per period: no value in the last 2 period(s)" in page
    assert 'data-label="periods of' not in page and 'data-label="burn-up of Goal apps"' in page
