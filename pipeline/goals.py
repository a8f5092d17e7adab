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
* **Recurring** goals (week | month | quarter) are evaluated on the period containing as_of, with
  that period's rows only: windows are clipped to the period start, and a period without its own
  rows yet is ``no_data`` (never the last period's value). ``evaluate_periods`` gives each period's
  result (achieved | missed | in_progress | no_data) for ``marts.goal_period_results``.
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
  least 3), extrapolated to the deadline, with an 80 % prediction interval as the band, kept
  inside the KPI's domain (``_domain``: percentages 0..100, counts/times/money >= 0).
* **Status** (reach): not_started (as_of before start: no progress, pace, forecast or event)
  -> no_data -> stale -> achieved (target met on any day since start; sticks, ``achieved_on``
  is the first such day) -> missed (deadline passed)
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
Status = Literal["achieved", "on_track", "at_risk", "off_track", "missed", "no_data", "stale", "not_started"]
Direction = Literal["increase", "decrease"]

STATUSES: tuple[str, ...] = ("achieved", "on_track", "at_risk", "off_track", "missed", "no_data", "stale",
                             "not_started")

DEFAULT_FRESHNESS_DAYS = 3     # platform insights lag one to two days
DEFAULT_ACHIEVABLE_FACTOR = 2.0
TREND_POINTS = 28              # trailing daily values the forecast is fitted on
BAND_LEVEL = 0.80              # two-sided prediction interval of the forecast band
BASELINE_TOLERANCE = 0.2       # a stated baseline further than 20 % from the measured one is warned about
MIN_RATE_DAYS = 7              # history span the Achievable check needs (a 1-day rate judges nothing)
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
    def parse(cls, raw: Any) -> Target:
        if isinstance(raw, bool):       # a ValueError, not a TypeError: pydantic reports it as the field's error
            raise ValueError(f"target {raw!r} is not a number, a relative change like '+15%' or a duration")  # noqa: TRY004
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


class _GoalsLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):   # libyaml when present: 1,000 goals parse fast
    """SafeLoader that keeps dates as text: pydantic parses them, so ``2026-13-45`` is a field error with a line."""


_GoalsLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))

SMART_LETTERS = ("S", "M", "A", "R", "T")
_LETTER_NAMES = {"S": "Specific", "M": "Measurable", "A": "Achievable", "R": "Relevant", "T": "Time-bound"}
# The SMART letter a field's error belongs to (a message starting with "Achievable:" etc. overrides it).
_FIELD_LETTERS = {"id": "S", "title": "S", "scope": "S", "owner": "S",
                  "kpi": "M", "target": "M", "baseline": "M", "window": "M", "success": "M", "freshness_days": "M",
                  "objective": "R", "parent": "R", "weight": "R",
                  "start": "T", "deadline": "T", "recurring": "T"}
# Placeholders for required fields that failed validation, so the other fields can still be checked in the
# same pass (checks on a placeholder field are skipped).
_PLACEHOLDERS = {"id": "placeholder", "title": "", "objective": "awareness", "kpi": "", "target": 0,
                 "start": "2000-01-01", "owner": ""}
# KPIs whose values may be negative (and percentages above 100): net changes and returns.
_SIGNED_KPIS = frozenset({"net_new_followers"})      # can be negative: no range


@dataclass(frozen=True)
class GoalProblem:
    """One error of one goal: ``file:line: goal 'id': field 'f': message``, under a SMART letter."""

    path: Path
    line: int
    goal_id: str
    field: str
    letter: str
    message: str

    def render(self) -> str:
        return f"{self.path}:{self.line}: goal {self.goal_id!r}: field {self.field!r}: {self.message}"


@dataclass
class GoalCheck:
    """The check of one goal: its errors, and the loaded goal when it has none."""

    goal_id: str
    title: str
    line: int
    problems: list[GoalProblem]
    goal: Goal | None = None
    metric: Metric | None = None

    def letters(self) -> dict[str, tuple[str, str]]:
        """SMART letter -> (pass | warn | fail, why); a failing letter lists its errors with file:line."""
        notes = smart_check(self.goal, self.metric) if self.goal is not None and self.metric is not None else {}
        warned = {w.split(":", 1)[0] for w in (self.goal.smart_warnings if self.goal is not None else ())}
        result: dict[str, tuple[str, str]] = {}
        for letter in SMART_LETTERS:
            errors = [p for p in self.problems if p.letter == letter]
            if errors:
                result[letter] = ("fail", "; ".join(f"{p.path}:{p.line}: field {p.field!r}: {p.message}"
                                                    for p in errors))
            elif _LETTER_NAMES[letter] in warned:
                result[letter] = ("warn", notes[letter])
            else:
                result[letter] = ("pass", notes.get(letter, f"{_LETTER_NAMES[letter]}: no problem found"))
        return result


@dataclass
class GoalsCheck:
    """Every problem of a goals file, found in one pass (``check_goals_file``)."""

    path: Path
    file_errors: list[str]
    goals: list[GoalCheck]
    objective_groups: list[ObjectiveGroup]
    achievable_factor: float

    @property
    def errors(self) -> list[str]:
        return self.file_errors + [p.render() for g in self.goals for p in g.problems]

    @property
    def warnings(self) -> list[str]:
        return [w for g in self.goals if g.goal is not None for w in g.goal.smart_warnings]

    def goals_file(self) -> GoalsFile:
        return GoalsFile(goals=[g.goal for g in self.goals if g.goal is not None],
                         objective_groups=self.objective_groups, achievable_factor=self.achievable_factor)


def _letter_of(field: str, message: str) -> str:
    prefix = message.split(":", 1)[0]
    for letter, name in _LETTER_NAMES.items():
        if prefix == name:
            return letter
    return _FIELD_LETTERS.get(field.split(".", 1)[0], "S")


def _pydantic_message(err: Any) -> str:
    if str(err.get("type", "")).startswith("date") and isinstance(err.get("input"), str):
        reason = (err.get("ctx") or {}).get("error") or _clean(err["msg"])
        return f"{err['input']!r} is not a valid date ({reason}); write it as YYYY-MM-DD"
    return _clean(err["msg"])


def load_goals_file(path: Path, metrics: MetricsDictionary, *,
                    sources: list[str] | None = None) -> GoalsFile:
    """Parse and validate ``goals.yml``; raise ``GoalsFileError`` listing every problem.

    ``sources``: the platforms of sources.yml; when given, scope platforms must be among them.
    """
    checked = check_goals_file(path, metrics, sources=sources)
    if checked.errors:
        raise GoalsFileError("\n".join(checked.errors))
    return checked.goals_file()


def check_goals_file(path: Path, metrics: MetricsDictionary, *,
                     sources: list[str] | None = None) -> GoalsCheck:
    """Every problem of every goal in one pass; raise ``GoalsFileError`` only when the file cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoalsFileError(f"{path}: cannot read goals file: {exc.strerror}") from None
    try:
        # parse once: the node tree gives the line numbers, and the data is constructed from it
        loader = _GoalsLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
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
    if not isinstance(defaults, dict):
        errors.append(f"{path}:{_key_lines(root).get('defaults', 1)}: defaults: must be a mapping of keys")
        defaults = {}
    allowed_defaults = {"freshness_days", "achievable_factor", "window", "owner"}
    for key in sorted(set(defaults) - allowed_defaults):
        errors.append(f"{path}:{default_lines[key]}: defaults: unknown key {key!r}; "
                      f"allowed: {', '.join(sorted(allowed_defaults))}")
    achievable_factor = DEFAULT_ACHIEVABLE_FACTOR
    raw_factor = defaults.get("achievable_factor", DEFAULT_ACHIEVABLE_FACTOR)
    if isinstance(raw_factor, (int, float)) and not isinstance(raw_factor, bool) and raw_factor > 0:
        achievable_factor = float(raw_factor)
    else:
        errors.append(f"{path}:{default_lines.get('achievable_factor', 1)}: defaults: achievable_factor "
                      f"{raw_factor!r} must be a positive number, e.g. 2.0")

    groups: list[ObjectiveGroup] = []
    for raw, node in zip(data.get("objective_groups") or [], _items(_child(root, "objective_groups"))):
        try:
            groups.append(ObjectiveGroup.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                line = _key_lines(node).get(field, node.start_mark.line + 1)
                name = raw.get("id", "?") if isinstance(raw, dict) else "?"
                errors.append(f"{path}:{line}: objective group {name!r}: field {field!r}: "
                              f"{_pydantic_message(err)}")
    group_ids = [g.id for g in groups]

    known = metrics.by_name()
    checks: list[GoalCheck] = []
    seen: dict[str, int] = {}
    for index, (raw, node) in enumerate(zip(data["goals"], _items(_child(root, "goals"))), start=1):
        if not isinstance(raw, dict):
            errors.append(f"{path}:{node.start_mark.line + 1}: goal #{index}: must be a mapping of fields")
            continue
        checks.append(_check_goal(path, raw, node, index, defaults, known, group_ids, seen, sources))
    return GoalsCheck(path=path, file_errors=errors, goals=checks, objective_groups=groups,
                      achievable_factor=achievable_factor)


def _check_goal(path: Path, raw: dict, node: yaml.Node, index: int, defaults: dict, known: dict[str, Metric],
                group_ids: list[str], seen: dict[str, int], sources: list[str] | None) -> GoalCheck:
    """All problems of one goal: validation, unknown KPI, units and ranges, dates, scope, parent."""
    lines = _key_lines(node)
    item_line = node.start_mark.line + 1
    goal_id = raw.get("id", f"#{index}")
    problems: list[GoalProblem] = []

    def fail(field: str, message: str) -> None:
        problems.append(GoalProblem(path, lines.get(field, item_line), str(goal_id), field,
                                    _letter_of(field, message), message))

    merged = {k: v for k, v in defaults.items() if k in ("freshness_days", "window", "owner")}
    merged.update(raw)
    kpi = merged.get("kpi")
    metric = known.get(kpi) if isinstance(kpi, str) else None

    # A duration baseline ("10 minutes") is converted to the KPI's unit, like a duration target.
    baseline = merged.get("baseline")
    if isinstance(baseline, str) and _DURATION.match(baseline.strip().lower()):
        if metric is not None and metric.unit in ("minutes", "seconds"):
            merged["baseline"] = Target.parse(baseline).resolve(None, metric.unit)
        else:
            merged.pop("baseline")
            if metric is not None:
                fail("baseline", f"a duration baseline needs a time KPI (minutes or seconds); "
                                 f"{metric.name!r} is in {metric.unit}")

    failed: set[str] = set()
    goal: Goal | None = None
    try:
        goal = Goal.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"][:2] if not isinstance(p, int)) or "?"
            failed.add(str(err["loc"][0]) if err["loc"] else "?")
            fail(field, _pydantic_message(err))

    raw_id = raw.get("id")
    if isinstance(raw_id, str) and "id" not in failed:
        if raw_id in seen:
            fail("id", f"duplicate goal id (first defined on line {seen[raw_id]})")
        else:
            seen[raw_id] = lines.get("id", item_line)

    if isinstance(kpi, str) and metric is None and "kpi" not in failed:
        fail("kpi", f"unknown KPI {kpi!r}; valid KPIs: {', '.join(sorted(known))}")

    # With failed fields, check the rest against placeholders (checks on a placeholder are skipped).
    partial = goal
    if partial is None and metric is not None:
        rest = {k: v for k, v in merged.items() if k not in failed and k in Goal.model_fields}
        for key, value in _PLACEHOLDERS.items():
            rest.setdefault(key, value)
        try:
            partial = Goal.model_validate(rest)
        except ValidationError:
            partial = None
        failed |= {k for k in _PLACEHOLDERS if k not in merged}
    if partial is not None and metric is not None:
        for field, message in _static_errors(partial, metric, group_ids, sources=sources, skip=failed):
            fail(field, message)

    problems.sort(key=lambda p: p.line)
    title = raw.get("title") if isinstance(raw.get("title"), str) else ""
    if problems or goal is None or metric is None:
        return GoalCheck(str(goal_id), title, item_line, problems, metric=metric)
    loaded = goal.model_copy(update={"smart_warnings": tuple(_static_warnings(goal, metric))})
    return GoalCheck(str(goal_id), title, item_line, problems, goal=loaded, metric=metric)


def load_goals(path: Path, metrics: MetricsDictionary) -> list[Goal]:
    """The validated goals of ``goals.yml`` (see ``load_goals_file`` for groups and defaults)."""
    return load_goals_file(path, metrics).goals


def _value_range(metric: Metric) -> tuple[float | None, float | None, str]:
    """The values a KPI can take: (low, high, how to say it); None = unbounded."""
    if metric.name in _SIGNED_KPIS or metric.unit in ("ratio", "score"):
        return None, None, ""
    if metric.name == "roi":               # (revenue - spend) / spend: a loss cannot exceed the spend
        return -100.0, None, "-100 or more (a loss cannot exceed the spend)"
    if metric.unit == "percent":
        if metric.aggregation == "growth":
            return -100.0, None, "-100 or more (a fall cannot exceed 100 %)"
        return 0.0, 100.0, "0..100 (percentages are written 0..100: 80 % is 80)"
    return 0.0, None, f"0 or more ({metric.unit} cannot be negative)"


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def _range_errors(goal: Goal, metric: Metric, skip: set[str] | frozenset[str]) -> list[tuple[str, str]]:
    """Units and ranges of baseline and target against the KPI's unit (sql/metrics.yml)."""
    problems: list[tuple[str, str]] = []
    low, high, domain = _value_range(metric)

    def outside(value: float) -> bool:
        return (low is not None and value < low) or (high is not None and value > high)

    baseline = goal.baseline if isinstance(goal.baseline, (int, float)) and "baseline" not in skip else None
    if baseline is not None and outside(baseline):
        problems.append(("baseline", (f"Measurable: baseline {_fmt(baseline)} is outside the range of "
                                     f"{metric.unit} KPI {metric.name!r}: {domain}")))
        baseline = None
    if "target" in skip:
        return problems
    target = goal.target
    if target.kind == "duration" and metric.unit not in ("minutes", "seconds"):
        return problems                  # reported by _static_errors
    if target.kind == "relative":
        if "baseline" not in skip and goal.baseline == 0:
            return problems + [("target", (f"Measurable: a relative target ({target.text}) of a zero baseline "
                                          f"stays 0; set an absolute target (a number) instead"))]
        if baseline is None:
            if low == 0.0 and target.value < -100:
                problems.append(("target", (f"Achievable: {target.text} would take {metric.unit} KPI "
                                           f"{metric.name!r} below 0; a fall is at most -100%")))
            return problems
        resolved = target.resolve(baseline, metric.unit)
        described = f"{target.text} of baseline {_fmt(baseline)} is {_fmt(resolved)}, which"
    else:
        resolved = target.resolve(None, metric.unit)
        described = f"{target.text}"
    if resolved is not None and outside(resolved):
        problems.append(("target", (f"Achievable: target {described} is outside the range of {metric.unit} "
                                   f"KPI {metric.name!r}: {domain}")))
    return problems


def _static_errors(goal: Goal, metric: Metric, group_ids: list[str], *, sources: list[str] | None = None,
                   skip: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """Problems that make a goal impossible to evaluate: (field, message); fields in ``skip`` are not checked."""
    problems: list[tuple[str, str]] = []
    if "scope" not in skip:
        for field, dimension in _SCOPE_DIMENSIONS.items():
            if getattr(goal.scope, field) and dimension not in metric.dimensions:
                splits = ", ".join(metric.dimensions) or "nothing"
                problems.append((f"scope.{field}", (f"Specific: KPI {metric.name!r} has no {dimension!r} "
                                                   f"dimension (it splits by: {splits})")))
        if sources is not None:
            missing = [p for p in goal.scope.platforms if p not in sources]
            if missing:
                problems.append(("scope.platforms", (f"Specific: {', '.join(map(repr, missing))} is not a source "
                                                    f"in sources.yml (sources: {', '.join(sources)}); "
                                                    f"fix the name or add the source")))
    if "target" not in skip and goal.target.kind == "duration" and metric.unit not in ("minutes", "seconds"):
        problems.append(("target", (f"a duration target needs a time KPI (minutes or seconds); "
                                   f"{metric.name!r} is in {metric.unit}")))
    problems += _range_errors(goal, metric, skip)
    if not skip & {"deadline", "recurring"} and goal.deadline is None and goal.recurring is None:
        problems.append(("deadline", "Time-bound: a goal needs a deadline or a recurring period"))
    if (not skip & {"deadline", "start"} and goal.deadline is not None and goal.deadline <= goal.start):
        problems.append(("deadline", f"Time-bound: deadline {goal.deadline} is not after start {goal.start}"))
    if "parent" not in skip and goal.parent is not None and goal.parent not in group_ids:
        problems.append(("parent", (f"unknown objective group {goal.parent!r}; "
                                   f"defined groups: {', '.join(group_ids) or 'none'}")))
    return problems


def _static_warnings(goal: Goal, metric: Metric) -> list[str]:
    warnings = []
    if goal.scope.is_empty():
        warnings.append("Specific: no scope; name platforms, accounts or a campaign "
                        "(the goal covers every platform and account)")
    _low, high, _ = _value_range(metric)
    if (metric.unit == "percent" and high == 100.0 and goal.target.kind == "absolute"
            and 0 < goal.target.value < 1):
        warnings.append(f"Measurable: target {goal.target.text} of percent KPI {metric.name!r} reads as "
                        f"{goal.target.text} %; percentages are written 0..100 "
                        f"({_fmt(goal.target.value * 100)} % is {_fmt(goal.target.value * 100)})")
    if goal.success == "reach" and isinstance(goal.baseline, (int, float)):
        resolved = goal.target.resolve(goal.baseline, metric.unit)
        if resolved is not None and resolved != goal.baseline:
            rising = resolved > goal.baseline
            if rising != (metric.direction == "increase"):
                better = "higher" if metric.direction == "increase" else "lower"
                warnings.append(f"Relevant: target {_fmt(resolved)} is {'above' if rising else 'below'} the "
                                f"baseline {_fmt(goal.baseline)} but {better} is better for {metric.name!r}; "
                                f"check the target's unit and sign")
    if goal.objective not in metric.objectives:
        fits = ", ".join(metric.objectives) or "no objective"
        warnings.append(f"Relevant: KPI {metric.name!r} does not fit objective {goal.objective!r} "
                        f"(it fits: {fits})")
    return warnings


def smart_check(goal: Goal, metric: Metric) -> dict[str, str]:
    """One line per SMART letter for a loaded goal (evaluation adds data-driven A and M findings)."""
    warnings: dict[str, str] = {}
    for warning in goal.smart_warnings:
        key = warning.split(":", 1)[0]
        warnings[key] = f"{warnings[key]}; {warning}" if key in warnings else warning
    when = f"deadline {goal.deadline}" if goal.deadline else f"every {goal.recurring}"
    return {
        "S": warnings.get("Specific", f"Specific: {metric.name} for {goal.scope.describe()}"),
        "M": warnings.get("Measurable",
                          f"Measurable: {metric.name} is read from marts.{metric.table} ({metric.aggregation})"),
        "A": warnings.get("Achievable", "Achievable: judged against the best historical rate at evaluation"),
        "R": warnings.get("Relevant", f"Relevant: {metric.name} fits objective {goal.objective}"),
        "T": warnings.get("Time-bound", f"Time-bound: start {goal.start}, {when}"),
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
    achieved_on: date | None = None    # reach goals: the first day on/after start the KPI met the target
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


RowCache = dict[tuple, "_Rows | None"]


def _fetch(con: Any, metric: Metric, goal: Goal, until: date, cache: RowCache | None = None) -> _Rows | None:
    """Rows of ``marts.<table>`` in the goal's scope up to ``until``; None when the table is missing.

    Identifiers come only from the metrics dictionary (checked as plain lowercase identifiers
    when it was loaded); scope values and dates are bound parameters. Goals that read the same
    columns of the same table over the same scope share one query through ``cache``.
    """
    values_key = (metric.numerator, metric.denominator) if metric.aggregation == "ratio" else (metric.column,)
    scope = (tuple(goal.scope.platforms), tuple(goal.scope.accounts), goal.scope.campaign)
    key = (metric.table, tuple(metric.dimensions), metric.time_column, values_key, scope, until)
    if cache is not None and key in cache:
        return cache[key]
    rows = _query_rows(con, metric, goal, until)
    if cache is not None:
        cache[key] = rows
    return rows


def _query_rows(con: Any, metric: Metric, goal: Goal, until: date) -> _Rows | None:
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


class _Rollups:
    """``_rollup`` over one goal's rows, remembered per window: the daily loops (trend, achieved,
    breaches, best rate) ask for the same windows again and again.

    Sums and ratios of whole numbers (counts: nearly every summed KPI) are read from running totals
    instead: a window is two subtractions, and whole-number float sums below 2**53 are exact, so the
    result is the same number ``_rollup`` gives, not a close one.
    """

    def __init__(self, metric: Metric, rows: _Rows) -> None:
        self.metric, self.rows = metric, rows
        self.seen: dict[tuple[date, date], float | None] = {}
        self.totals: list[list[float]] | None = None
        if metric.aggregation in ("sum", "ratio") and rows.values and all(
                v is not None and float(v).is_integer() and abs(v) < 2 ** 52
                for row in rows.values for v in row):
            self.totals = [[0.0] for _ in rows.values[0]]
            for row in rows.values:
                for column, value in zip(self.totals, row):
                    column.append(column[-1] + value)
            if any(abs(column[-1]) >= 2 ** 52 for column in self.totals):
                self.totals = None

    def __call__(self, lo: date, hi: date) -> float | None:
        key = (lo, hi)
        if key not in self.seen:
            self.seen[key] = self._rollup(lo, hi)
        return self.seen[key]

    def _rollup(self, lo: date, hi: date) -> float | None:
        if self.totals is None:
            return _rollup(self.metric, self.rows, lo, hi)
        idx = self.rows.between(lo, hi)
        if not idx:
            return None
        first, end = idx.start, idx.stop
        numerator = self.totals[0][end] - self.totals[0][first]
        if self.metric.aggregation == "sum":
            return float(numerator)
        denominator = self.totals[1][end] - self.totals[1][first]
        return numerator / denominator * self.metric.scale if denominator else None


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


# KPIs outside their unit's usual domain: ROI = (revenue - spend) / spend * 100 is >= -100 % (revenue
# >= 0) with no upper bound; net new followers (gains - losses) is a count that can be negative.
def _domain(metric: Metric) -> tuple[float | None, float | None]:
    """The values the KPI can take, (low, high), None = unbounded: the same ranges goals.yml is checked against
    (``_value_range``)."""
    low, high, _ = _value_range(metric)
    return low, high


def _bound_forecast(fc: Forecast, metric: Metric) -> Forecast:
    """Keep a straight-line forecast inside the KPI's domain without faking certainty.

    A projection past a bound (a share above 100 %, a wait time below 0) is pinned to the bound
    and the band keeps its half-widths around the pinned value before being clipped: a wait
    time projected at -4 [-6..-2] becomes 0 [0..2], a share at 132.7 [122.9..142.4] becomes
    100 [90.3..100]. A projection inside the domain only has the band's edges clipped.
    """
    lo, hi = _domain(metric)

    def clip(value: float) -> float:
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        return value

    projected = clip(fc.projected)
    low = projected - (fc.projected - fc.low)
    high = projected + (fc.high - fc.projected)
    return Forecast(projected=projected, low=clip(low), high=clip(high), points=fc.points)


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


def _best_rate(goal: Goal, metric: Metric, rows: _Rows, rollup: _Rollups, until: date,
               direction: str) -> tuple[float, int] | None:
    """Best per-day move of the KPI in the good direction over any 28-day stretch of history.

    Level KPIs: max over d of (v(d) - v(d-k)) / k on the goal's window; sums that accumulate:
    the best k-day average of the daily sum. k = 28 days, or the whole history when shorter.
    Returns (rate, k) or None with less than ``MIN_RATE_DAYS`` of history: a rate over a day or two says
    nothing about what the team can reach.
    """
    first_day = rows.days[0]
    span = (until - first_day).days
    if span < MIN_RATE_DAYS:
        return None
    k = min(28, span)
    sign = 1.0 if direction == "increase" else -1.0
    best: float | None = None
    day = first_day + timedelta(days=k)
    while day <= until:
        if _accumulates(goal, metric):
            total = rollup(day - timedelta(days=k - 1), day)
            rate = None if total is None else total / k
        else:
            now = rollup(*_window(goal.window, day, goal.start))
            then = rollup(*_window(goal.window, day - timedelta(days=k), goal.start))
            rate = None if now is None or then is None else sign * (now - then) / k
        if rate is not None and (best is None or rate > best):
            best = rate
        day += timedelta(days=1)
    return None if best is None else (best, k)


def _auto_baseline(goal: Goal, metric: Metric, rows: _Rows, rollup: _Rollups, start: date,
                   horizon: date) -> float | None:
    """The KPI on the day before ``start`` (the first data day when there is nothing before)."""
    if goal.baseline != "auto":
        return float(goal.baseline)
    if goal.window == "cumulative" and metric.aggregation == "sum":
        return 0.0
    baseline = _measured_before_start(goal, rows, rollup, start)
    if baseline is None:
        first_day = rows.days[bisect.bisect_left(rows.days, start)] if rows.days[-1] >= start else None
        if first_day is not None and first_day <= horizon:
            baseline = rollup(*_window(goal.window, first_day, start))
    return baseline


def _measured_before_start(goal: Goal, rows: _Rows, rollup: _Rollups, start: date) -> float | None:
    """The KPI on the day before ``start`` (for cumulative windows: all history before it); None without data."""
    before = start - timedelta(days=1)
    if rows.days[0] > before:
        return None
    lo, hi = (rows.days[0], before) if goal.window == "cumulative" else _window(goal.window, before, start)
    return rollup(lo, hi)


def _baseline_warning(goal: Goal, metric: Metric, rows: _Rows, rollup: _Rollups, start: date) -> str | None:
    """A stated baseline far (> ``BASELINE_TOLERANCE``) from what the data measured the day before start: the
    number, the scope or the KPI is probably not what the team meant."""
    if goal.baseline == "auto" or goal.recurring or _accumulates(goal, metric):
        return None
    measured = _measured_before_start(goal, rows, rollup, start)
    stated = float(goal.baseline)
    if measured is None or abs(stated - measured) <= BASELINE_TOLERANCE * max(abs(measured), 1e-9):
        return None
    off = f"{abs(stated - measured) / abs(measured) * 100:.0f} %" if measured else "a zero measurement"
    return (f"Measurable: stated baseline {_fmt(stated)} is {off} off the {_fmt(round(measured, 4))} measured for "
            f"{goal.scope.describe()} on {start - timedelta(days=1)}; check the baseline, the scope or the KPI")


def _direction(goal: Goal, metric: Metric, target: float | None, path_start: float | None) -> str:
    """Which way is good for this goal: its success rule, else target vs path start, else the KPI's."""
    if goal.success != "reach":
        return "increase" if goal.success == "stay_above" else "decrease"
    if target is not None and path_start is not None and target != path_start:
        return "increase" if target > path_start else "decrease"
    return metric.direction


def _goal_window(goal: Goal, day: date, start: date) -> tuple[date, date]:
    """The KPI window ending on ``day``; a recurring goal's window never reaches back before its period
    start (the period is judged only on its own rows: last month's leads are not this month's)."""
    lo, hi = _window(goal.window, day, start)
    return (max(lo, start), hi) if goal.recurring else (lo, hi)


def evaluate_goal(con: Any, goal: Goal, metric: Metric, as_of: date, *,
                  achievable_factor: float = DEFAULT_ACHIEVABLE_FACTOR,
                  cache: RowCache | None = None) -> GoalSnapshot:
    """Evaluate one goal as of ``as_of`` (the method is in the module docstring and docs/GOALS.md)."""
    start, deadline = _period(goal, as_of)
    warnings = list(goal.smart_warnings)
    rows = _fetch(con, metric, goal, as_of, cache)
    stay = goal.success != "reach"
    # Before the goal's first day nothing is measured against it: no progress, pace or forecast.
    before_start = as_of < goal.start
    accumulates = _accumulates(goal, metric)
    total_days = (deadline - start).days + 1
    method = (f"{METHOD_VERSION}: {goal.success}; {metric.aggregation} of marts.{metric.table} over "
              f"{goal.window}; path {'0' if accumulates else 'baseline'} -> target; "
              f"OLS trend on <= {TREND_POINTS} daily values, {int(BAND_LEVEL * 100)}% band; "
              f"stale after {goal.freshness_days}d")

    def snapshot(status: str, **values: Any) -> GoalSnapshot:
        fields = {name: None for name in ("data_as_of", "current", "baseline", "target", "progress_pct",
                                          "pace_ratio", "expected_today", "projected_at_deadline",
                                          "projected_low", "projected_high", "achieved_on")}
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
        return snapshot("not_started" if before_start else "no_data", target=goal.target.resolve(
            goal.baseline if goal.baseline != "auto" else None, metric.unit))

    rollup = _Rollups(metric, rows)

    def value_on(day: date) -> float | None:
        return rollup(*_goal_window(goal, day, start))

    # The measured day: newest data, never past as_of or the deadline.
    horizon = min(as_of, deadline)
    upto = bisect.bisect_right(rows.days, horizon)
    # A recurring goal waits for every platform that reported since the goal's start, not only those that
    # already reported in the new period: on the 1st, Facebook's leads alone are not the month's leads.
    latest = _complete_through(metric, rows, goal.start if goal.recurring else start, upto)
    measured = latest

    baseline = _auto_baseline(goal, metric, rows, rollup, start, horizon)
    target = goal.target.resolve(baseline, metric.unit)
    path_start = 0.0 if accumulates else baseline
    stated_off = _baseline_warning(goal, metric, rows, rollup, start)
    if stated_off:
        warnings.append(stated_off)

    if goal.recurring and not before_start and (latest is None or latest < start):
        # A new period without its own rows yet: nothing to report, never the last period's value.
        warnings.append(f"Measurable: no data yet for the {goal.recurring} {start}..{deadline} of KPI "
                        f"{metric.name!r} for {goal.scope.describe()}; newest data day is {latest}")
        return snapshot("no_data", data_as_of=latest, baseline=baseline, target=target,
                        direction=_direction(goal, metric, target, path_start))

    current = value_on(measured) if measured else None
    if before_start:
        # Until the day before start is in the data an auto baseline would roll up a partial window:
        # it (and a relative target on it) is left out rather than guessed.
        fixed = goal.baseline != "auto" or (goal.window == "cumulative" and metric.aggregation == "sum")
        if not fixed and as_of < start - timedelta(days=1):
            baseline, target = None, goal.target.resolve(None, metric.unit)
            path_start = 0.0 if accumulates else None
        return snapshot("not_started", data_as_of=latest, current=current, baseline=baseline, target=target,
                        direction=_direction(goal, metric, target, path_start), time_elapsed_pct=0.0)
    if current is None or baseline is None or target is None or path_start is None:
        what = "the current value" if current is None else "the baseline"
        warnings.append(f"Measurable: no data for KPI {metric.name!r} to compute {what} "
                        f"for {goal.scope.describe()} up to {as_of}")
        return snapshot("no_data", data_as_of=latest, current=current, baseline=baseline, target=target)

    direction = _direction(goal, metric, target, path_start)

    def meets(value: float) -> bool:
        return value >= target if direction == "increase" else value <= target

    # Path: where a straight line from path_start to target stands on the measured day.
    elapsed = min(max((measured - start).days + 1, 0), total_days) / total_days
    expected = path_start + (target - path_start) * elapsed
    progress = (current - path_start) / (target - path_start) if target != path_start else \
        (1.0 if meets(current) else 0.0)
    pace = progress / elapsed if elapsed > 0 else None

    # Forecast from the trailing daily values (sums that accumulate, and recurring periods, only count
    # from start).
    first_trend_day = measured - timedelta(days=TREND_POINTS - 1)
    if accumulates or goal.recurring:
        first_trend_day = max(first_trend_day, start)
    xs: list[float] = []
    ys: list[float] = []
    day = first_trend_day
    while day <= measured:
        value = value_on(day)
        if value is not None:
            xs.append(float((day - start).days))
            ys.append(value)
        day += timedelta(days=1)
    fc = forecast_linear(xs, ys, float((deadline - start).days)) if measured < deadline else None
    if measured >= deadline:
        fc = Forecast(projected=current, low=current, high=current, points=1)
    elif fc is not None:
        # A straight line can run below zero (a falling wait time) or past 100 % (a share); the KPI cannot.
        fc = _bound_forecast(fc, metric)

    # Achievable: the plan's needed rate vs the best historical rate (reach goals only).
    if not stay and target != path_start:
        needed = abs(target - path_start) / total_days
        best = _best_rate(goal, metric, rows, rollup, horizon, direction)
        if best is None:
            warnings.append(f"Achievable: not judged: KPI history spans {(horizon - rows.days[0]).days} day(s) "
                            f"up to {horizon}; the best-rate check needs {MIN_RATE_DAYS}")
        else:
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
        breaches = _breaches(first_check, measured, value_on, meets)
        checked = (measured - first_check).days + 1
        progress = (checked - breaches) / checked if checked > 0 else None
        pace, expected = None, target

    # Reach goals: achieved sticks from the first day on/after start the KPI met the target.
    achieved_on = None if stay else _first_meeting_day(start, measured, value_on, meets)

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
    elif achieved_on is not None:
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
        achieved_on=achieved_on,
    )


def _breaches(first: date, last: date, value_on: Any, meets: Any) -> int:
    """Days in [first, last] whose window value misses the threshold (days without a value do not count)."""
    breaches = 0
    day = first
    while day <= last:
        value = value_on(day)
        if value is not None and not meets(value):
            breaches += 1
        day += timedelta(days=1)
    return breaches


def _first_meeting_day(first: date, last: date, value_on: Any, meets: Any) -> date | None:
    day = first
    while day <= last:
        value = value_on(day)
        if value is not None and meets(value):
            return day
        day += timedelta(days=1)
    return None


def evaluate_goals(con: Any, goals: list[Goal], metrics: MetricsDictionary, as_of: date, *,
                   achievable_factor: float = DEFAULT_ACHIEVABLE_FACTOR,
                   cache: RowCache | None = None) -> list[GoalSnapshot]:
    """One snapshot per goal, in goal-id order, reading ``marts`` through the DuckDB connection ``con``.

    Goals over the same table, columns and scope share one query (``cache``; pass the same dict to
    ``evaluate_periods`` to reuse it there).
    """
    by_name = metrics.by_name()
    cache = {} if cache is None else cache
    return [evaluate_goal(con, goal, by_name[goal.kpi], as_of, achievable_factor=achievable_factor, cache=cache)
            for goal in sorted(goals, key=lambda g: g.id)]


# --------------------------------------------------------------------------------------------
# Recurring goals: one result per period
# --------------------------------------------------------------------------------------------

PERIODS_KEPT = 12       # periods per recurring goal in the snapshot file (the table keeps all)
PeriodStatus = Literal["achieved", "missed", "in_progress", "no_data"]


@dataclass(frozen=True)
class PeriodResult:
    """How one period of a recurring goal ended (or stands, for the period containing as_of)."""

    goal_id: str
    period_start: date
    period_end: date
    value: float | None          # the KPI on the period's last measured day (its final value once over)
    target: float | None
    status: str                  # achieved | missed | in_progress | no_data
    data_as_of: date | None
    evaluated_as_of: date

    def as_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
                "value": _round(self.value), "target": _round(self.target), "status": self.status,
                "data_as_of": self.data_as_of.isoformat() if self.data_as_of else None,
                "evaluated_as_of": self.evaluated_as_of.isoformat()}


def _periods_until(goal: Goal, as_of: date, limit: int) -> list[tuple[date, date]]:
    """The newest ``limit`` periods of a recurring goal up to the one containing as_of, oldest first."""
    periods: list[tuple[date, date]] = []
    day = max(as_of, goal.start)
    while len(periods) < limit:
        first, last = _period(goal, day)
        periods.append((max(first, goal.start), last))
        if first <= goal.start:
            break
        day = first - timedelta(days=1)
    return periods[::-1]


def _period_result(goal: Goal, metric: Metric, rows: _Rows | None, start: date, end: date,
                   as_of: date) -> PeriodResult:
    """A period judged on its own rows: achieved if the KPI met the target on any day of it (reach) or held
    the threshold on every day (stay_*), missed once the period is over without that, else in_progress."""
    over = end < as_of

    def result(status: str, value: float | None = None, target: float | None = None,
               latest: date | None = None) -> PeriodResult:
        return PeriodResult(goal.id, start, end, value, target, status, latest, as_of)

    horizon = min(end, as_of)
    if rows is None or not rows.days:
        return result("no_data", target=goal.target.resolve(
            goal.baseline if goal.baseline != "auto" else None, metric.unit))
    latest = _complete_through(metric, rows, goal.start, bisect.bisect_right(rows.days, horizon))
    rollup = _Rollups(metric, rows)
    baseline = _auto_baseline(goal, metric, rows, rollup, start, horizon)
    target = goal.target.resolve(baseline, metric.unit)
    if latest is None or latest < start or target is None:
        return result("no_data", target=target)

    def value_on(day: date) -> float | None:
        return rollup(*_goal_window(goal, day, start))

    path_start = 0.0 if _accumulates(goal, metric) else baseline
    direction = _direction(goal, metric, target, path_start)

    def meets(value: float) -> bool:
        return value >= target if direction == "increase" else value <= target

    value = value_on(latest)
    if goal.success == "reach":
        if _first_meeting_day(start, latest, value_on, meets) is not None:
            return result("achieved", value, target, latest)
    elif _breaches(max(start, rows.days[0]), latest, value_on, meets):
        return result("missed", value, target, latest)
    elif over:
        return result("achieved", value, target, latest)
    return result("missed" if over else "in_progress", value, target, latest)


def evaluate_periods(con: Any, goals: list[Goal], metrics: MetricsDictionary, as_of: date, *,
                     limit: int = PERIODS_KEPT, cache: RowCache | None = None) -> dict[str, list[PeriodResult]]:
    """Recurring goal id -> its newest ``limit`` period results up to the period containing ``as_of``."""
    by_name = metrics.by_name()
    cache = {} if cache is None else cache
    results: dict[str, list[PeriodResult]] = {}
    for goal in sorted(goals, key=lambda g: g.id):
        if goal.recurring is None or as_of < goal.start:
            continue
        metric = by_name[goal.kpi]
        rows = _fetch(con, metric, goal, as_of, cache)
        results[goal.id] = [_period_result(goal, metric, rows, first, last, as_of)
                            for first, last in _periods_until(goal, as_of, limit)]
    return results


# --------------------------------------------------------------------------------------------
# OKR roll-up
# --------------------------------------------------------------------------------------------

# Worst first: an objective is as healthy as its weakest key result.
# A not-yet-started key result keeps an objective from being "achieved" but does not drag it below on_track.
_SEVERITY = ("missed", "off_track", "at_risk", "stale", "no_data", "on_track", "not_started", "achieved")


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
