"""Shared fixtures. Folder-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.settings import REPO_ROOT, Settings, get_settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings rooted in a fresh temporary GOALPOST_HOME (repo sql/, expectations/, goals)."""
    home = tmp_path / "goalpost"
    monkeypatch.setenv("GOALPOST_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("GOALPOST_") and name != "GOALPOST_HOME":
            monkeypatch.delenv(name)
    s = get_settings()
    s.ensure_dirs()
    return s


def skip_unless_ci(reason: str) -> None:
    """Something a test needs is absent: skip on a laptop; under CI=true (where `make test` provides it) fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a local service is absent on a laptop; under CI=true a missing service fails."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as exc:
        skip_unless_ci(f"{name} not reachable on {host}:{port} ({exc})")


__all__ = ["FIXTURES", "REPO_ROOT", "require_service", "skip_unless_ci"]
