"""The goal status table printed at the end of ``make run``.

Reads the snapshot file (``snapshots/as_of=<date>/goal_progress.json``) rather than the
warehouse, so it never competes with a writer for the DuckDB lock. Plain text (no colour
codes) so it reads the same in a terminal and in an Airflow task log.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.settings import Settings

WIDTH = 1000   # never shrink or fold columns: each goal stays on one line (lines are right-stripped)


def _latest_folder(snapshots_dir: Path, as_of: date | str | None) -> Path | None:
    if as_of is not None:
        folder = snapshots_dir / f"as_of={str(as_of)[:10]}"
        return folder if (folder / "goal_progress.json").exists() else None
    folders = sorted(p.parent for p in snapshots_dir.glob("as_of=*/goal_progress.json"))
    return folders[-1] if folders else None


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _forecast(goal: dict[str, Any]) -> str:
    if goal["projected_at_deadline"] is None:
        return "-"
    low, high = goal["projected_low"], goal["projected_high"]
    band = "" if low == high else f" [{_num(low)}..{_num(high)}]"
    return f"{_num(goal['projected_at_deadline'])}{band}"


def achieved_day(goal: dict[str, Any]) -> str | None:
    """The day (YYYY-MM-DD) an achieved reach goal got there, else None. Achieved sticks (goals.py): the KPI
    may have dropped since, so today's progress can read below 100 %."""
    if goal["status"] == "achieved" and goal.get("achieved_on"):
        return str(goal["achieved_on"])[:10]
    return None


def _status(goal: dict[str, Any]) -> str:
    """Problems in capitals; an achieved goal with the day it got there."""
    status = goal["status"]
    if status in ("off_track", "missed", "stale"):
        return status.upper()
    day = achieved_day(goal)
    return f"achieved on {day}" if day else status


def render(document: dict[str, Any]) -> str:
    """Render a snapshot document (the JSON file's content) as a plain-text table."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Goal status as of {document['as_of']}", box=box.SIMPLE_HEAD, title_justify="left")
    for name, justify in (("goal", "left"), ("kpi", "left"), ("scope", "left"),
                          ("current", "right"), ("target", "right"),
                          ("progress", "right"), ("elapsed", "right"), ("pace", "right"),
                          ("forecast at deadline [band]", "right"), ("deadline", "left"), ("status", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    for goal in document["goals"]:
        table.add_row(
            goal["goal_id"], goal["kpi"], goal["scope"], _num(goal["current"]), _num(goal["target"]),
            _pct(goal["progress_pct"]), _pct(goal["time_elapsed_pct"]),
            "-" if goal["pace_ratio"] is None else f"{goal['pace_ratio']:.2f}",
            _forecast(goal), str(goal["deadline"]), _status(goal),
        )
    buffer = io.StringIO()
    console = Console(file=buffer, width=WIDTH, color_system=None, force_terminal=False, highlight=False)
    console.print(table)
    for objective in document.get("objectives", []):
        console.print(f"objective {objective['id']} ({objective['title']}): "
                      f"{_pct(objective['progress_pct'])} weighted progress, status {objective['status']}")
    notes = [(g["goal_id"], w) for g in document["goals"] for w in g["smart_warnings"]]
    if notes:
        console.print("SMART notes:")
        for goal_id, warning in notes:
            console.print(f"  - {goal_id}: {warning}", soft_wrap=True)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def status_table(settings: Settings, as_of: date | str | None = None) -> str:
    """The latest (or the given as_of's) goal snapshot as a readable plain-text table."""
    folder = _latest_folder(settings.snapshots_dir, as_of)
    if folder is None:
        which = f"for as_of={str(as_of)[:10]}" if as_of is not None else "yet"
        return f"No goal snapshot {which} in {settings.snapshots_dir}\n"
    document = json.loads((folder / "goal_progress.json").read_text(encoding="utf-8"))
    return render(document)
