"""Connector tests run against the real local fake API (a socket on 127.0.0.1, no mocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.connectors import HttpPolicy
from pipeline.credentials import Credentials
from pipeline.fakeapi import FakeApiServer, serve

# Tiny backoff and throttle pauses keep retry tests fast; Retry-After is still honoured as sent.
FAST = HttpPolicy(timeout=5, retries=2, backoff_factor=0.01, backoff_max=0.05, throttle_pause=0.01)


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeApiServer]:
    with serve() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(fake_api: FakeApiServer) -> Iterator[None]:
    fake_api.reset()
    yield
    fake_api.reset()


@pytest.fixture
def credentials(fake_api: FakeApiServer) -> Credentials:
    return Credentials(fake_api.url, fake_api.token)
