"""Credentials from AIRFLOW_CONN_* (JSON and URI) and sources.yml validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.credentials import Credentials, CredentialsError, from_env
from pipeline.settings import REPO_ROOT
from pipeline.sources import SourcesConfigError, load_sources


def test_repr_hides_the_token():
    creds = Credentials("http://127.0.0.1:8765/", "tok-123", "goalpost_x")
    assert "tok-123" not in repr(creds) and "tok-123" not in str(creds)
    assert creds.base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(("value", "base_url", "token"), [
    ('{"conn_type": "http", "host": "http://127.0.0.1:8765", "password": "tok"}', "http://127.0.0.1:8765", "tok"),
    ('{"conn_type": "http", "host": "127.0.0.1", "port": 8765, "password": "tok"}', "http://127.0.0.1:8765", "tok"),
    ("http://:t%2Fok@127.0.0.1:8765", "http://127.0.0.1:8765", "t/ok"),
    ("https://user:tok@api.example.com/v1", "https://api.example.com/v1", "tok"),
])
def test_from_env_json_and_uri(value, base_url, token):
    creds = from_env("goalpost_x", {"AIRFLOW_CONN_GOALPOST_X": value})
    assert (creds.base_url, creds.token, creds.conn_id) == (base_url, token, "goalpost_x")


def test_missing_connection_names_the_variable():
    with pytest.raises(CredentialsError, match="^connection 'goalpost_x' not found: set AIRFLOW_CONN_GOALPOST_X"):
        from_env("goalpost_x", {})


def test_repo_sources_cover_every_platform():
    sources = {s.platform: s for s in load_sources(REPO_ROOT / "sources.yml")}
    assert set(sources) == {"instagram", "facebook", "linkedin", "tiktok", "x", "ga4"}
    assert sources["x"].options == {"brand": "acme", "competitors": ["rivalco", "globex"]}


@pytest.mark.parametrize(("body", "message"), [
    (("sources:\n  tiktok:\n    connection_id: c\n    accounts: [a]\n    entities: [videos]\n"
     "    start_date: '2026-01-01'\n    revision_days: 1\n"), "sources.tiktok.entities: Value error, unknown entity 'videos'"),
    (("sources:\n  tiktok:\n    connection_id: c\n    accounts: [a]\n    entities: [mentions]\n"
     "    start_date: '2026-01-01'\n    revision_days: 1\n"), "sources.tiktok: Value error, tiktok does not provide 'mentions'"),
    (("sources:\n  ga4:\n    connection_id: c\n    accounts: ['../etc']\n    entities: [web_sessions]\n"
     "    start_date: '2026-01-01'\n    revision_days: 1\n"), "sources.ga4.accounts: Value error, account id '../etc'"),
    (("sources:\n  tiktok:\n    connection_id: tt\n    accounts: [a, b]\n    entities: [post]\n"
     "    start_date: '2026-01-01'\n    revision_days: 1\n"),
     ("sources.tiktok: Value error, tiktok: the token of connection 'tt' identifies one account, so it cannot pull "
     "2 accounts (a, b); list one account for this source")),
    ("sources: [1, 2]\n", "expected a mapping with a 'sources' key"),
])
def test_bad_sources_file_error_names_the_file_and_key(tmp_path: Path, body, message):
    path = tmp_path / "sources.yml"
    path.write_text(body)
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    assert str(error.value).startswith(f"{path}: {message}")
