"""Ingest tests pull from the same local fake API as the connector tests (one definition)."""

from tests.connectors.conftest import _clean_faults, credentials, fake_api  # noqa: F401 - pytest fixtures
