"""SMART goals: the ``goals.yml`` model, SMART checks, and progress / pace / forecast / status.

A goal names a KPI from the metrics dictionary (``sql/metrics.yml``), a scope (platforms,
accounts, campaign), a window over which the KPI rolls up, a baseline, a target and a deadline.
``load_goals`` validates the file and reports every problem with the file, line, goal id and
field. ``evaluate_goals`` reads the KPI from ``marts.<metric.table>`` and produces one
``GoalSnapshot`` per goal for an as-of date. The method is documented in ``docs/GOALS.md``:

* **Rows**: one query per goal, ``select <dimensions>, <time column>, <value columns> from
  marts.<table> where <time column> <= ? [and platform in (?...)] [and account_id in (?...)]
  [and campaign = ?]``. Identifiers come only from the validated metrics dictionary; every
  value is a bound parameter.
* **Roll-up** of a window ``[lo, hi]`` per ``metric.aggregation``: ``sum``; ``last`` (the
  newest non-null value per dimension combination, then summed over the scope); ``mean`` and
  ``median`` of the non-null rows; ``ratio`` = sum(numerator) / sum(denominator) * scale;
  ``growth`` = (last - first) / first * 100 with first/last summed over the scope like ``last``.
* **Windows** ending on day d: ``daily`` [d, d]; ``trailing_7d`` [d-6, d]; ``trailing_28d``
  [d-27, d]; ``calendar_month`` [1st of d's month, d]; ``cumulative`` [start, d].
* **Measured day**: the newest day with data, capped at as_of and at the deadline. When the KPI
  is split by platform and the scope spans several, it is the newest day *every* platform that
  reported since the goal start has data for: a failed source holds the goal back (and makes it
  ``stale``) instead of undercounting it. A goal is ``stale`` when that day is more than
  ``freshness_days`` before min(as_of, deadline).
* **Baseline** ``auto`` = the KPI on the day before start (for ``cumulative`` windows: all
  history before start; a cumulative sum starts at 0). Without data before start, the first
  day with data is used.
* **Path**: a straight line from ``path_start`` (the baseline; 0 for sums that accumulate from
  the goal start) to the target. elapsed = (measured - start + 1) / (deadline - start + 1);
  expected_today = path_start + (target - path_start) * elapsed; progress_pct =
  (current - path_start) / (target - path_start) * 100; pace_ratio = progress / elapsed.
* **Forecast**: ordinary least squares over the KPI's trailing daily values (up to 28, at
  least 3), extrapolated to the deadline, with an 80 % prediction interval as the band.
* **Status** (reach): no_data -> stale -> achieved (target met) -> missed (deadline passed)
  -> on_track (forecast meets target) / at_risk (only the band's optimistic edge meets it)
  / off_track. Without a forecast, pace decides: >= 1 on_track, >= 0.8 at_risk.
  stay_above / stay_below check the KPI on every day since start: a breach today is
  off_track, an earlier breach or a forecast crossing the threshold is at_risk; at the
  deadline the goal is achieved only if it never breached.

Same rows + same goals + same as_of -> the same snapshots (no clock, no randomness).
"""

from __future__ import annotations

import bisect
import calendar
import math
import re
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.metrics import Metric, MetricsDictionary

Objective = Literal["awareness", "reputation", "traffic", "engagement", "conversions", "leads", "events",
                    "customer_service", "recruiting"]
Window = Literal["trailing_28d", "trailing_7d", "calendar_month", "cumulative", "daily"]
Success = Literal["reach", "stay_above", "stay_below"]
Period = Literal["week", "month", "quarter"]
Status = Literal["achieved", "on_track", "at_risk", "off_track", "missed", "no_data", "stale"]
Direction = Literal["increase", "decrease"]

STATUSES: tuple[str, ...] = ("achieved", "on_track", "at_risk", "off_track", "missed", "no_data", "stale")

DEFAULT_FRESHNESS_DAYS = 3     # platform insights lag one to two days
DEFAULT_ACHIEVABLE_FACTOR = 2.0
TREND_POINTS = 28              # trailing daily values the forecast is fitted on
BAND_LEVEL = 0.80              # two-sided prediction interval of the forecast band
AT_RISK_PACE = 0.8             # without a forecast: pace below this is off_track
METHOD_VERSION = "goals-v1"

_WINDOW_DAYS = {"daily": 1, "trailing_7d": 7, "trailing_28d": 28}
_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*%$")
_DURATION = re.compile(
    r"^(\d+(?:\.\d+)?)\s*(seconds|second|secs|sec|s|minutes|minute|mins|min|hours|hour|h)$")
_SECONDS_PER = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
                "min": 60, "mins": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}
# Which metric dimension a scope field filters on.
_SCOPE_DIMENSIONS = {"platforms": "platform", "accounts": "account_id", "campaign": "campaign"}


class GoalsFileError(ValueError):
    """goals.yml is invalid; the message lists every problem as ``file:line: goal 'id': field 'f': ...``."""


# --------------------------------------------------------------------------------------------
# The goals.yml model
# --------------------------------------------------------------------------------------------

class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platforms: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)
    campaign: str | None = None

    def is_empty(self) -> bool:
        return not (self.platforms or self.accounts or self.campaign)

    def describe(self) -> str:
        parts = []
        if self.platforms:
            parts.append("platforms=" + ",".join(self.platforms))
        if self.accounts:
            parts.append("accounts=" + ",".join(self.accounts))
        if self.campaign:
            parts.append(f"campaign={self.campaign}")
        return " ".join(parts) or "all platforms and accounts"


class Target(BaseModel):
    """A parsed target: an absolute number, a relative change (+15 %) or a duration (2 minutes)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["absolute", "relative", "duration"]
    value: float        # absolute value; percent change for relative; seconds for duration
    text: str

    @classmethod
    def parse(cls, raw: Any) -> "Target":
        if isinstance(raw, bool):
            raise ValueError(f"target {raw!r} is not a number, a relative change like '+15%' or a duration")
        if isinstance(raw, (int, float)):
            return cls(kind="absolute", value=float(raw), text=str(raw))
        text = str(raw).strip()
        if match := _RELATIVE.match(text):
            sign = 1.0 if match.group(1) == "+" else -1.0
            return cls(kind="relative", value=sign * float(match.group(2)), text=text)
        if match := _DURATION.match(text.lower()):
            return cls(kind="duration", value=float(match.group(1)) * _SECONDS_PER[match.group(2)], text=text)
        raise ValueError(f"target {text!r} is not a number, a relative change like '+15%' or a duration "
                         f"like '2 minutes'")

    def resolve(self, baseline: float | None, unit: str) -> float | None:
        """The target in the KPI's unit; a relative target needs the baseline."""
        if self.kind == "absolute":
            return self.value
        if self.kind == "duration":
            return self.value / 60.0 if unit == "minutes" else self.value
        if baseline is None:
            return None
        return baseline * (1.0 + self.value / 100.0)


class ObjectiveGroup(BaseModel):
    """An OKR-style objective; its progress rolls up from the goals whose ``parent`` names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    owner: str | None = None


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    objective: Objective
    kpi: str
    scope: Scope = Field(default_factory=Scope)
    window: Window = "trailing_28d"
    baseline: float | Literal["auto"] = "auto"
    target: Target
    start: date
    deadline: date | None = None
    owner: str
    success: Success = "reach"
    recurring: Period | None = None
    parent: str | None = None
    weight: float = Field(default=1.0, gt=0)
    freshness_days: int = Field(default=DEFAULT_FRESHNESS_DAYS, ge=0)
    # Filled by load_goals from the static SMART checks (S, R); evaluation adds A and M.
    smart_warnings: tuple[str, ...] = ()

    @field_validator("target", mode="before")
    @classmethod
    def _parse_target(cls, raw: Any) -> Target:
        return raw if isinstance(raw, Target) else Target.parse(raw)

    @field_validator("baseline", mode="before")
    @classmethod
    def _check_baseline(cls, raw: Any) -> Any:
        if isinstance(raw, bool) or not (raw == "auto" or isinstance(raw, (int, float))):
            raise ValueError(f"baseline must be a number or 'auto', got {raw!r}")
        return raw


class GoalsFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    goals: list[Goal]
    objective_groups: list[ObjectiveGroup] = Field(default_factory=list)
    achievable_factor: float = DEFAULT_ACHIEVABLE_FACTOR


# --------------------------------------------------------------------------------------------
# Loading with file:line errors
# --------------------------------------------------------------------------------------------

def _key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    """1-based line of every mapping value under ``node`` (nested keys joined with '.')."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}"
            lines[name] = value_node.start_mark.line + 1
            lines.update(_key_lines(value_node, name + "."))
    return lines


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def load_goals_file(path: Path, metrics: MetricsDictionary) -> GoalsFile:
    """Parse and validate ``goals.yml``; raise ``GoalsFileError`` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoalsFileError(f"{path}: cannot read goals file: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GoalsFileError(f"{path}: not valid YAML: {exc}") from None

    if not isinstance(data, dict) or not isinstance(data.get("goals"), list):
        raise GoalsFileError(f"{path}:1: the file needs a top-level 'goals:' list")
    unknown = sorted(set(data) - {"defaults", "objective_groups", "goals"})
    if unknown:
        line = _key_lines(root)[unknown[0]] - 1
        raise GoalsFileError(f"{path}:{line}: unknown top-level key(s) {unknown}; "
                             f"expected defaults, objective_groups, goals")

    errors: list[str] = []
    defaults = data.get("defaults") or {}
    default_lines = _key_lines(_child(root, "defaults"))
    allowed_defaults = {"freshness_days", "achievable_factor", "window", "owner"}
    for key in sorted(set(defaults) - allowed_defaults):
        errors.append(f"{path}:{default_lines[key]}: defaults: unknown key {key!r}; "
                      f"allowed: {', '.join(sorted(allowed_defaults))}")

    groups: list[ObjectiveGroup] = []
    for raw, node in zip(data.get("objective_groups") or [], _items(_child(root, "objective_groups"))):
        try:
            groups.append(ObjectiveGroup.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                line = _key_lines(node).get(field, node.start_mark.line + 1)
                errors.append(f"{path}:{line}: objective group {raw.get('id', '?')!r}: field {field!r}: "
                              f"{_clean(err['msg'])}")
    group_ids = [g.id for g in groups]

    known = metrics.by_name()
    goals: list[Goal] = []
    seen: dict[str, int] = {}
    for index, (raw, node) in enumerate(zip(data["goals"], _items(_child(root, "goals"))), start=1):
        lines = _key_lines(node)
        item_line = node.start_mark.line + 1
        if not isinstance(raw, dict):
            errors.append(f"{path}:{item_line}: goal #{index}: must be a mapping of fields")
            continue
        goal_id = raw.get("id", f"#{index}")

        def fail(field: str, message: str) -> None:
            line = lines.get(field, item_line)
            errors.append(f"{path}:{line}: goal {goal_id!r}: field {field!r}: {message}")

        merged = {k: v for k, v in defaults.items() if k in ("freshness_days", "window", "owner")}
        merged.update(raw)
        try:
            goal = Goal.model_validate(merged)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"][:2] if not isinstance(p, int)) or "?"
                fail(field, _clean(err["msg"]))
            continue

        if goal.id in seen:
            fail("id", f"duplicate goal id (first defined on line {seen[goal.id]})")
            continue
        seen[goal.id] = lines.get("id", item_line)

        metric = known.get(goal.kpi)
        if metric is None:
            fail("kpi", f"unknown KPI {goal.kpi!r}; valid KPIs: {', '.join(sorted(known))}")
            continue
        problems = _static_errors(goal, metric, group_ids)
        for field, message in problems:
            fail(field, message)
        if not problems:
            goals.append(goal.model_copy(update={"smart_warnings": tuple(_static_warnings(goal, metric))}))

    if errors:
        raise GoalsFileError("\n".join(errors))
    return GoalsFile(goals=goals, objective_groups=groups,
                     achievable_factor=float(defaults.get("achievable_factor", DEFAULT_ACHIEVABLE_FACTOR)))


def load_goals(path: Path, metrics: MetricsDictionary) -> list[Goal]:
    """The validated goals of ``goals.yml`` (see ``load_goals_file`` for groups and defaults)."""
    return load_goals_file(path, metrics).goals


def _static_errors(goal: Goal, metric: Metric, group_ids: list[str]) -> list[tuple[str, str]]:
    """Problems that make a goal impossible to evaluate: (field, message)."""
    problems: list[tuple[str, str]] = []
    for field, dimension in _SCOPE_DIMENSIONS.items():
        if getattr(goal.scope, field) and dimension not in metric.dimensions:
            splits = ", ".join(metric.dimensions) or "nothing"
            problems.append((f"scope.{field}", f"Specific: KPI {metric.name!r} has no {dimension!r} "
                                               f"dimension (it splits by: {splits})"))
    if goal.target.kind == "duration" and metric.unit not in ("minutes", "seconds"):
        problems.append(("target", f"a duration target needs a time KPI (minutes or seconds); "
                                   f"{metric.name!r} is in {metric.unit}"))
    if goal.deadline is None and goal.recurring is None:
        problems.append(("deadline", "Time-bound: a goal needs a deadline or a recurring period"))
    if goal.deadline is not None and goal.deadline <= goal.start:
        problems.append(("deadline", f"Time-bound: deadline {goal.deadline} is not after start {goal.start}"))
    if goal.parent is not None and goal.parent not in group_ids:
        problems.append(("parent", f"unknown objective group {goal.parent!r}; "
                                   f"defined groups: {', '.join(group_ids) or 'none'}"))
    return problems


def _static_warnings(goal: Goal, metric: Metric) -> list[str]:
    warnings = []
    if goal.scope.is_empty():
        warnings.append("Specific: no scope; name platforms, accounts or a campaign "
                        "(the goal covers every platform and account)")
    if goal.objective not in metric.objectives:
        fits = ", ".join(metric.objectives) or "no objective"
        warnings.append(f"Relevant: KPI {metric.name!r} does not fit objective {goal.objective!r} "
                        f"(it fits: {fits})")
    return warnings


def smart_check(goal: Goal, metric: Metric) -> dict[str, str]:
    """One line per SMART letter for a loaded goal (evaluation adds data-driven A and M findings)."""
    warnings = {w.split(":", 1)[0]: w for w in goal.smart_warnings}
    when = f"deadline {goal.deadline}" if goal.deadline else f"every {goal.recurring}"
    return {
        "S": warnings.get("Specific", f"Specific: {metric.name} for {goal.scope.describe()}"),
        "M": f"Measurable: {metric.name} is read from marts.{metric.table} ({metric.aggregation})",
        "A": "Achievable: judged against the best historical rate at evaluation",
        "R": warnings.get("Relevant", f"Relevant: {metric.name} fits objective {goal.objective}"),
        "T": f"Time-bound: start {goal.start}, {when}",
    }


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

class GoalSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    goal_id: str
    as_of: date
    kpi: str
    title: str
    objective: str
    parent: str | None
    weight: float
    success: str
    kpi_window: str
    scope: str
    period_start: date
    deadline: date
    data_as_of: date | None
    current: float | None
    baseline: float | None
    target: float | None
    direction: Direction
    progress_pct: float | None
    time_elapsed_pct: float
    pace_ratio: float | None
    expected_today: float | None
    projected_at_deadline: float | None
    projected_low: float | None
    projected_high: float | None
    status: Status
    smart_warnings: list[str]
    method: str


@dataclass(frozen=True)
class _Rows:
    """Scope-filtered mart rows sorted by day: (dimension key, day, value[, denominator])."""

    keys: list[tuple]
    days: list[date]
    values: list[tuple]

    def between(self, lo: date, hi: date) -> range:
        return range(bisect.bisect_left(self.days, lo), bisect.bisect_right(self.days, hi))


def _fetch(con: Any, metric: Metric, goal: Goal, until: date) -> _Rows | None:
    """Rows of ``marts.<table>`` in the goal's scope up to ``until``; None when the table is missing.

    Identifiers come only from the metrics dictionary (checked as plain lowercase identifiers
    when it was loaded); scope values and dates are bound parameters.
    """
    dims = [f'"{d}"' for d in metric.dimensions]
    values = [metric.numerator, metric.denominator] if metric.aggregation == "ratio" else [metric.column]
    day = f'cast("{metric.time_column}" as date)'
    # a row without the KPI's value is no data for it (platforms omit metrics: Instagram has followers only on the
    # days a pull read them), so it must not count as a data day for the baseline or freshness either
    where, params = [f"{day} <= ?", *(f'"{v}" is not null' for v in values)], [until]
    if goal.scope.platforms:
        where.append(f'"platform" in ({", ".join("?" for _ in goal.scope.platforms)})')
        params += goal.scope.platforms
    if goal.scope.accounts:
        where.append(f'"account_id" in ({", ".join("?" for _ in goal.scope.accounts)})')
        params += goal.scope.accounts
    if goal.scope.campaign:
        where.append('"campaign" = ?')
        params.append(goal.scope.campaign)
    select = ", ".join([*dims, f"{day} as goal_day", *(f'cast("{v}" as double)' for v in values)])
    order = ", ".join(["goal_day", *dims])
    sql = f'select {select} from "marts"."{metric.table}" where {" and ".join(where)} order by {order}'
    exists = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                         "and table_name = ?", [metric.table]).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(sql, params).fetchall()
    n = len(metric.dimensions)
    return _Rows(keys=[tuple(r[:n]) for r in rows], days=[r[n] for r in rows],
                 values=[tuple(r[n + 1:]) for r in rows])


def _complete_through(metric: Metric, rows: _Rows, start: date, upto: int) -> date | None:
    """The newest of the first ``upto`` row days on which every platform of the scope has data.

    Platforms count once they reported on or after ``start``; a platform whose source stopped
    landing pins the goal to its last day (partial-data policy: stale, never undercounted).
    """
    if not upto:
        return None
    if "platform" not in metric.dimensions:
        return rows.days[upto - 1]
    position = metric.dimensions.index("platform")
    newest: dict[str, date] = {}
    for i in range(upto):
        if rows.days[i] >= start:
            newest[rows.keys[i][position]] = rows.days[i]
    if not newest:
        return rows.days[upto - 1]
    return min(newest.values())


def _rollup(metric: Metric, rows: _Rows, lo: date, hi: date) -> float | None:
    """The KPI over the days [lo, hi] (see the module docstring for each aggregation)."""
    idx = rows.between(lo, hi)
    agg = metric.aggregation
    if agg == "ratio":
        pairs = [rows.values[i] for i in idx if None not in rows.values[i][:2]]
        denominator = sum(p[1] for p in pairs)
        return sum(p[0] for p in pairs) / denominator * metric.scale if pairs and denominator else None
    present = [i for i in idx if rows.values[i][0] is not None]
    if not present:
        return None
    if agg == "sum":
        return float(sum(rows.values[i][0] for i in present))
    if agg == "mean":
        return statistics.fmean(rows.values[i][0] for i in present)
    if agg == "median":
        return float(statistics.median(rows.values[i][0] for i in present))
    first: dict[tuple, float] = {}
    last: dict[tuple, float] = {}
    for i in present:                       # rows are in day order: the first seen is the earliest
        first.setdefault(rows.keys[i], rows.values[i][0])
        last[rows.keys[i]] = rows.values[i][0]
    if agg == "last":
        return float(sum(last.values()))
    begin = sum(first.values())             # growth
    return (sum(last.values()) - begin) / begin * 100.0 if begin else None


def _window(window: str, day: date, start: date) -> tuple[date, date]:
    if window == "cumulative":
        return start, day
    if window == "calendar_month":
        return day.replace(day=1), day
    return day - timedelta(days=_WINDOW_DAYS[window] - 1), day


def _period(goal: Goal, as_of: date) -> tuple[date, date]:
    """[start, deadline] of the evaluation: the goal's, or the recurring period containing as_of."""
    if goal.recurring is None:
        assert goal.deadline is not None
        return goal.start, goal.deadline
    day = max(as_of, goal.start)
    if goal.deadline is not None:          # a recurring goal's deadline ends the recurrence
        day = min(day, goal.deadline)
    if goal.recurring == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    if goal.recurring == "month":
        first = day.replace(day=1)
        return first, day.replace(day=calendar.monthrange(day.year, day.month)[1])
    quarter_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, quarter_month, 1)
    end_month = quarter_month + 2
    return first, date(day.year, end_month, calendar.monthrange(day.year, end_month)[1])


def _accumulates(goal: Goal, metric: Metric) -> bool:
    """A sum whose window starts at the goal/period start grows from 0, not from the baseline."""
    if metric.aggregation != "sum":
        return False
    return goal.window == "cumulative" or (goal.window == "calendar_month" and goal.recurring == "month")


def _never_negative(metric: Metric) -> bool:
    """Counts, times, money and ratios of counts are >= 0; growth rates and sentiment scores are not."""
    return metric.aggregation != "growth" and metric.unit in ("count", "minutes", "seconds", "currency", "percent")


@dataclass(frozen=True)
class Forecast:
    projected: float
    low: float
    high: float
    points: int


def forecast_linear(xs: list[float], ys: list[float], at: float,
                    level: float = BAND_LEVEL) -> Forecast | None:
    """OLS line through (xs, ys) evaluated at ``at`` with a two-sided prediction interval.

    Needs at least 3 points. Band = t(1 - (1-level)/2, n-2) * s * sqrt(1 + 1/n + (at - x̄)² / Sxx),
    s² = SSE / (n - 2): the textbook prediction interval for one new observation.
    """
    from scipy import stats

    n = len(xs)
    if n < 3:
        return None
    fit = stats.linregress(xs, ys)
    projected = fit.intercept + fit.slope * at
    mean_x = statistics.fmean(xs)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sse = sum((y - (fit.intercept + fit.slope * x)) ** 2 for x, y in zip(xs, ys))
    s = math.sqrt(sse / (n - 2))
    t_value = float(stats.t.ppf(1 - (1 - level) / 2, n - 2))
    half = t_value * s * math.sqrt(1 + 1 / n + (at - mean_x) ** 2 / sxx)
    projected = float(projected)
    return Forecast(projected=projected, low=projected - half, high=projected + half, points=n)


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value, digits)
    return 0.0 if rounded == 0 else rounded   # no "-0.0" in files


def _best_rate(goal: Goal, metric: Metric, rows: _Rows, until: date,
               direction: str) -> tuple[float, int] | None:
    """Best per-day move of the KPI in the good direction over any 28-day stretch of history.

    Level KPIs: max over d of (v(d) - v(d-k)) / k on the goal's window; sums that accumulate:
    the best k-day average of the daily sum. k = 28 days, or the whole history when shorter.
    Returns (rate, k) or None with fewer than 2 days of history.
    """
    first_day = rows.days[0]
    span = (until - first_day).days
    if span < 1:
        return None
    k = min(28, span)
    sign = 1.0 if direction == "increase" else -1.0
    best: float | None = None
    day = first_day + timedelta(days=k)
    while day <= until:
        if _accumulates(goal, metric):
            total = _rollup(metric, rows, day - timedelta(days=k - 1), day)
            rate = None if total is None else total / k
        else:
            now = _rollup(metric, rows, *_window(goal.window, day, goal.start))
            then = _rollup(metric, rows, *_window(goal.window, day - timedelta(days=k), goal.start))
            rate = None if now is None or then is None else sign * (now - then) / k
        if rate is not None and (best is None or rate > best):
            best = rate
        day += timedelta(days=1)
    return None if best is None else (best, k)


def evaluate_goal(con: Any, goal: Goal, metric: Metric, as_of: date, *,
                  achievable_factor: float = DEFAULT_ACHIEVABLE_FACTOR) -> GoalSnapshot:
    """Evaluate one goal as of ``as_of`` (the method is in the module docstring and docs/GOALS.md)."""
    start, deadline = _period(goal, as_of)
    warnings = list(goal.smart_warnings)
    rows = _fetch(con, metric, goal, as_of)
    stay = goal.success != "reach"
    accumulates = _accumulates(goal, metric)
    total_days = (deadline - start).days + 1
    method = (f"{METHOD_VERSION}: {goal.success}; {metric.aggregation} of marts.{metric.table} over "
              f"{goal.window}; path {'0' if accumulates else 'baseline'} -> target; "
              f"OLS trend on <= {TREND_POINTS} daily values, {int(BAND_LEVEL * 100)}% band; "
              f"stale after {goal.freshness_days}d")

    def snapshot(status: str, **values: Any) -> GoalSnapshot:
        fields = {name: None for name in ("data_as_of", "current", "baseline", "target", "progress_pct",
                                          "pace_ratio", "expected_today", "projected_at_deadline",
                                          "projected_low", "projected_high")}
        fields.update(values)
        direction = fields.pop("direction", metric.direction)
        elapsed = fields.pop("time_elapsed_pct", None)
        if elapsed is None:
            elapsed = 100.0 * min(max((as_of - start).days + 1, 0), total_days) / total_days
        return GoalSnapshot(
            goal_id=goal.id, as_of=as_of, kpi=goal.kpi, title=goal.title, objective=goal.objective,
            parent=goal.parent, weight=goal.weight, success=goal.success, kpi_window=goal.window,
            scope=goal.scope.describe(), period_start=start, deadline=deadline, direction=direction,
            time_elapsed_pct=_round(elapsed), status=status, smart_warnings=warnings, method=method,
            **{k: (_round(v) if isinstance(v, float) else v) for k, v in fields.items()},
        )

    if rows is None or not rows.days:
        where = f"marts.{metric.table} does not exist" if rows is None else \
            f"no rows in marts.{metric.table} for {goal.scope.describe()} up to {as_of}"
        warnings.append(f"Measurable: no data for KPI {metric.name!r}: {where}")
        return snapshot("no_data", target=goal.target.resolve(
            goal.baseline if goal.baseline != "auto" else None, metric.unit))

    # The measured day: newest data, never past as_of or the deadline.
    horizon = min(as_of, deadline)
    upto = bisect.bisect_right(rows.days, horizon)
    latest = _complete_through(metric, rows, start, upto)
    measured = latest

    # Baseline: the KPI on the day before start (the first data day when there is nothing before).
    if goal.baseline != "auto":
        baseline: float | None = float(goal.baseline)
    elif goal.window == "cumulative" and metric.aggregation == "sum":
        baseline = 0.0
    else:
        before = start - timedelta(days=1)
        if goal.window == "cumulative":
            lo, hi = rows.days[0], before
        else:
            lo, hi = _window(goal.window, before, start)
        baseline = _rollup(metric, rows, lo, hi) if rows.days[0] <= before else None
        if baseline is None:
            first_day = rows.days[bisect.bisect_left(rows.days, start)] if rows.days[-1] >= start else None
            if first_day is not None and first_day <= horizon:
                baseline = _rollup(metric, rows, *_window(goal.window, first_day, start))
    target = goal.target.resolve(baseline, metric.unit)
    path_start = 0.0 if accumulates else baseline

    current = _rollup(metric, rows, *_window(goal.window, measured, start)) if measured else None
    if current is None or baseline is None or target is None or path_start is None:
        what = "the current value" if current is None else "the baseline"
        warnings.append(f"Measurable: no data for KPI {metric.name!r} to compute {what} "
                        f"for {goal.scope.describe()} up to {as_of}")
        return snapshot("no_data", data_as_of=latest, current=current, baseline=baseline, target=target)

    if stay:
        direction = "increase" if goal.success == "stay_above" else "decrease"
    elif target != path_start:
        direction = "increase" if target > path_start else "decrease"
    else:
        direction = metric.direction

    def meets(value: float) -> bool:
        return value >= target if direction == "increase" else value <= target

    # Path: where a straight line from path_start to target stands on the measured day.
    elapsed = min(max((measured - start).days + 1, 0), total_days) / total_days
    expected = path_start + (target - path_start) * elapsed
    progress = (current - path_start) / (target - path_start) if target != path_start else \
        (1.0 if meets(current) else 0.0)
    pace = progress / elapsed if elapsed > 0 else None

    # Forecast from the trailing daily values (sums that accumulate only count from start).
    first_trend_day = measured - timedelta(days=TREND_POINTS - 1)
    if accumulates:
        first_trend_day = max(first_trend_day, start)
    xs: list[float] = []
    ys: list[float] = []
    day = first_trend_day
    while day <= measured:
        value = _rollup(metric, rows, *_window(goal.window, day, start))
        if value is not None:
            xs.append(float((day - start).days))
            ys.append(value)
        day += timedelta(days=1)
    fc = forecast_linear(xs, ys, float((deadline - start).days)) if measured < deadline else None
    if measured >= deadline:
        fc = Forecast(projected=current, low=current, high=current, points=1)
    elif fc is not None and _never_negative(metric):
        # A straight line can run below zero (a falling wait time); the KPI cannot.
        fc = Forecast(projected=max(fc.projected, 0.0), low=max(fc.low, 0.0), high=max(fc.high, 0.0),
                      points=fc.points)

    # Achievable: the plan's needed rate vs the best historical rate (reach goals only).
    if not stay and target != path_start:
        needed = abs(target - path_start) / total_days
        best = _best_rate(goal, metric, rows, horizon, direction)
        if best is not None:
            best_rate, k = best
            sign = "+" if direction == "increase" else "-"
            if best_rate <= 0 or needed > achievable_factor * best_rate:
                ratio = f"{needed / best_rate:.1f}x" if best_rate > 0 else "more than"
                warnings.append(f"Achievable: needs {sign}{needed:.4g}/day, {ratio} the best {k}-day rate "
                                f"in history ({sign}{max(best_rate, 0.0):.4g}/day)")

    breaches = 0
    if stay:
        # Hold the threshold: check the window's value on every day since start.
        first_check = max(start, rows.days[0])
        day = first_check
        while day <= measured:
            value = _rollup(metric, rows, *_window(goal.window, day, start))
            if value is not None and not meets(value):
                breaches += 1
            day += timedelta(days=1)
        checked = (measured - first_check).days + 1
        progress = (checked - breaches) / checked if checked > 0 else None
        pace, expected = None, target

    stale_days = (horizon - latest).days
    if stale_days > goal.freshness_days:
        warnings.append(f"Measurable: newest data is from {latest}, {stale_days} days before {horizon} "
                        f"(freshness limit {goal.freshness_days} days)")
        status = "stale"
    elif stay:
        if as_of >= deadline:
            status = "achieved" if breaches == 0 else "missed"
        elif not meets(current):
            status = "off_track"
        elif breaches or (fc is not None and not meets(fc.projected)):
            status = "at_risk"
        else:
            status = "on_track"
    elif meets(current):
        status = "achieved"
    elif as_of >= deadline:
        status = "missed"
    elif fc is not None:
        optimistic = fc.high if direction == "increase" else fc.low
        status = "on_track" if meets(fc.projected) else "at_risk" if meets(optimistic) else "off_track"
    elif pace is not None:
        status = "on_track" if pace >= 1 else "at_risk" if pace >= AT_RISK_PACE else "off_track"
    else:
        status = "off_track"

    return snapshot(
        status, data_as_of=latest, current=current, baseline=baseline, target=target, direction=direction,
        progress_pct=None if progress is None else 100.0 * progress, time_elapsed_pct=100.0 * elapsed,
        pace_ratio=pace, expected_today=expected,
        projected_at_deadline=fc.projected if fc else None,
        projected_low=fc.low if fc else None, projected_high=fc.high if fc else None,
    )


def evaluate_goals(con: Any, goals: list[Goal], metrics: MetricsDictionary, as_of: date, *,
                   achievable_factor: float = DEFAULT_ACHIEVABLE_FACTOR) -> list[GoalSnapshot]:
    """One snapshot per goal, in goal-id order, reading ``marts`` through the DuckDB connection ``con``."""
    by_name = metrics.by_name()
    return [evaluate_goal(con, goal, by_name[goal.kpi], as_of, achievable_factor=achievable_factor)
            for goal in sorted(goals, key=lambda g: g.id)]


# --------------------------------------------------------------------------------------------
# OKR roll-up
# --------------------------------------------------------------------------------------------

# Worst first: an objective is as healthy as its weakest key result.
_SEVERITY = ("missed", "off_track", "at_risk", "stale", "no_data", "on_track", "achieved")


def rollup_objectives(groups: list[ObjectiveGroup], snapshots: list[GoalSnapshot]) -> list[dict[str, Any]]:
    """Objective progress = Σ weight·clamp(progress, 0, 100) / Σ weight over key results with a progress.

    Key results without a progress (no_data, stale) are left out of the average and listed;
    the objective's status is the worst status among its key results.
    """
    result = []
    for group in groups:
        members = [s for s in snapshots if s.parent == group.id]
        scored = [s for s in members if s.progress_pct is not None and s.status not in ("no_data", "stale")]
        weight = sum(s.weight for s in scored)
        progress = (sum(s.weight * min(max(s.progress_pct, 0.0), 100.0) for s in scored) / weight
                    if weight else None)
        statuses = [s.status for s in members]
        result.append({
            "id": group.id, "title": group.title, "owner": group.owner,
            "progress_pct": _round(progress),
            "status": min(statuses, key=_SEVERITY.index) if statuses else "no_data",
            "key_results": [{"goal_id": s.goal_id, "weight": s.weight, "status": s.status} for s in members],
            "unscored": [s.goal_id for s in members if s not in scored],
        })
    return result
