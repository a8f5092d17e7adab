"""The seed goals a new user types from the README pass the SMART check against the real dictionary and sources."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.settings import REPO_ROOT


def _readme_goals_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Add a goal"):]
    return re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_seed_goals_pass_goals_check(tmp_path: Path) -> None:
    goals_file = tmp_path / "goals.yml"
    goals_file.write_text(_readme_goals_block(), encoding="utf-8")
    result = CliRunner().invoke(main, ["goals", "check", "--file", str(goals_file)],
                                env={"GOALPOST_HOME": str(tmp_path / "home")})
    assert result.exit_code == 0, result.output
    # both seed goals, every SMART letter of each a pass (no warning, no error)
    assert "ig_audience_growth" in result.output and "li_audience_share_growth" in result.output
    letters = re.findall(r"^  ([SMART])  (pass|warn|fail) ", result.output, re.MULTILINE)
    assert letters == [(letter, "pass") for letter in "SMART"] * 2
    assert result.output.rstrip().endswith("2 goal(s), 0 error(s), 0 warning(s)")
