"""End-to-end fixtures: a throw-away Airflow home, the fake platform API, source connections."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow_env import use_test_airflow_home
from tests.conftest import require_service

TEST_DAY = "2026-11-25"  # the data-interval end of every test run: the lake covers days before it

use_test_airflow_home()


@pytest.fixture(scope="session")
def airflow_metadata_db() -> Path:
    """Migrate the session's SQLite metadata DB once (``dag.test`` records runs and asset events there)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                       capture_output=True, env=os.environ.copy())
    return home


@pytest.fixture
def fake_api():
    from pipeline.fakeapi import serve

    with serve(port=0) as api:
        yield api


@pytest.fixture
def source_connections(fake_api, settings, monkeypatch) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` for every source, pointing at the fake API (as the runtime sets them)."""
    from pipeline.cli import FAKE_API_TOKEN
    from pipeline.runtime import connection_json, load_source_specs

    connections = {s.connection_id: connection_json(fake_api.url, FAKE_API_TOKEN)
                   for s in load_source_specs(settings)}
    for conn_id, value in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return connections


def write_mentions_export(folder: Path) -> Path:
    """A tiny social-listening export in the documented ``mentions_json`` file-drop format."""
    export = folder / "listening_acme_2026-11-24.json"
    export.write_text(json.dumps({"account_id": "acme", "brand": "acme", "mentions": [
        {"id": "m1", "created_at": "2026-11-24T09:15:00+00:00", "brand": "acme", "author": "@ana",
         "author_followers": 1200, "sentiment": "positive", "text": "love acme", "hashtags": ["#acme"]},
        {"id": "m2", "created_at": "2026-11-24T10:00:00+00:00", "brand": "rivalco", "author": "@bo",
         "author_followers": 300, "sentiment": "negative", "text": "rivalco is slow", "hashtags": []},
    ]}, indent=2))
    return export


@pytest.fixture
def postgres_database():
    """A fresh database per run on the local PostgreSQL (trust auth), dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"goalpost_it_{secrets.token_hex(4)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as con:
        con.execute(f'create database "{name}"')  # name is ours (hex), not user input
    yield name
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')
