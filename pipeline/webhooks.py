"""The one way Goalpost POSTs to a webhook: destination check, optional HMAC signature, no redirects.

Goal status-change events (``pipeline.emit``) and task-failure notifications (``pipeline.notify``)
both go through :func:`post_json`. It

1. accepts only ``http``/``https`` URLs;
2. refuses, before a byte is sent, a destination that resolves (``socket.getaddrinfo``) to a
   private, link-local (incl. the cloud metadata address 169.254.169.254), loopback, multicast,
   reserved, unspecified or other non-public address, unless the operator allowed it:
   ``GOALPOST_WEBHOOK_ALLOWED_HOSTS`` (host names, IP addresses or networks, comma separated) or
   ``GOALPOST_WEBHOOK_ALLOW_PRIVATE=1`` (the RFC 1918 / unique-local ranges only). The check runs
   when a connection is opened, on the very addresses the socket connects to, so a host name that
   changes its answer between a check and the connect (DNS rebinding) cannot slip through; retries
   and new connections are checked again;
3. never follows a redirect (a 3xx answer is a failed delivery) and ignores ``HTTP(S)_PROXY`` (a
   proxy would connect on our behalf, past the check);
4. signs the body when ``GOALPOST_WEBHOOK_SECRET`` is set: ``X-Goalpost-Timestamp: <unix seconds>``
   and ``X-Goalpost-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.

Every outcome is a :class:`Delivery`; its ``error`` is one line without the URL's userinfo or
query values and without the secret. Nothing here raises for a refused or failed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from pipeline import logsafe

ALLOWED_HOSTS_ENV = "GOALPOST_WEBHOOK_ALLOWED_HOSTS"
ALLOW_PRIVATE_ENV = "GOALPOST_WEBHOOK_ALLOW_PRIVATE"
SECRET_ENV = "GOALPOST_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Goalpost-Signature"
TIMESTAMP_HEADER = "X-Goalpost-Timestamp"
logsafe.install()   # urllib3 logs request URLs at DEBUG: a webhook URL's token must not reach the logs

# The ranges GOALPOST_WEBHOOK_ALLOW_PRIVATE=1 opens: RFC 1918, IPv6 unique-local, deprecated site-local.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(ValueError):
    """A destination the settings do not allow; the message is the one line to show.

    Deliberately not an ``OSError``: urllib3 does not retry it and requests does not wrap it.
    """


@dataclass(frozen=True)
class DestinationPolicy:
    """Which non-public destinations the operator allowed (settings ``webhook_allowed_hosts`` /
    ``webhook_allow_private``)."""

    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False

    def _allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        networks = []
        for entry in self.allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry:
                    raise WebhookRefused(
                        f"{ALLOWED_HOSTS_ENV} entry {entry!r} is not a host name, IP address or network; "
                        "fix the setting") from None
        return networks

    def _allowed_names(self) -> set[str]:
        return {e.lower().rstrip(".") for e in self.allowed_hosts if not _is_ip_or_network(e)}

    def check(self, host: str, address: str) -> None:
        """Raise :class:`WebhookRefused` when ``address`` (one answer for ``host``) is not allowed."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])     # drop an IPv6 scope id
        kind = address_kind(ip)
        if kind is None:
            return
        if host.lower().rstrip(".") in self._allowed_names():
            return
        if any(ip in net or _embedded_v4(ip) in net for net in self._allowed_networks()):
            return
        if kind == "a private" and self.allow_private:
            return
        hint = (f"{ALLOW_PRIVATE_ENV}=1 or {ALLOWED_HOSTS_ENV}={host}" if kind == "a private"
                else f"{ALLOWED_HOSTS_ENV}={host}")
        raise WebhookRefused(f"webhook to {host} refused: {address} is {kind} address; "
                             f"allow it with {hint} if intended")


def _is_ip_or_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        return "/" in entry


def _embedded_v4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_kind(ip: IPAddress) -> str | None:
    """``None`` for a public address, else its kind with article ("a link-local", ...)."""
    ip = _embedded_v4(ip)
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_multicast:
        return "a multicast"
    if any(ip in net for net in PRIVATE_NETWORKS):
        return "a private"
    if ip.is_reserved:
        return "a reserved"
    if not ip.is_global:
        return "a non-public (special-purpose)"
    return None


def mask_url(url: str) -> str:
    """``url`` without userinfo, query values or fragment: safe for logs and ops tables."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    userinfo = "***@" if "@" in parts.netloc else ""
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "?" + "&".join(f"{name}=***" for name, _ in pairs) if pairs else "?***"
    scheme = f"{parts.scheme}://" if parts.scheme or parts.netloc else ""
    return f"{scheme}{userinfo}{host}{port}{parts.path}{query}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Goalpost-Signature`` value: ``sha256=`` + HMAC-SHA256(secret, "<timestamp>." + body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_headers(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    if not secret:
        return {}
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def policy_from_settings(settings: Any) -> DestinationPolicy:
    return DestinationPolicy(allowed_hosts=tuple(getattr(settings, "webhook_allowed_hosts", ()) or ()),
                             allow_private=bool(getattr(settings, "webhook_allow_private", False)))


# ------------------------------------------------------------------ connect-time destination check


class _GuardedConnectionMixin:
    """Resolve, check every answer, connect only to a checked address (same resolution, no rebinding)."""

    webhook_policy: DestinationPolicy = DestinationPolicy()
    _dns_host: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        name = self._dns_host.strip("[]")
        try:
            answers = socket.getaddrinfo(name, self.port, urllib3_connection.allowed_gai_family(),
                                         socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        if not answers:
            raise NewConnectionError(self, f"{self.host} has no address")  # type: ignore[arg-type]
        addresses = list(dict.fromkeys(str(sa[0]) for *_, sa in answers))
        for address in addresses:            # every answer must be allowed, not just the first
            self.webhook_policy.check(self.host, address)
        error: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(  # type: ignore[arg-type]
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


def session(policy: DestinationPolicy, *, retries: int = 0, backoff: float = 0.5) -> Any:
    """A ``requests.Session`` whose every connection passes ``policy``; retries 429/5xx via urllib3."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    http_conn = type("GuardedHTTPConnection", (_GuardedHTTPConnection,), {"webhook_policy": policy})
    https_conn = type("GuardedHTTPSConnection", (_GuardedHTTPSConnection,), {"webhook_policy": policy})
    pools = {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }
    retry = Retry(total=retries, redirect=0, backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"POST"}), respect_retry_after_header=True, raise_on_status=False,
                  raise_on_redirect=False)
    result = requests.Session()
    result.trust_env = False                 # no HTTP(S)_PROXY: a proxy would connect past the check
    for scheme in ("http://", "https://"):
        adapter = HTTPAdapter(max_retries=retry)
        adapter.poolmanager.pool_classes_by_scheme = pools
        result.mount(scheme, adapter)
    return result


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    error: str | None = None          # one line, no secret: "HTTP 503", "ConnectionError", "... refused: ..."
    refused: bool = False

    @property
    def status(self) -> str:
        return "delivered" if self.delivered else "failed"


def precheck(url: str) -> str | None:
    """The one-line reason ``url`` cannot be posted to at all (scheme, host), else ``None``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port                                      # noqa: B018 (raises on a bad port)
    except ValueError:
        return f"webhook to {mask_url(url)} refused: the URL does not parse; fix GOALPOST_WEBHOOK_URL"
    if not parts.scheme:
        return (f"webhook to {mask_url(url)} refused: the URL has no scheme; "
                "set GOALPOST_WEBHOOK_URL to an http(s) URL")
    if parts.scheme not in ("http", "https"):
        return (f"webhook to {mask_url(url)} refused: scheme {parts.scheme!r} is not http or https; "
                "set GOALPOST_WEBHOOK_URL to an http(s) URL")
    if not host:
        return f"webhook to {mask_url(url)} refused: the URL has no host; fix GOALPOST_WEBHOOK_URL"
    return None


def post_json(http: Any, url: str, body: bytes, *, headers: dict[str, str], secret: str | None,
              timeout: float) -> Delivery:
    """POST ``body`` through a :func:`session`; never raises for a refused or failed delivery."""
    import requests

    reason = precheck(url)
    if reason:
        return Delivery(False, reason, refused=True)
    all_headers = {"Content-Type": "application/json", **headers, **signature_headers(secret, body)}
    try:
        response = http.post(url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False)
    except WebhookRefused as exc:
        return Delivery(False, str(exc), refused=True)
    except requests.RequestException as exc:
        return Delivery(False, type(exc).__name__)
    if 300 <= response.status_code < 400:
        return Delivery(False, f"HTTP {response.status_code} (redirects are not followed)")
    if response.status_code >= 300:
        return Delivery(False, f"HTTP {response.status_code}")
    return Delivery(True)
