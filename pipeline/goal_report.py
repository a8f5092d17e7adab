"""The visual goal report: one self-contained HTML page per goal snapshot.

``build_report(settings, as_of)`` reads the published snapshot (``snapshots/as_of=<d>/goal_progress.json``,
the statuses the webhooks and the status table already showed) and the KPI rows behind it from the serving
copy (``serving.duckdb``, opened read-only: the warehouse may be held by a writer), and writes
``snapshots/as_of=<d>/goal_report.html`` next to it:

- per goal a burn-up: the KPI's daily value over its window (actual), the plan line from the path start
  (baseline, or 0 for sums that accumulate) to the target, the forecast to the deadline with its band, a
  deadline marker, the status badge and the SMART notes; recurring goals add one bar per period;
- objective roll-ups, KPI trend small multiples (all platforms, last ``TREND_DAYS`` days), the
  best-time-to-post heatmap and a relative link to the data-quality report.

The page opens with no network: Vega, Vega-Lite and vega-embed are inlined once per page (the bundle
``vl-convert-python`` builds, the same one Altair's ``to_html(inline=True)`` uses) and every chart's
Vega-Lite spec sits in a ``<script type="application/json">`` block. The bytes depend only on the inputs
(no clock, sorted JSON), every user string is HTML-escaped and ``<``, ``>``, ``&`` inside the JSON blocks
are written as ``\\u003c``-style escapes, so a goal title cannot close a script element.

Size rule: a 1,000-goal page must stay openable, so at most ``MAX_CHARTS_PER_OBJECTIVE`` goals per
objective (worst status first) get a burn-up; every goal is in the "All goals" table.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.goals import (
    _SEVERITY,
    Goal,
    _accumulates,
    _fetch,
    _period,
    _rollup,
    _round,
    _window,
    evaluate_goal,
    load_goals_file,
    smart_check,
)
from pipeline.metrics import Metric, load_metrics
from pipeline.report import achieved_day
from pipeline.settings import Settings

REPORT_NAME = "goal_report.html"
REPORT_FILE_MODE = 0o644          # like the snapshot files: a dashboard service user reads it
MAX_CHARTS_PER_OBJECTIVE = 25     # burn-ups per objective; the rest are rows of the "All goals" table
MAX_PERIOD_BARS = 12              # recurring goals: the newest periods shown as bars
TREND_DAYS = 90                   # KPI small multiples: trailing days shown

STATUS_COLORS = {
    "achieved": "#1a7f37", "on_track": "#2da44e", "not_started": "#0969da", "at_risk": "#bf8700",
    "off_track": "#cf222e", "missed": "#82071e", "stale": "#6e7781", "no_data": "#8c959f",
    "in_progress": "#54aeff",     # a recurring goal's current period (snapshot "periods")
}
_SERIES_COLORS = {"actual": "#0969da", "plan": "#6e7781", "threshold": "#6e7781", "forecast": "#8250df"}
_SERIES_DASHES = {"actual": [1, 0], "plan": [6, 4], "threshold": [6, 4], "forecast": [2, 3]}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LETTER_OF_NAME = {"Specific": "S", "Measurable": "M", "Achievable": "A", "Relevant": "R", "Time-bound": "T"}


class ReportError(RuntimeError):
    """The report could not be built (one line: what is missing and what to run)."""


@dataclass(frozen=True)
class PeriodResult:
    """One period of a recurring goal: the KPI at the period's end (or as of now) against its target."""

    label: str           # 2026-09 | 2026-Q4 | week of 2026-11-02
    start: date
    end: date
    value: float | None
    target: float | None
    status: str


@dataclass(frozen=True)
class GoalChart:
    """What a goal's card draws besides its snapshot row."""

    actual: list[tuple[date, float]] = field(default_factory=list)
    path_start: float | None = None
    unit: str = ""
    smart: dict[str, str] = field(default_factory=dict)      # letter -> line (smart_check + snapshot notes)
    periods: list[PeriodResult] = field(default_factory=list)
    note: str | None = None                                   # why there is no chart


@dataclass(frozen=True)
class KpiTrend:
    kpi: str
    label: str
    window: str
    points: list[tuple[date, float]]


@dataclass(frozen=True)
class PostingTime:
    weekday: int          # 1 = Monday .. 7 = Sunday
    hour: int
    posts: int
    engagements_per_post: float


# --------------------------------------------------------------------------------------------
# Vega-Lite specs (built with Altair; plain dicts once built)
# --------------------------------------------------------------------------------------------

_BUNDLE: dict[str, str] = {}


def vega_bundle(cache_dir: Path | None = None) -> str:
    """Vega + Vega-Lite + vega-embed as one classic script (sets ``window.vegaEmbed``).

    It is the bundle Altair inlines for ``to_html(inline=True)``, for the Vega-Lite version Altair writes.
    Building it takes ~3 s (vl-convert bundles the JS modules), so it is kept per process and, with
    ``cache_dir``, in a file named after both versions: the snapshot step pays it once per install.
    """
    from altair.utils._importers import import_vl_convert, vl_version_for_vl_convert

    vl_convert = import_vl_convert()
    key = f"vega-bundle-vl{vl_version_for_vl_convert()}-vlconvert{vl_convert.__version__}.js"
    if key in _BUNDLE:
        return _BUNDLE[key]
    cached = cache_dir / key if cache_dir is not None else None
    if cached is not None and cached.is_file():
        bundle = cached.read_text(encoding="utf-8")
    else:
        bundle = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())
        # "</script" would end the inline <script> early; in JS source it can only sit in a string, a regex or
        # a comment, where "<\/script" means the same
        bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(cached, bundle)
    _BUNDLE[key] = bundle
    return bundle


def _x_day(title: str | None = None) -> Any:
    import altair as alt

    # dates are plain YYYY-MM-DD strings, parsed as UTC midnight: a UTC scale keeps them on their day
    return alt.X("day:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format="%d %b", labelOverlap=True, grid=False))


def _finish(chart: Any, height: int) -> dict[str, Any]:
    spec = chart.properties(width="container", height=height).configure_view(stroke=None).to_dict(validate=False)
    spec.pop("$schema", None)       # a URL the page never loads: keep the file free of network addresses
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return spec


# A page can hold hundreds of charts: the Vega-Lite structure of a chart is built once per distinct layout
# (KPI, unit, series present) and each chart carries only its data, as named ``datasets``.
@functools.lru_cache(maxsize=256)
def _burnup_template(y_title: str, domain: tuple[str, ...], band: bool) -> dict[str, Any]:
    import altair as alt

    series = alt.Chart(alt.NamedData("lines")).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=_x_day(),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=list(domain), range=[_SERIES_COLORS[s] for s in domain])),
        strokeDash=alt.StrokeDash("series:N", title=None, legend=alt.Legend(orient="bottom"),
                                  scale=alt.Scale(domain=list(domain), range=[_SERIES_DASHES[s] for s in domain])),
        tooltip=[alt.Tooltip("series:N"), alt.Tooltip("day:N", title="day"),
                 alt.Tooltip("value:Q", format=",.4~f")],
    )
    deadline_rule = alt.Chart(alt.NamedData("deadline")).mark_rule(
        color=STATUS_COLORS["off_track"], strokeDash=[3, 3]).encode(
        x=alt.X("day:T", scale=alt.Scale(type="utc")), tooltip=[alt.Tooltip("label:N")])
    layers = [series, deadline_rule]
    if band:
        layers.insert(0, alt.Chart(alt.NamedData("band")).mark_area(
            opacity=0.18, color=_SERIES_COLORS["forecast"]).encode(
            x=alt.X("day:T", scale=alt.Scale(type="utc")), y="low:Q", y2="high:Q"))
    return _finish(alt.layer(*layers), height=190)


def burnup_spec(row: dict[str, Any], chart: GoalChart) -> dict[str, Any]:
    """Actual vs plan (path start -> target) vs forecast with its band, and the deadline."""
    start, deadline = str(row["period_start"]), str(row["deadline"])
    target = row["target"]
    lines: list[dict[str, Any]] = [{"day": d.isoformat(), "value": v, "series": "actual"} for d, v in chart.actual]
    if target is not None:
        if row["success"] != "reach":
            lines += [{"day": start, "value": target, "series": "threshold"},
                      {"day": deadline, "value": target, "series": "threshold"}]
        elif chart.path_start is not None:
            lines += [{"day": start, "value": chart.path_start, "series": "plan"},
                      {"day": deadline, "value": target, "series": "plan"}]
    band: list[dict[str, Any]] = []
    data_as_of, current = row.get("data_as_of"), row.get("current")
    projected = row.get("projected_at_deadline")
    if projected is not None and data_as_of is not None and current is not None and str(data_as_of) < deadline:
        lines += [{"day": str(data_as_of), "value": current, "series": "forecast"},
                  {"day": deadline, "value": projected, "series": "forecast"}]
        band = [{"day": str(data_as_of), "low": current, "high": current},
                {"day": deadline, "low": row["projected_low"], "high": row["projected_high"]}]
    domain = tuple(s for s in _SERIES_COLORS if any(line["series"] == s for line in lines))
    unit = f" ({chart.unit})" if chart.unit else ""
    datasets = {"lines": lines, "deadline": [{"day": deadline, "label": "deadline"}]}
    if band:
        datasets["band"] = band
    return {**_burnup_template(f"{row['kpi']}{unit}", domain, bool(band)), "datasets": datasets}


@functools.lru_cache(maxsize=256)
def _periods_template(y_title: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    import altair as alt

    x = alt.X("period:O", title=None, sort=None, axis=alt.Axis(labelAngle=0, labelOverlap=True))
    bars = alt.Chart(alt.NamedData("periods")).mark_bar().encode(
        x=x, y=alt.Y("value:Q", title=y_title),
        color=alt.Color("status:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=list(statuses), range=[STATUS_COLORS[s] for s in statuses])),
        tooltip=["period:N", alt.Tooltip("value:Q", format=",.4~f"), alt.Tooltip("target:Q", format=",.4~f"),
                 "status:N"],
    )
    ticks = alt.Chart(alt.NamedData("periods")).mark_tick(color="#1f2328", thickness=2).encode(
        x=x, y="target:Q")
    return _finish(alt.layer(bars, ticks), height=150)


def periods_spec(row: dict[str, Any], periods: list[PeriodResult]) -> dict[str, Any]:
    """One bar per period (coloured by the period's status) with its target as a tick."""
    values = [{"period": p.label, "value": p.value, "target": p.target, "status": p.status}
              for p in periods]
    statuses = tuple(s for s in STATUS_COLORS if any(v["status"] == s for v in values))
    return {**_periods_template(row["kpi"], statuses), "datasets": {"periods": values}}


def trend_spec(trend: KpiTrend) -> dict[str, Any]:
    import altair as alt

    values = [{"day": d.isoformat(), "value": v} for d, v in trend.points]
    chart = alt.Chart(alt.Data(values=values), title=alt.Title(f"{trend.label} ({trend.window})", fontSize=12))
    return _finish(chart.mark_line(color=_SERIES_COLORS["actual"]).encode(
        x=_x_day(), y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("day:N", title="day"), alt.Tooltip("value:Q", format=",.4~f")]),
        height=110)


def heatmap_spec(times: list[PostingTime]) -> dict[str, Any]:
    import altair as alt

    values = [{"weekday": _WEEKDAYS[t.weekday - 1], "hour": t.hour, "posts": t.posts,
               "engagements_per_post": t.engagements_per_post} for t in times]
    chart = alt.Chart(alt.Data(values=values)).mark_rect().encode(
        x=alt.X("hour:O", title="hour (platform's local time)", scale=alt.Scale(domain=list(range(24)))),
        y=alt.Y("weekday:O", title=None, scale=alt.Scale(domain=list(_WEEKDAYS))),
        color=alt.Color("engagements_per_post:Q", title="engagements / post", scale=alt.Scale(scheme="blues")),
        tooltip=["weekday:N", "hour:O", "posts:Q", alt.Tooltip("engagements_per_post:Q", format=",.1f")],
    )
    return _finish(chart, height=180)


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
body { margin: 0 auto; max-width: 1280px; padding: 12px; background: #f6f8fa; }
h1 { font-size: 1.4rem; margin: 8px 0; } h2 { font-size: 1.15rem; margin: 24px 0 8px; }
h3 { font-size: 1rem; margin: 0 0 4px; overflow-wrap: anywhere; }
.muted { color: #59636e; font-size: .85rem; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: .8rem;
         font-weight: 600; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #d1d9e0; border-radius: 8px; padding: 12px; min-width: 0; }
.chart { width: 100%; min-height: 60px; }
.numbers { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: .85rem; margin: 6px 0; }
.numbers b { font-weight: 600; }
details { font-size: .82rem; margin-top: 6px; } details li { margin: 2px 0; overflow-wrap: anywhere; }
.warn { color: #9a6700; } .ok { color: #1a7f37; }
.bar { background: #eaeef2; border-radius: 4px; height: 12px; overflow: hidden; }
.bar > span { display: block; height: 100%; }
.scroll { overflow-x: auto; } table { border-collapse: collapse; font-size: .82rem; background: #fff; }
th, td { padding: 4px 8px; border-bottom: 1px solid #d1d9e0; text-align: left; white-space: nowrap; }
td.num { text-align: right; }
@media (max-width: 700px) {
  .cards { grid-template-columns: 1fr; } body { padding: 6px; } h1 { font-size: 1.2rem; }
}
"""

# Draw every chart whose spec is on the page; a failure marks its container and goes to the console.
_EMBED = """
(function () {
  var options = {actions: false, renderer: "svg"};
  document.querySelectorAll("[data-spec]").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, options).then(function () { el.setAttribute("data-drawn", "true"); })
      .catch(function (err) { el.setAttribute("data-error", String(err)); console.error(err); });
  });
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _script_json(data: Any) -> str:
    """JSON that is safe as the raw text of a <script> element: no '<', '>' or '&' survive literally."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, STATUS_COLORS["no_data"])
    return f'<span class="badge" style="background:{color}">{_e(status.replace("_", " "))}</span>'


class _Page:
    """Collects the chart specs of one page; each chart is a div pointing at its JSON block."""

    def __init__(self) -> None:
        self.specs: list[str] = []

    def chart(self, spec: dict[str, Any], label: str) -> str:
        spec_id = f"spec-{len(self.specs)}"
        spec = {**spec, "description": label}       # vega-embed makes it the chart's aria-label
        self.specs.append(f'<script type="application/json" id="{spec_id}">{_script_json(spec)}</script>')
        return f'<div class="chart" data-spec="{spec_id}" data-label="{_e(label)}"></div>'


def _severity(status: str) -> int:
    return _SEVERITY.index(status) if status in _SEVERITY else len(_SEVERITY)


def _smart_lines(row: dict[str, Any], chart: GoalChart) -> str:
    items = []
    for letter in ("S", "M", "A", "R", "T"):
        line = chart.smart.get(letter)
        if line is None:
            continue
        warned = any(w.startswith(_letter_name(letter)) for w in row.get("smart_warnings") or [])
        mark = '<span class="warn">&#9888;</span>' if warned else '<span class="ok">&#10003;</span>'
        items.append(f"<li>{mark} <b>{letter}</b> {_e(line)}</li>")
    known = {_letter_name(letter) for letter in chart.smart}
    for warning in row.get("smart_warnings") or []:     # notes of a goal no longer in goals.yml
        if warning.split(":", 1)[0] not in known:
            items.append(f'<li><span class="warn">&#9888;</span> {_e(warning)}</li>')
    return f"<details><summary>SMART check</summary><ul>{''.join(items)}</ul></details>" if items else ""


def _letter_name(letter: str) -> str:
    return next(name for name, key in _LETTER_OF_NAME.items() if key == letter)


def _goal_card(page: _Page, row: dict[str, Any], chart: GoalChart | None, drawn: bool) -> str:
    chart = chart or GoalChart(note="not in goals.yml any more")
    forecast = "-"
    if row.get("projected_at_deadline") is not None:
        low, high = row.get("projected_low"), row.get("projected_high")
        band = "" if low == high else f" [{_num(low)}..{_num(high)}]"
        forecast = f"{_num(row['projected_at_deadline'])}{band}"
    numbers = [("current", _num(row.get("current"))), ("target", _num(row.get("target"))),
               ("progress", _pct(row.get("progress_pct"))), ("time", _pct(row.get("time_elapsed_pct"))),
               ("forecast", forecast), ("deadline", str(row["deadline"]))]
    if achieved := achieved_day(row):
        numbers.append(("achieved on", achieved))
    parts = [
        f'<div class="card" id="goal-{_e(row["goal_id"])}">',
        f'<h3>{_e(row["title"])} {_badge(row["status"])}</h3>',
        (f'<div class="muted">{_e(row["goal_id"])} &middot; {_e(row["kpi"])} &middot; {_e(row["scope"])}'
        f' &middot; {_e(row["success"])} &middot; data to {_e(row.get("data_as_of") or "-")}</div>'),
        '<div class="numbers">' + "".join(f"<span>{k} <b>{_e(v)}</b></span>" for k, v in numbers) + "</div>",
    ]
    if not drawn:
        parts.append(f'<div class="muted">No chart: {_e(chart.note or "more goals than the chart limit")}</div>')
    else:
        parts.append(page.chart(burnup_spec(row, chart), f"burn-up of {row['title']}"))
        if any(p.value is not None for p in chart.periods):
            parts.append('<div class="muted">per period</div>')
            parts.append(page.chart(periods_spec(row, chart.periods), f"periods of {row['title']}"))
        elif chart.periods:          # bars with no value at all: nothing to scale, say so instead
            parts.append(f'<div class="muted">per period: no value in the last {len(chart.periods)} '
                         f'period(s)</div>')
    parts.append(_smart_lines(row, chart))
    parts.append("</div>")
    return "".join(parts)


def _objectives(objectives: list[dict[str, Any]]) -> str:
    if not objectives:
        return '<p class="muted">No objective groups in goals.yml.</p>'
    cards = []
    for objective in objectives:
        progress = objective.get("progress_pct")
        width = 0.0 if progress is None else min(max(progress, 0.0), 100.0)
        color = STATUS_COLORS.get(objective["status"], STATUS_COLORS["no_data"])
        results = ", ".join(f"{r['goal_id']} ({r['status'].replace('_', ' ')}, weight {_num(r['weight'])})"
                            for r in objective.get("key_results", []))
        cards.append(
            f'<div class="card"><h3>{_e(objective["title"])} {_badge(objective["status"])}</h3>'
            f'<div class="muted">{_e(objective["id"])} &middot; owner {_e(objective.get("owner") or "-")}'
            f' &middot; weighted progress {_pct(progress)}</div>'
            f'<div class="bar"><span style="width:{width:.1f}%;background:{color}"></span></div>'
            f'<div class="muted">key results: {_e(results or "none")}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _achieved_on(row: dict[str, Any]) -> str:
    achieved = achieved_day(row)
    return f' <span class="muted">on {_e(achieved)}</span>' if achieved else ""


def _goals_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("goal", "title", "kpi", "current", "target", "progress",
                                             "deadline", "status"))
    body = []
    for row in rows:
        body.append(
            f'<tr><td><a href="#goal-{_e(row["goal_id"])}">{_e(row["goal_id"])}</a></td><td>{_e(row["title"])}</td>'
            f'<td>{_e(row["kpi"])}</td><td class="num">{_e(_num(row.get("current")))}</td>'
            f'<td class="num">{_e(_num(row.get("target")))}</td>'
            f'<td class="num">{_pct(row.get("progress_pct"))}</td><td>{_e(row["deadline"])}</td>'
            f'<td>{_badge(row["status"])}{_achieved_on(row)}</td></tr>')
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _by_objective(rows: list[dict[str, Any]], objective_of: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Goals grouped by objective, worst status first: the order of the cards and of the chart limit."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (_severity(r["status"]), r["goal_id"])):
        groups.setdefault(objective_of.get(row["goal_id"], row["objective"]), []).append(row)
    return dict(sorted(groups.items()))


def charted_goals(rows: list[dict[str, Any]], max_charts_per_objective: int = MAX_CHARTS_PER_OBJECTIVE,
                  objective_of: dict[str, str] | None = None) -> set[str]:
    """The goal ids that get a burn-up: the first ``max_charts_per_objective`` of each objective."""
    return {row["goal_id"] for members in _by_objective(rows, objective_of or {}).values()
            for row in members[:max_charts_per_objective]}


def render_report(document: dict[str, Any], charts: dict[str, GoalChart], *,
                  trends: Sequence[KpiTrend] = (), posting_times: Sequence[PostingTime] = (),
                  dq_href: str | None = None, objective_of: dict[str, str] | None = None,
                  max_charts_per_objective: int = MAX_CHARTS_PER_OBJECTIVE) -> str:
    """The report page for one snapshot ``document`` (the goal_progress.json content).

    ``charts`` maps goal_id -> what its card draws; ``objective_of`` maps goal_id -> the objective the goal
    is grouped under (default: the snapshot's ``objective``). Pure: same arguments, same string.
    """
    page = _Page()
    as_of = str(document["as_of"])
    rows = sorted(document["goals"], key=lambda r: r["goal_id"])
    objective_of = objective_of or {}
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = " ".join(f"{_badge(s)} {counts[s]}" for s in sorted(counts, key=_severity))

    charted = charted_goals(rows, max_charts_per_objective, objective_of)
    goal_sections = []
    for objective, members in _by_objective(rows, objective_of).items():
        cards = [_goal_card(page, row, charts.get(row["goal_id"]),
                            drawn=row["goal_id"] in charted and charts.get(row["goal_id"]) is not None
                            and charts[row["goal_id"]].note is None)
                 for row in members]
        goal_sections.append(f'<h3>{_e(objective.replace("_", " "))} '
                             f'<span class="muted">({len(members)} goals)</span></h3>'
                             f'<div class="cards">{"".join(cards)}</div>')

    trend_cards = "".join(f'<div class="card">{page.chart(trend_spec(t), f"trend of {t.label}")}</div>'
                          for t in trends if t.points)
    heatmap = (f'<div class="card">{page.chart(heatmap_spec(list(posting_times)), "best time to post")}</div>'
               if posting_times else '<p class="muted">No posts with a creation time in '
                                     'marts.kpi_best_time_to_post yet.</p>')
    dq = (f'<a href="{_e(dq_href)}">data-quality report</a>' if dq_href else
          "data-quality report: not built yet (run <code>goalpost validate</code>)")
    body = [
        f"<h1>Goal report as of {_e(as_of)}</h1>",
        (f'<p>{summary}</p><p class="muted">{len(rows)} goals &middot; {dq} &middot; burn-ups for at most '
        f"{max_charts_per_objective} goals per objective, worst status first; every goal is in the table "
        f"below.</p>"),
        "<h2>Objectives</h2>", _objectives(document.get("objectives") or []),
        "<h2>Goals</h2>", *goal_sections,
        "<h2>KPI trends</h2>",
        f'<div class="cards">{trend_cards}</div>' if trend_cards else '<p class="muted">No KPI data.</p>',
        "<h2>Best time to post</h2>", heatmap,
        "<h2>All goals</h2>", _goals_table(rows),
    ]
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Goalpost goal report {_e(as_of)}</title><style>{_CSS}</style>",
        f'<script id="vega-bundle">{vega_bundle()}</script></head>\n<body>',
        "\n".join(body), "\n", *page.specs, f"<script>{_EMBED}</script>\n</body></html>\n",
    ])


# --------------------------------------------------------------------------------------------
# Data: snapshot file + serving copy
# --------------------------------------------------------------------------------------------

def _snapshot_folder(settings: Settings, as_of: date | None) -> Path:
    if as_of is not None:
        folder = settings.snapshots_dir / f"as_of={as_of.isoformat()}"
        if not (folder / "goal_progress.json").exists():
            raise ReportError(f"no goal snapshot for as_of={as_of} in {settings.snapshots_dir}: run "
                              f"`goalpost snapshot --as-of {as_of}` first")
        return folder
    folders = sorted(p.parent for p in settings.snapshots_dir.glob("as_of=*/goal_progress.json"))
    if not folders:
        raise ReportError(f"no goal snapshot yet in {settings.snapshots_dir}: run `goalpost snapshot` "
                          "(or `goalpost demo`) first")
    return folders[-1]


def _daily(metric: Metric, goal: Goal, rows: Any, first: date, last: date,
           start: date) -> list[tuple[date, float]]:
    points = []
    day = first
    while day <= last:
        value = _rollup(metric, rows, *_window(goal.window, day, start))
        if value is not None:
            points.append((day, _round(value)))
        day += timedelta(days=1)
    return points


def _period_label(goal: Goal, start: date) -> str:
    if goal.recurring == "month":
        return start.strftime("%Y-%m")
    if goal.recurring == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"week of {start.isoformat()}"


def _periods(con: Any, goal: Goal, metric: Metric, row: dict[str, Any], as_of: date,
             achievable_factor: float) -> list[PeriodResult]:
    """The newest ``MAX_PERIOD_BARS`` periods up to as_of.

    The snapshot's own ``periods`` (the results ``run_snapshots`` published) when it has them; for a snapshot
    written before they existed, past periods are evaluated at their last day and the current one is the row.
    """
    if row.get("periods"):
        return [PeriodResult(_period_label(goal, date.fromisoformat(p["period_start"])),
                             date.fromisoformat(p["period_start"]), date.fromisoformat(p["period_end"]),
                             p.get("value"), p.get("target"), p["status"])
                for p in row["periods"][-MAX_PERIOD_BARS:]]
    current_start = date.fromisoformat(str(row["period_start"]))
    ends: list[date] = []
    day = current_start - timedelta(days=1)
    while day >= goal.start and len(ends) < MAX_PERIOD_BARS - 1:
        start, end = _period(goal, day)
        ends.append(end)
        day = start - timedelta(days=1)
    results = []
    for end in reversed(ends):
        past = evaluate_goal(con, goal, metric, end, achievable_factor=achievable_factor)
        results.append(PeriodResult(_period_label(goal, past.period_start), past.period_start, past.deadline,
                                    past.current, past.target, past.status))
    results.append(PeriodResult(_period_label(goal, current_start), current_start,
                                date.fromisoformat(str(row["deadline"])), row.get("current"), row.get("target"),
                                row["status"]))
    return results


def smart_lines(goal: Goal, metric: Metric, row: dict[str, Any]) -> dict[str, str]:
    """One line per SMART letter: the snapshot's notes (load-time S, R, T plus evaluation's A, M) where it has
    any for the letter, else what smart_check says was checked."""
    notes: dict[str, list[str]] = {}
    for warning in row.get("smart_warnings") or []:
        letter = _LETTER_OF_NAME.get(warning.split(":", 1)[0])
        if letter:
            notes.setdefault(letter, []).append(warning)
    return {letter: "; ".join(notes[letter]) if letter in notes else line
            for letter, line in smart_check(goal, metric).items()}


def goal_chart(con: Any, goal: Goal, metric: Metric, row: dict[str, Any], as_of: date,
               achievable_factor: float) -> GoalChart:
    """The data behind one goal's card, from the marts the snapshot was evaluated on."""
    smart = smart_lines(goal, metric, row)
    start, deadline = date.fromisoformat(str(row["period_start"])), date.fromisoformat(str(row["deadline"]))
    rows = _fetch(con, metric, goal, as_of)
    if rows is None:
        return GoalChart(unit=metric.unit, smart=smart, note=f"marts.{metric.table} is not in the serving copy")
    actual = _daily(metric, goal, rows, start, min(as_of, deadline), start) if rows.days else []
    baseline = row.get("baseline")
    path_start = 0.0 if _accumulates(goal, metric) else baseline
    periods = _periods(con, goal, metric, row, as_of, achievable_factor) if goal.recurring else []
    plan_drawable = row.get("target") is not None and (row["success"] != "reach" or path_start is not None)
    if not actual and not plan_drawable:
        return GoalChart(unit=metric.unit, smart=smart, periods=periods,
                         note=f"no data for {metric.name} in {goal.scope.describe()} up to {as_of}")
    return GoalChart(actual=actual, path_start=path_start, unit=metric.unit, smart=smart, periods=periods)


def kpi_trends(con: Any, goals: list[Goal], metrics: dict[str, Metric], as_of: date) -> list[KpiTrend]:
    """Each goal KPI over all platforms and accounts for the last ``TREND_DAYS`` days."""
    trends = []
    first = as_of - timedelta(days=TREND_DAYS - 1)
    for name in sorted({g.kpi for g in goals}):
        metric = metrics[name]
        # growth over one day is ~0: a rate needs a month; every other KPI reads as a weekly value
        window = "trailing_28d" if metric.aggregation == "growth" else "trailing_7d"
        everything = Goal(id="kpi_trend", title=name, objective="awareness", kpi=name, window=window,
                          target=0, start=first, deadline=as_of, owner="report")
        rows = _fetch(con, metric, everything, as_of)
        points = _daily(metric, everything, rows, first, as_of, first) if rows is not None and rows.days else []
        trends.append(KpiTrend(kpi=name, label=metric.label, window=window.replace("_", " "), points=points))
    return trends


def posting_times(con: Any) -> list[PostingTime]:
    """Engagements per post by weekday x hour, all platforms (marts.kpi_best_time_to_post)."""
    exists = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                         "and table_name = 'kpi_best_time_to_post'").fetchall()[0][0]
    if not exists:
        return []
    rows = con.execute(
        "select weekday, hour, sum(posts), sum(engagements) from marts.kpi_best_time_to_post "
        "where weekday is not null and hour is not null group by weekday, hour order by weekday, hour").fetchall()
    return [PostingTime(int(w), int(h), int(p), _round(float(e or 0) / p)) for w, h, p, e in rows if p]


def _atomic_write_text(path: Path, text: str) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, REPORT_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(settings: Settings, as_of: date | None = None, *, con: Any = None,
                 max_charts_per_objective: int = MAX_CHARTS_PER_OBJECTIVE) -> Path:
    """Write ``snapshots/as_of=<d>/goal_report.html`` for the given (default: newest) snapshot; return its path.

    KPI rows come from ``con`` when given (a connection that sees ``marts``), else from the serving copy
    opened read-only.
    """
    import duckdb

    vega_bundle(settings.state_dir / "cache")    # warms the per-process copy render_report inlines
    folder = _snapshot_folder(settings, as_of)
    document = json.loads((folder / "goal_progress.json").read_text(encoding="utf-8"))
    day = date.fromisoformat(str(document["as_of"]))
    metrics = load_metrics(settings.metrics_file)
    goals_file = load_goals_file(settings.goals_file, metrics)
    by_name = metrics.by_name()
    goals = {g.id: g for g in goals_file.goals}
    own = con is None
    if own:
        if not settings.serving_path.exists():
            raise ReportError(f"serving copy {settings.serving_path} not found: run `goalpost publish` (or "
                              "`goalpost snapshot`) to write it, then `goalpost report`")
        con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        charts = {}
        charted = charted_goals(document["goals"], max_charts_per_objective)
        for row in document["goals"]:
            goal = goals.get(row["goal_id"])
            if goal is None or goal.kpi not in by_name:
                continue
            metric = by_name[goal.kpi]
            charts[row["goal_id"]] = (
                goal_chart(con, goal, metric, row, day, goals_file.achievable_factor)
                if row["goal_id"] in charted else GoalChart(unit=metric.unit, smart=smart_lines(goal, metric, row)))
        trends = kpi_trends(con, goals_file.goals, by_name, day)
        times = posting_times(con)
    finally:
        if own:
            con.close()
    dq_report = settings.docs_dir / "data_docs" / "goalpost_dq_report.html"
    dq_href = (urllib.parse.quote(Path(os.path.relpath(dq_report, folder)).as_posix())
               if dq_report.exists() else None)
    page = render_report(document, charts, trends=trends, posting_times=times, dq_href=dq_href,
                         max_charts_per_objective=max_charts_per_objective)
    path = folder / REPORT_NAME
    _atomic_write_text(path, page)
    return path
