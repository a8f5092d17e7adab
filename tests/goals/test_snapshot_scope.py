"""A goal scoped to a platform that is not in sources.yml fails the snapshot itself, not only
`goalpost goals check` (issue #22), with the one-line file:line message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.emit import run_snapshots
from pipeline.goals import GoalsFileError
from pipeline.settings import Settings

from .conftest import METRICS_YML, write_goals

GOALS = """\
goals:
  - id: myspace_friends
    title: More friends on MySpace
    objective: awareness
    kpi: followers
    scope: {platforms: [instagram, myspace]}
    target: 100
    start: 2026-09-01
    deadline: 2026-09-30
    owner: nostalgia-lead
"""

SOURCES = """\
sources:
  instagram: {connection_id: goalpost_instagram, accounts: [ig_brand], entities: [account_daily]}
  x: {connection_id: goalpost_x, accounts: [x_brand], entities: [account_daily]}
"""


def test_snapshot_refuses_a_scope_platform_missing_from_sources_yml(settings: Settings, tmp_path: Path) -> None:
    metrics_file = tmp_path / "metrics.yml"
    metrics_file.write_text(METRICS_YML, encoding="utf-8")
    goals_file = write_goals(tmp_path, GOALS)
    sources_file = tmp_path / "sources.yml"      # two sources, in the shape of the repo's sources.yml
    sources_file.write_text(SOURCES, encoding="utf-8")
    run = dataclasses.replace(settings, metrics_file=metrics_file, goals_file=goals_file, sources_file=sources_file)
    with pytest.raises(GoalsFileError) as refused:
        run_snapshots(run, as_of="2026-09-04", run_id="r1")
    assert str(refused.value) == (
        f"{goals_file}:6: goal 'myspace_friends': field 'scope.platforms': Specific: 'myspace' is not a source "
        f"in sources.yml (sources: instagram, x); fix the name or add the source")
    assert not list(run.snapshots_dir.glob("as_of=*"))                 # nothing published
