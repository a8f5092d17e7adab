"""Usage-header throttling, the fake API's own contract (determinism, auth, fault endpoint)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests

from pipeline.connectors import get_connector
from pipeline.fakeapi import serve
from tests.connectors.conftest import FAST


@pytest.mark.parametrize(("platform", "account", "entity", "path"), [
    ("instagram", "ig_brand", "account_daily", "/insights"),     # X-App-Usage call_count 92 %
    ("facebook", "fb_brand", "account_daily", "/insights"),
    ("x", "x_brand", "post", "/users/x_brand/tweets"),          # x-rate-limit-remaining 3 of 900
])
def test_near_limit_usage_headers_slow_the_connector_down(platform, account, entity, path, credentials, fake_api):
    connector = get_connector(platform, credentials, policy=FAST)
    connector.fetch(entity, account, date(2026, 9, 1), date(2026, 9, 3))
    assert connector.throttle_events == 0
    fake_api.inject(path, "near_limit")
    connector.fetch(entity, account, date(2026, 9, 1), date(2026, 9, 3))
    assert connector.throttle_events == 1


def test_usage_percent_reads_both_header_styles(credentials):
    connector = get_connector("x", credentials, policy=FAST)
    assert connector.usage_percent({"X-App-Usage": '{"call_count": 12, "total_time": 85, "total_cputime": 3}'}) == 85
    # 1 - 90/900 = 90 % used
    assert connector.usage_percent({"x-rate-limit-remaining": "90", "x-rate-limit-limit": "900"}) == 90
    assert connector.usage_percent({}) == 0


def _get(url: str, token: str = "demo-token") -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_same_request_same_bytes():
    path = "/facebook/v26.0/fb_brand/conversations?platform=messenger&fields=id,updated_time&limit=5"
    with serve() as first, serve() as second:
        a, again, b = _get(first.url + path), _get(first.url + path), _get(second.url + path)
    assert a.status_code == 200 and a.content == again.content
    # another server (new process state, other port): same data; only paging.next names the other host
    first_page, second_page = json.loads(a.content), json.loads(b.content)
    assert first_page["data"] == second_page["data"] and first_page["paging"]["cursors"] == second_page["paging"]["cursors"]


def test_wrong_token_gets_platform_shaped_401(fake_api):
    reply = _get(fake_api.url + "/linkedin/rest/posts?q=author", token="wrong")
    assert reply.status_code == 401
    # LinkedIn's recorded 401 shape (tests/fixtures/contracts/linkedin/error_401_invalid_token.json)
    assert reply.json() == {"serviceErrorCode": 65600, "message": "Invalid or expired access token", "status": 401}


def test_fault_endpoint_over_http(fake_api):
    rules = {"rules": [{"path": "/x/2/users/x_brand/tweets", "fault": "404", "count": 1}]}
    assert requests.post(fake_api.url + "/_faults", json=rules, timeout=5).status_code == 200
    url = fake_api.url + "/x/2/users/x_brand/tweets?start_time=2026-09-01T00:00:00Z&end_time=2026-09-02T00:00:00Z"
    assert _get(url).status_code == 404
    assert _get(url).status_code == 200                        # count=1: only the next request
    bad = requests.post(fake_api.url + "/_faults", json={"fault": "explode"}, timeout=5)
    assert bad.status_code == 400 and "unknown fault 'explode'" in bad.json()["error"]
    assert requests.delete(fake_api.url + "/_faults", timeout=5).json() == {"faults": []}


def test_messenger_wait_time_improves(credentials):
    table = get_connector("facebook", credentials, policy=FAST).fetch(
        "support_conversations", "fb_brand", date(2026, 8, 1), date(2026, 8, 2))
    late = get_connector("facebook", credentials, policy=FAST).fetch(
        "support_conversations", "fb_brand", date(2026, 12, 1), date(2026, 12, 2))

    def median_minutes(t):
        waits = sorted((r["first_response_at"] - r["opened_at"]).total_seconds() / 60
                       for r in t.to_pylist() if r["first_response_at"])
        return waits[len(waits) // 2]

    # generator trend: 2 + 8 * exp(-age / 45) minutes -> 10.0 on Aug 1, 2 + 8 * e^(-122/45) = 2.53 on Dec 1
    assert 7 < median_minutes(table) < 14
    assert 1.5 < median_minutes(late) < 4


def test_module_runs_in_the_foreground():
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "pipeline.fakeapi", "--port", str(port)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == f"fake platform API on http://127.0.0.1:{port} (Ctrl-C to stop)"
        deadline = time.monotonic() + 5
        while True:
            try:
                reply = _get(f"http://127.0.0.1:{port}/x/2/users/nobody/tweets?start_time=2026-09-01T00:00:00Z"
                             "&end_time=2026-09-02T00:00:00Z")
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        # X answers an unknown user with a 200 carrying errors[] (tests/fixtures/contracts/x/README.md)
        assert reply.status_code == 200 and reply.json()["errors"][0]["title"] == "Not Found Error"
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_api_root_with_a_path_gets_no_platform_prefix(fake_api):
    from pipeline.credentials import Credentials

    assert get_connector("instagram", Credentials("http://127.0.0.1:8765", "t")).prefix == "/instagram/v25.0"
    assert get_connector("instagram", Credentials("https://graph.facebook.com/v21.0", "t")).prefix == ""
    assert get_connector("ga4", Credentials("http://h", "t"), api_prefix="/v1beta").prefix == "/v1beta"
    # the real-API form (root URL incl. version path) against the fake's /x/2 root pulls the same rows
    rooted = get_connector("x", Credentials(f"{fake_api.url}/x/2", fake_api.token), policy=FAST)
    bare = get_connector("x", Credentials(fake_api.url, fake_api.token), policy=FAST)
    window = ("post", "x_brand", date(2026, 9, 1), date(2026, 9, 3))
    assert rooted.fetch(*window).equals(bare.fetch(*window))
