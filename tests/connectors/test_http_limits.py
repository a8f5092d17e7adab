"""Issue #21: a response size cap that never buffers the whole body, an overall deadline per call, and a stop for
endless empty pages with fresh cursors; against the real local fake API (and one local stalling server)."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from werkzeug import Response

from pipeline.connectors import ConnectorError, MalformedResponseError, PaginationLoopError, get_connector
from pipeline.credentials import Credentials
from pipeline.fakeapi.server import DRIP_INTERVAL, HUGE_BODY_BYTES
from tests.connectors.conftest import FAST

MIB = 1024 * 1024
SINCE, UNTIL = date(2026, 9, 7), date(2026, 9, 17)
WHERE = "(connection 'goalpost_instagram', account 'ig_brand', window 2026-09-07..2026-09-16)"
MEDIA = "/instagram/v25.0/ig_brand/media"
INSIGHTS = "/instagram/v25.0/ig_brand/insights"
TODAY = datetime.now(UTC).date()      # X search covers the last 7 days only


@pytest.fixture
def client_bytes(monkeypatch) -> list[int]:
    """Bytes the test's own thread (the connector) receives from any socket; the fake API answers from its own
    threads, so what it reads is not counted."""
    received = [0]
    main = threading.get_ident()
    original = socket.socket.recv_into

    def counting_recv_into(self, buffer, *args):
        n = original(self, buffer, *args)
        if threading.get_ident() == main:
            received[0] += n
        return n

    monkeypatch.setattr(socket.socket, "recv_into", counting_recv_into)
    return received


def instagram(credentials, **policy):
    return get_connector("instagram", credentials, policy=dataclasses.replace(FAST, **policy))


# ---- size cap ----

def test_the_fake_api_paths_used_here_exist(credentials, fake_api):
    instagram(credentials).fetch("post", "ig_brand", SINCE, UNTIL)
    assert MEDIA in fake_api.api.request_log
    instagram(credentials).fetch("account_daily", "ig_brand", SINCE, UNTIL)
    assert INSIGHTS in fake_api.api.request_log


def test_huge_chunked_body_is_refused_at_the_cap_without_reading_the_rest(credentials, fake_api, client_bytes):
    fake_api.inject(MEDIA, "huge_body")
    with pytest.raises(MalformedResponseError) as caught:
        instagram(credentials, max_response_bytes=MIB).fetch("post", "ig_brand", SINCE, UNTIL)
    assert str(caught.value) == (
        f"instagram: response from GET {MEDIA} exceeds the 1048576-byte cap; stopped reading it: ask for smaller "
        f"pages (HttpPolicy.page_size) or raise HttpPolicy.max_response_bytes {WHERE}")
    # the body had no Content-Length, so it was counted while streaming: the cap plus at most one 64 KiB read
    # (and the status line, headers and chunk-size lines) came in, never the 5 MiB the server meant to send
    assert MIB < client_bytes[0] < MIB + 96 * 1024
    assert client_bytes[0] < HUGE_BODY_BYTES // 4


def test_huge_body_under_the_cap_is_streamed_whole_and_parsed(credentials, fake_api, client_bytes):
    clean = instagram(credentials).fetch("post", "ig_brand", SINCE, UNTIL)
    fake_api.inject(MEDIA, "huge_body")
    before = client_bytes[0]
    padded = instagram(credentials, max_response_bytes=8 * MIB).fetch("post", "ig_brand", SINCE, UNTIL)
    assert padded.equals(clean)
    assert client_bytes[0] - before > HUGE_BODY_BYTES      # it really read the whole padded body


def test_declared_content_length_above_the_cap_is_refused_before_reading(credentials, fake_api):
    with pytest.raises(MalformedResponseError) as caught:
        instagram(credentials, max_response_bytes=100).fetch("account_daily", "ig_brand", SINCE, UNTIL)
    assert str(caught.value) == (
        f"instagram: response from GET {INSIGHTS} exceeds the 100-byte cap; stopped reading it: ask for smaller "
        f"pages (HttpPolicy.page_size) or raise HttpPolicy.max_response_bytes {WHERE}")


def test_connection_is_reused_after_a_whole_body(credentials, fake_api):
    connector = instagram(credentials)
    connector.fetch("account_daily", "ig_brand", SINCE, UNTIL)
    manager = connector.session.get_adapter(fake_api.url).poolmanager
    pool, = (manager.pools[key] for key in manager.pools.keys())  # noqa: SIM118 (not iterable)
    # keep-alive: a body read whole returns its connection to the pool, so one connection served every call
    assert (pool.num_connections, pool.num_requests) == (1, fake_api.requests_seen)


# ---- deadline ----

@pytest.mark.timeout(60)
def test_slow_drip_fails_at_the_deadline(credentials, fake_api):
    fake_api.inject(INSIGHTS, "slow_drip")
    with pytest.raises(ConnectorError) as caught:
        instagram(credentials, deadline=1.0).fetch("account_daily", "ig_brand", SINCE, UNTIL)
    assert type(caught.value) is ConnectorError
    assert str(caught.value) == (
        f"instagram: GET {INSIGHTS} did not finish within 1 s (the server is sending too slowly); retry later, or "
        f"raise HttpPolicy.deadline if this API is known to be slow {WHERE}")
    assert DRIP_INTERVAL < FAST.timeout      # every byte came well within the per-read timeout: only the deadline
    assert fake_api.api.request_log.count(INSIGHTS) == 1      # a deadline is not retried in place


@pytest.mark.timeout(60)
def test_a_server_gone_silent_mid_body_is_cut_off_at_the_deadline_not_the_read_timeout(httpserver):
    release = threading.Event()

    def stall():
        yield b'{"data": ['
        release.wait(30)               # silent far past the 1 s deadline (HttpPolicy.timeout is 30 s)
        yield b"]}"

    httpserver.expect_request("/stall").respond_with_response(
        Response(stall(), headers={"Content-Length": "12"}, content_type="application/json"))
    connector = get_connector("instagram", Credentials(httpserver.url_for("/").rstrip("/"), "tok"),
                              policy=dataclasses.replace(FAST, timeout=30, deadline=1.0))
    try:
        with pytest.raises(ConnectorError) as caught:
            connector.get("/stall")
    finally:
        release.set()
    assert str(caught.value) == (
        "instagram: GET /stall did not finish within 1 s (the server is sending too slowly); retry later, or "
        "raise HttpPolicy.deadline if this API is known to be slow (connection 'goalpost_instagram')")


# ---- empty pages with fresh cursors ----

# (platform, account, entity, window, page size, method and path of the listing): listings with more pages than
# any limit below. (LinkedIn's Rest.li paging already takes a page without elements for the last one.)
LISTINGS = [
    ("instagram", "ig_brand", "post", date(2026, 9, 1), date(2026, 9, 30), 1, "GET", MEDIA),      # paging.next
    ("tiktok", "tt_brand", "post", date(2026, 9, 1), date(2026, 9, 30), 1, "POST", "/tiktok/v2/video/list/"),
    ("x", "x_brand", "mentions", TODAY - timedelta(days=6), TODAY, 10, "GET", "/x/2/tweets/search/recent"),
]


@pytest.mark.parametrize(("platform", "account", "entity", "since", "until", "page_size", "method", "listing"),
                         LISTINGS, ids=[row[0] for row in LISTINGS])
@pytest.mark.parametrize("limit", [3, 5])
def test_empty_pages_with_fresh_cursors_stop_after_max_empty_pages(platform, account, entity, since, until, page_size,
                                                                   method, listing, limit, credentials, fake_api):
    connector = get_connector(platform, credentials,
                              policy=dataclasses.replace(FAST, page_size=page_size, max_empty_pages=limit))
    connector.fetch(entity, account, since, until)
    assert fake_api.api.request_log.count(listing) > limit     # the clean listing has more pages than the limit
    fake_api.reset()
    fake_api.inject(re.escape(listing) + "$", "empty_pages", count=1000)
    with pytest.raises(PaginationLoopError) as caught:
        connector.fetch(entity, account, since, until)
    assert str(caught.value) == (
        f"{platform}: pagination loop on {method} {listing}: it returned {limit} empty pages in a row with fresh "
        f"cursors; stopping (HttpPolicy.max_empty_pages); retry later ({connector.where()})")
    assert fake_api.api.request_log.count(listing) == limit


def test_fewer_empty_pages_than_the_limit_are_read_through(credentials, fake_api):
    connector = instagram(credentials, page_size=2)
    clean = connector.fetch("post", "ig_brand", SINCE, UNTIL)
    pages = fake_api.api.request_log.count(MEDIA)
    fake_api.reset()
    fake_api.inject(MEDIA, "empty_pages", count=2)      # the first two pages come back empty, then records resume
    table = connector.fetch("post", "ig_brand", SINCE, UNTIL)
    assert fake_api.api.request_log.count(MEDIA) == pages      # followed every cursor to the last page
    assert table.num_rows == clean.num_rows - 4                # the two emptied pages held two posts each
