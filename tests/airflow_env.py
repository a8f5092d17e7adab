"""One throw-away Airflow home for the test session, shared by tests/dags and tests/e2e."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipeline.settings import REPO_ROOT


def use_test_airflow_home() -> Path:
    """Point Airflow at one temporary home for the whole session (before anything imports airflow)."""
    home = Path(os.environ.get("GOALPOST_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="goalpost-airflow-"))
    os.environ["GOALPOST_TEST_AIRFLOW_HOME"] = str(home)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    })
    os.environ.pop("GOALPOST_EVENT_BUS_URL", None)  # the laptop default: no Redis event bus
    return home
