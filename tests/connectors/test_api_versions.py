"""API versions are pinned per source (sources.yml options.api_version) and reach the requests."""

from __future__ import annotations

from pipeline.connectors import get_connector
from pipeline.credentials import Credentials
from pipeline.sources import load_sources

REAL_GRAPH = Credentials("https://graph.facebook.com/v26.0", "tok")
FAKE = Credentials("http://127.0.0.1:8765", "tok")


def test_sources_yml_pins_the_versions_the_contracts_were_verified_against():
    options = {s.platform: s.options for s in load_sources("sources.yml")}
    assert {p: options[p].get("api_version") for p in ("instagram", "facebook", "linkedin")} == {
        "instagram": "v25.0", "facebook": "v26.0", "linkedin": "202603"}


def test_a_pinned_version_reaches_the_path_and_the_headers():
    assert get_connector("instagram", FAKE, api_version="v24.0").prefix == "/instagram/v24.0"
    assert get_connector("facebook", REAL_GRAPH).prefix == ""      # the real root carries its version itself
    linkedin = get_connector("linkedin", FAKE, api_version="202512")
    assert linkedin.extra_headers == {"LinkedIn-Version": "202512", "X-Restli-Protocol-Version": "2.0.0"}
