"""Webhook POSTs (goal events and failure notifications): destination check, no redirects, HMAC signature.

Only 127.0.0.1 is ever contacted. Other addresses are IP literals (they resolve without a network) or
names answered by a patched ``socket.getaddrinfo``; a patched ``create_connection`` proves that a
refused destination is never connected to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import socket
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline import webhooks
from pipeline.emit import idempotency_key, run_snapshots
from pipeline.notify import notify_failure
from pipeline.settings import Settings, get_settings

from . import test_emit
from .test_emit import table_rows

goal_settings = test_emit.goal_settings      # fixtures shared with test_emit.py
webhook = test_emit.webhook

SECRET = "whsec-test-Zq8v1"          # a value that must never show up outside the HMAC
METADATA = "169.254.169.254"
EVENT_KEY = idempotency_key("impressions_2800", date(2026, 9, 4), "at_risk")


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every socket the webhook client opens, recorded (and still opened, so 127.0.0.1 works)."""
    opened: list[tuple] = []
    real = webhooks.urllib3_connection.create_connection

    def recording(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(webhooks.urllib3_connection, "create_connection", recording)
    return opened


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """Answer ``socket.getaddrinfo`` for the given names; everything else resolves as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in answers:
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (ip, port) if ":" not in ip else (ip, port, 0, 0)) for ip in answers[host]]
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def two_snapshots(settings: Settings) -> dict:
    """Sep 2 (off_track) then Sep 4 (at_risk): exactly one status-change event to deliver."""
    run_snapshots(settings, as_of="2026-09-02", run_id="r1", webhook_backoff=0)
    return run_snapshots(settings, as_of="2026-09-04", run_id="r2", webhook_backoff=0)


def refused(host: str, ip: str, kind: str, hint: str | None = None) -> str:
    hint = hint or f"GOALPOST_WEBHOOK_ALLOWED_HOSTS={host}"
    return f"webhook to {host} refused: {ip} is {kind} address; allow it with {hint} if intended"


# ------------------------------------------------------------------------------ destination check


def test_default_refuses_loopback_and_records_a_failed_delivery(goal_settings, webhook, connects, caplog):
    settings = dataclasses.replace(goal_settings, webhook_url=webhook.url)   # 127.0.0.1, not allowed
    with caplog.at_level(logging.WARNING):
        result = two_snapshots(settings)
    assert result["webhooks"] == {"delivered": 0, "failed": 1, "superseded": 0}
    assert webhook.requests == [] and connects == []                        # nothing was sent
    message = refused("127.0.0.1", "127.0.0.1", "a loopback")
    assert table_rows(settings, "select event_id, delivery, attempts, last_error from ops.goal_events") == [
        (EVENT_KEY, "failed", 1, message)]
    assert f"goal event {EVENT_KEY[:12]} not delivered ({message}); retried on the next run" in caplog.messages
    assert "Traceback" not in caplog.text
    # The operator opts in: the refused event is delivered on the next run, once.
    allowed = webhook.settings(goal_settings)
    again = run_snapshots(allowed, as_of="2026-09-05", run_id="r3", webhook_backoff=0)
    assert again["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    assert [r["key"] for r in webhook.requests] == [EVENT_KEY]
    assert table_rows(settings, "select delivery, attempts, last_error from ops.goal_events") == [
        ("delivered", 2, None)]


def test_default_refuses_the_metadata_address_without_connecting(goal_settings, connects):
    settings = dataclasses.replace(goal_settings, webhook_url=f"http://{METADATA}/latest/meta-data/")
    result = two_snapshots(settings)
    assert result["webhooks"] == {"delivered": 0, "failed": 1, "superseded": 0}
    assert connects == []
    assert table_rows(settings, "select delivery, last_error from ops.goal_events") == [
        ("failed", refused(METADATA, METADATA, "a link-local"))]
    # allowing every private range does not open link-local (the metadata service) or loopback
    private_ok = dataclasses.replace(settings, webhook_allow_private=True)
    run_snapshots(private_ok, as_of="2026-09-05", run_id="r3", webhook_backoff=0)
    assert connects == []
    assert table_rows(settings, "select delivery, attempts, last_error from ops.goal_events") == [
        ("failed", 2, refused(METADATA, METADATA, "a link-local"))]


def test_failure_notification_to_metadata_is_refused_and_masked(settings, connects, caplog):
    url = f"http://user:pa55@{METADATA}/hook?token=s3cret"
    target = dataclasses.replace(settings, webhook_url=url)
    with caplog.at_level(logging.WARNING):
        event = notify_failure(target, dag_id="d", task_id="t", run_id="r", try_number=2, error="boom")
    message = refused(METADATA, METADATA, "a link-local")
    assert event["delivery"] == "failed" and event["delivery_error"] == message
    assert event["error"] == "boom" and event["event_type"] == "task_failed"
    assert connects == []
    assert caplog.messages == [f"failure notification not delivered: {message}"]
    assert "s3cret" not in caplog.text and "pa55" not in caplog.text


def test_failure_notification_to_an_allowed_receiver(settings, webhook, monkeypatch):
    monkeypatch.setenv("GOALPOST_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("GOALPOST_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    event = notify_failure(get_settings(), dag_id="transform_kpis", task_id="validate", run_id="r1",
                           try_number=3, error=ValueError("critical expectation failed"))
    assert event["delivery"] == "delivered" and event["delivery_error"] is None
    [request] = webhook.requests
    assert request["key"] == event["idempotency_key"]
    assert request["body"] == {k: v for k, v in event.items() if k not in ("delivery", "delivery_error")}
    assert "X-Goalpost-Signature" not in request["headers"]                 # no secret, no signature
    # a failing receiver is a failed delivery, never an exception
    webhook.status = 500
    failed = notify_failure(get_settings(), dag_id="d", task_id="t", run_id="r")
    assert (failed["delivery"], failed["delivery_error"]) == ("failed", "HTTP 500")


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "a loopback"), ("::1", "a loopback"),
    ("169.254.169.254", "a link-local"), ("fe80::1", "a link-local"),
    ("::ffff:169.254.169.254", "a link-local"), ("2002:a9fe:a9fe::1", "a link-local"),   # mapped, 6to4
    ("10.1.2.3", "a private"), ("172.31.255.1", "a private"), ("192.168.0.10", "a private"),
    ("fd00::5", "a private"),
    ("224.0.0.1", "a multicast"), ("ff02::1", "a multicast"),
    ("240.0.0.1", "a reserved"), ("255.255.255.255", "a reserved"),
    ("0.0.0.0", "an unspecified"), ("::", "an unspecified"),
    ("100.64.0.1", "a non-public (special-purpose)"), ("192.0.2.1", "a non-public (special-purpose)"),
    ("93.184.216.34", None), ("172.32.0.1", None), ("2606:4700::1111", None),
])
def test_address_kinds(address, kind):
    assert webhooks.address_kind(ipaddress.ip_address(address)) == kind


def test_policy_allows_names_addresses_networks_and_private_ranges():
    policy = webhooks.DestinationPolicy(allowed_hosts=("hooks.internal", "127.0.0.1", "100.64.0.0/10"))
    policy.check("hooks.internal", "10.9.8.7")             # an allowed name may resolve to anything
    policy.check("HOOKS.internal.", "169.254.1.1")
    policy.check("127.0.0.1", "127.0.0.1")
    policy.check("vpn.example", "100.70.0.1")               # inside an allowed network
    with pytest.raises(webhooks.WebhookRefused) as caught:
        policy.check("other.internal", "10.9.8.7")
    assert str(caught.value) == refused(
        "other.internal", "10.9.8.7", "a private",
        "GOALPOST_WEBHOOK_ALLOW_PRIVATE=1 or GOALPOST_WEBHOOK_ALLOWED_HOSTS=other.internal")
    private = webhooks.DestinationPolicy(allow_private=True)
    private.check("hooks.internal", "10.9.8.7")
    private.check("hooks.internal", "fd12::1")
    for address, kind in (("127.0.0.1", "a loopback"), (METADATA, "a link-local"), ("100.64.0.1",
                                                                                  "a non-public (special-purpose)")):
        with pytest.raises(webhooks.WebhookRefused) as caught:
            private.check("h", address)
        assert str(caught.value) == refused("h", address, kind)
    bad = webhooks.DestinationPolicy(allowed_hosts=("10.0.0.0/33",))
    with pytest.raises(webhooks.WebhookRefused) as caught:
        bad.check("h", "10.0.0.1")
    assert str(caught.value) == ("GOALPOST_WEBHOOK_ALLOWED_HOSTS entry '10.0.0.0/33' is not a host name, "
                                 "IP address or network; fix the setting")


def test_settings_read_the_webhook_variables():
    s = get_settings({"GOALPOST_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1, hooks.internal 10.0.0.0/8",
                      "GOALPOST_WEBHOOK_ALLOW_PRIVATE": "1", "GOALPOST_WEBHOOK_SECRET": SECRET})
    assert s.webhook_allowed_hosts == ("127.0.0.1", "hooks.internal", "10.0.0.0/8")
    assert s.webhook_allow_private is True and s.webhook_secret == SECRET
    assert SECRET not in repr(s)
    default = get_settings({})
    assert (default.webhook_allowed_hosts, default.webhook_allow_private, default.webhook_secret) == ((), False, None)
    assert get_settings({"GOALPOST_WEBHOOK_ALLOW_PRIVATE": "0"}).webhook_allow_private is False


def test_a_name_is_checked_on_every_address_it_resolves_to(settings, webhook, connects, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34", "127.0.0.1"],   # one public, one loopback
                           "hooks.internal": ["127.0.0.1"]})
    mixed = dataclasses.replace(settings, webhook_url="http://hooks.example/goal-events")
    event = notify_failure(mixed, dag_id="d", task_id="t", run_id="r")
    assert event["delivery_error"] == refused("hooks.example", "127.0.0.1", "a loopback")
    assert connects == [] and webhook.requests == []
    # An allowed internal name is posted to the address that was checked, with its own Host header.
    port = webhook.server.server_port
    internal = dataclasses.replace(settings, webhook_url=f"http://hooks.internal:{port}/goal-events",
                                   webhook_allowed_hosts=("hooks.internal",))
    assert notify_failure(internal, dag_id="d", task_id="t", run_id="r")["delivery"] == "delivered"
    assert connects == [("127.0.0.1", port)]
    assert webhook.requests[0]["headers"]["Host"] == f"hooks.internal:{port}"


def test_only_http_and_https(settings, connects):
    for url, reason in (("ftp://hooks.example/x", "scheme 'ftp' is not http or https"),
                        ("file:///etc/passwd", "scheme 'file' is not http or https"),
                        ("hooks.example/x?token=s3cret", "the URL has no scheme")):
        event = notify_failure(dataclasses.replace(settings, webhook_url=url), dag_id="d", task_id="t", run_id="r")
        assert event["delivery"] == "failed"
        assert event["delivery_error"] == (f"webhook to {webhooks.mask_url(url)} refused: {reason}; "
                                           "set GOALPOST_WEBHOOK_URL to an http(s) URL")
    assert webhooks.mask_url("hooks.example/x?token=s3cret") == "hooks.example/x?token=***"
    assert connects == []


def test_redirects_are_not_followed(goal_settings, webhook, connects):
    webhook.status = 302
    webhook.response_headers = {"Location": f"http://{METADATA}/latest/meta-data/"}
    settings = webhook.settings(goal_settings)
    result = two_snapshots(settings)
    assert result["webhooks"] == {"delivered": 0, "failed": 1, "superseded": 0}
    assert len(webhook.requests) == 1 and {host for host, _ in connects} == {"127.0.0.1"}
    assert table_rows(settings, "select delivery, last_error from ops.goal_events") == [
        ("failed", "HTTP 302 (redirects are not followed)")]


def test_proxy_variables_are_ignored(settings, webhook, monkeypatch):
    # a proxy would connect on our behalf, past the destination check
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    event = notify_failure(webhook.settings(settings), dag_id="d", task_id="t", run_id="r")
    assert event["delivery"] == "delivered" and len(webhook.requests) == 1


def test_mask_url_hides_userinfo_and_query_values():
    assert webhooks.mask_url("https://u:p@hooks.example:8443/a/b?token=s3&x=1#frag") == (
        "https://***@hooks.example:8443/a/b?token=***&x=***")
    assert webhooks.mask_url("http://[::1]:8080/h") == "http://[::1]:8080/h"


# ------------------------------------------------------------------------------------- signature


def verify(secret: str, headers: dict[str, str], raw_body: bytes) -> bool:
    """What a receiver does (docs/OPERATIONS.md): recompute the HMAC over timestamp + "." + raw body."""
    timestamp = headers["X-Goalpost-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Goalpost-Signature"])


def test_goal_events_are_signed_and_the_secret_stays_out_of_everything(goal_settings, webhook, caplog,
                                                                       tmp_path: Path):
    settings = webhook.settings(goal_settings, webhook_secret=SECRET)
    with caplog.at_level(logging.DEBUG):
        result = two_snapshots(settings)
    assert result["webhooks"] == {"delivered": 1, "failed": 0, "superseded": 0}
    [request] = webhook.requests
    headers, raw = request["headers"], request["raw"]
    assert headers["X-Goalpost-Timestamp"].isdigit()
    assert headers["X-Goalpost-Signature"] == webhooks.sign(SECRET, int(headers["X-Goalpost-Timestamp"]), raw)
    assert verify(SECRET, headers, raw)
    assert not verify(SECRET, headers, raw.replace(b"at_risk", b"on_track"))           # tampered body
    assert not verify("another-secret", headers, raw)
    stale = dict(headers, **{"X-Goalpost-Timestamp": str(int(headers["X-Goalpost-Timestamp"]) + 1)})
    assert not verify(SECRET, stale, raw)                                               # timestamp is signed
    # the secret is in no log record, no ops/marts table, no written file
    assert SECRET not in caplog.text
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for (schema, table) in con.execute("select schema_name, table_name from duckdb_tables()").fetchall():
            assert SECRET not in str(con.execute(f"select * from {schema}.{table}").fetchall()), table
    finally:
        con.close()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]


def test_failure_notifications_are_signed(settings, webhook):
    event = notify_failure(webhook.settings(settings, webhook_secret=SECRET), dag_id="d", task_id="t",
                           run_id="r", error="boom")
    assert event["delivery"] == "delivered" and SECRET not in str(event)
    [request] = webhook.requests
    assert verify(SECRET, request["headers"], request["raw"])
    assert not verify(SECRET, request["headers"], request["raw"].replace(b"boom", b"fine"))
