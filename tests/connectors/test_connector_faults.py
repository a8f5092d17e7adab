"""Every connector against every bad input the fake API can produce (parametrised, not copied)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.connectors import (
    AuthenticationError,
    ConnectorError,
    MalformedResponseError,
    PaginationLoopError,
    RateLimitedError,
    SchemaDriftError,
    ServerError,
    get_connector,
)
from pipeline.credentials import Credentials
from pipeline.landing import land_window
from tests.connectors.conftest import FAST
from tests.connectors.probes import PROBES, Probe

pytestmark = pytest.mark.parametrize("probe", PROBES, ids=str)


def fetch(probe: Probe, credentials: Credentials, entity: str | None = None, account: str | None = None,
          policy=FAST):
    connector = get_connector(probe.platform, credentials, policy=policy)
    return connector, connector.fetch(entity or probe.entity, account or probe.account, probe.since, probe.until)


def test_clean_pull_has_no_quarantined_rows(probe, credentials):
    _, table = fetch(probe, credentials)
    assert table.num_rows > 0
    assert table.column("quarantine_reason").null_count == table.num_rows


def test_small_pages_give_the_same_rows_as_one_page(probe, credentials, fake_api):
    connector = get_connector(probe.platform, credentials, policy=dataclasses.replace(FAST, page_size=1000))
    whole = connector.fetch(probe.paged_entity, probe.account, probe.since, probe.until)
    single_page_requests = fake_api.requests_seen
    fake_api.reset()
    paged, = [get_connector(probe.platform, credentials, policy=dataclasses.replace(FAST, page_size=probe.page_size))
              .fetch(probe.paged_entity, probe.account, probe.since, probe.until)]
    assert fake_api.requests_seen > single_page_requests      # it really paged
    assert paged.sort_by([(c, "ascending") for c in paged.column_names if c != "quarantine_reason"]).equals(
        whole.sort_by([(c, "ascending") for c in whole.column_names if c != "quarantine_reason"]))


def test_429_waits_for_retry_after_then_succeeds(probe, credentials, fake_api):
    _, clean = fetch(probe, credentials)
    fake_api.reset()
    fake_api.inject(probe.path, "429", count=1, retry_after=1)
    started = time.monotonic()
    _, table = fetch(probe, credentials)
    assert time.monotonic() - started >= 1.0                  # slept the server's Retry-After, not the 0.01 s backoff
    assert table.equals(clean)


def test_429_that_never_ends_raises_rate_limited(probe, credentials, fake_api):
    fake_api.inject(probe.path, "429", count=10, retry_after=0)
    with pytest.raises(RateLimitedError) as error:
        fetch(probe, credentials)
    # the platform's own rate-limit message where it sends one (classify_error), else the generic one
    assert str(error.value).startswith(f"{probe.platform}: ") and "rate limit" in str(error.value)
    assert re.search(rf" \(connection 'goalpost_{probe.platform}', account '{probe.account}', "
                     r"window \d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d\)$", str(error.value))
    # urllib3's 2 retries (Retry-After honoured), not retried again in place on top
    assert sum(re.search(probe.path, seen) is not None for seen in fake_api.api.request_log) == 3


def test_a_retry_after_above_the_cap_fails_at_once_for_airflow_to_retry(probe, credentials, fake_api):
    fake_api.inject(probe.path, "429", count=1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimitedError, match=(
            rf"^{probe.platform}: rate limited \(429\) on .*: the server asks to wait 3600 s, more than the 60 s "
            r"a task waits in place; failing so the task is retried later \(connection .*\)$")):
        fetch(probe, credentials)
    assert time.monotonic() - started < 5                     # not slept: the worker slot is free again
    # and not retried in place either
    assert sum(re.search(probe.path, seen) is not None for seen in fake_api.api.request_log) == 1


def test_5xx_is_retried_with_backoff(probe, credentials, fake_api):
    _, clean = fetch(probe, credentials)
    fake_api.reset()
    fake_api.inject(probe.path, "500", count=2)               # FAST allows 2 retries: the 3rd call succeeds
    _, table = fetch(probe, credentials)
    assert table.equals(clean)


def test_5xx_after_all_retries_raises_server_error(probe, credentials, fake_api):
    fake_api.inject(probe.path, "500", count=3)
    with pytest.raises(ServerError, match=rf"^{probe.platform}: .*500.* \(connection 'goalpost_{probe.platform}', "
                                          rf"account '{probe.account}', window .*\)$"):
        fetch(probe, credentials)


def test_401_names_the_connection_not_the_token(probe, fake_api):
    secret = "s3cret-token-value"
    with pytest.raises(AuthenticationError) as error:
        fetch(probe, Credentials(fake_api.url, secret))
    message = str(error.value)
    assert message.startswith(f"{probe.platform}: ") and "token" in message
    assert message.endswith(f"(connection 'goalpost_{probe.platform}', account '{probe.account}', "
                            f"window {probe.since}..{probe.until - dt.timedelta(days=1)})")
    assert "\n" not in message
    assert secret not in message and secret not in repr(error.value)


def test_injected_401_maps_to_authentication_error(probe, credentials, fake_api):
    fake_api.inject(probe.path, "401")
    with pytest.raises(AuthenticationError, match=rf"token.* \(connection 'goalpost_{probe.platform}', "):
        fetch(probe, credentials)


def test_unknown_account_names_the_account_and_the_connection(probe, credentials):
    # platforms answer an unknown account differently (Graph 400 code 100/33, GA4 403, others 404)
    with pytest.raises(ConnectorError) as error:
        fetch(probe, credentials, account="no_such_account")
    assert str(error.value).startswith(f"{probe.platform}: ")
    assert str(error.value).endswith(f"(connection 'goalpost_{probe.platform}', account 'no_such_account', "
                                     f"window {probe.since}..{probe.until - dt.timedelta(days=1)})")


def test_truncated_body(probe, credentials, fake_api):
    fake_api.inject(probe.path, "truncated")
    with pytest.raises(MalformedResponseError, match=rf"^{probe.platform}: truncated response body from "):
        fetch(probe, credentials)


def test_non_json_body(probe, credentials, fake_api):
    fake_api.inject(probe.path, "non_json")
    with pytest.raises(MalformedResponseError, match=rf"^{probe.platform}: response from .* is not JSON \(text/html"):
        fetch(probe, credentials)


def test_repeating_cursor_is_a_pagination_loop(probe, credentials, fake_api):
    fake_api.inject(probe.path if probe.entity == probe.paged_entity else r".", "repeat_cursor", count=50)
    with pytest.raises(PaginationLoopError, match=rf"^{probe.platform}: pagination loop on "):
        get_connector(probe.platform, credentials, policy=dataclasses.replace(FAST, page_size=probe.page_size)) \
            .fetch(probe.paged_entity, probe.account, probe.since, probe.until)


def test_unknown_field_is_counted_never_fatal(probe, credentials, fake_api):
    connector, clean = fetch(probe, credentials)
    assert not connector.schema_drift
    fake_api.reset()
    fake_api.inject(probe.path, "unknown_field")
    connector, table = fetch(probe, credentials)
    assert table.equals(clean)
    assert [name for _, name in connector.schema_drift] == ["surprise_field"]
    assert sum(connector.schema_drift.values()) > 0


def test_missing_identity_field_is_schema_drift(probe, credentials, fake_api):
    fake_api.inject(probe.path, "missing_field")
    with pytest.raises(SchemaDriftError, match=rf"^{probe.platform}: schema drift in .*: record without its identity "
                                               rf"field\(s\) {probe.required_field} \(connection .*\)$"):
        fetch(probe, credentials)


def test_non_numeric_count_is_flagged_not_raised(probe, credentials, fake_api):
    fake_api.inject(probe.path, "non_numeric_count")
    _, table = fetch(probe, credentials)
    reasons = [r for r in table.column("quarantine_reason").to_pylist() if r]
    assert reasons and all("non-numeric" in r and "'n/a'" in r for r in reasons)


def test_negative_count_lands_in_quarantine_never_dropped(probe, credentials, fake_api, settings):
    fake_api.inject(probe.path, "negative_count")
    _, table = fetch(probe, credentials)
    landed = land_window(table, platform=probe.platform, entity=probe.entity, account_id=probe.account,
                         since=probe.since, until=probe.until, settings=settings)
    quarantined = [pq.read_table(p) for p in (settings.lake_dir / "quarantine").rglob("*.parquet")]
    assert sum(t.num_rows for t in quarantined) == sum(p.quarantined for p in landed) > 0
    assert sum(p.rows for p in landed) + sum(p.quarantined for p in landed) == table.num_rows
    assert all("-5" in reason for t in quarantined for reason in t.column("quarantine_reason").to_pylist())
    for path in (settings.lake_dir / "raw").rglob("*.parquet"):
        raw = pq.read_table(path)
        for name in ("followers", "likes", "sessions"):
            if name in raw.column_names and raw.num_rows:
                minimum = pc.min(raw.column(name)).as_py()
                assert minimum is None or minimum >= 0          # None: not reported in this window
