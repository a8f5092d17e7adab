"""The HTTP side of the fake API: routing, Bearer auth, fault injection, JSON replies.

Platform modules (meta, linkedin, tiktok, xapi, ga4) only turn a parsed :class:`Request` into
a :class:`Reply`; everything cross-cutting (auth, faults, error bodies, headers) lives here.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FAULT_KINDS = (
    "429", "500", "401", "404",       # answer with this status (platform-shaped body; 429 adds Retry-After)
    "truncated",                      # send half the body, then close the connection
    "non_json",                       # 200 with an HTML page
    "repeat_cursor",                  # ignore the request's cursor/offset: the same page again and again
    "unknown_field",                  # add an undocumented field to every record
    "missing_field",                  # drop a required field from every record
    "negative_count",                 # a count in every record becomes -5
    "non_numeric_count",              # a count in every record becomes "n/a"
    "near_limit",                     # usage headers say the app is close to its rate limit
    "huge_body",                      # the real reply padded with whitespace to HUGE_BODY_BYTES, sent chunked
    "slow_drip",                      # the real reply, one byte every DRIP_INTERVAL seconds
    "empty_pages",                    # a listing page with no records, its next cursor as usual (fresh)
)
HUGE_BODY_BYTES = 5 * 1024 * 1024     # what a huge_body reply sends in all (no Content-Length: the client must count)
DRIP_INTERVAL = 0.2                   # seconds between the bytes of a slow_drip reply


class ApiError(Exception):
    """Raised by a handler: rendered as the platform's error body with this status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    base_url: str
    match: re.Match[str]
    ignore_cursor: bool = False
    today: date = field(default_factory=lambda: datetime.now(UTC).date())   # the fake world's clock

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, self.body.get(name, default))

    def require(self, name: str) -> str:
        value = self.arg(name)
        if value in (None, ""):
            raise ApiError(400, f"missing required parameter '{name}'")
        return str(value)

    def cursor(self, name: str) -> str | None:
        """The paging cursor/offset, or None (first page) while a repeat_cursor fault is active."""
        return None if self.ignore_cursor else self.arg(name)


@dataclass
class Reply:
    payload: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)   # what record faults mutate
    count_path: tuple[str | int, ...] = ()                          # where a count sits in a record
    required_key: str | None = None                                 # what missing_field drops


@dataclass(frozen=True)
class Route:
    platform: str
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request], Reply]


@dataclass
class PlatformStyle:
    """How a platform shapes errors and usage headers."""

    error_body: Callable[[int, str], dict[str, Any]]
    usage_headers: Callable[[bool], dict[str, str]] = lambda near_limit: {}


@dataclass
class FaultRule:
    path: str
    fault: str
    remaining: int = 1
    retry_after: int = 1

    def matches(self, path: str) -> bool:
        return re.search(self.path, path) is not None


class FakeApi:
    """Routing table + state (token, fault rules, request log); used by the request handler."""

    def __init__(self, routes: list[Route], styles: dict[str, PlatformStyle], token: str,
                 today: date | None = None):
        self.routes = routes
        self.styles = styles
        self.token = token
        # Lifetime post metrics are "as of now": None follows the real UTC day; tests pin a day.
        self.today = today
        self.faults: list[FaultRule] = []
        self.request_log: list[str] = []
        self._lock = threading.Lock()

    def add_faults(self, rules: list[dict[str, Any]]) -> None:
        parsed = []
        for rule in rules:
            if rule.get("fault") not in FAULT_KINDS:
                raise ApiError(400, f"unknown fault {rule.get('fault')!r}; known: {', '.join(FAULT_KINDS)}")
            parsed.append(FaultRule(path=str(rule.get("path", ".*")), fault=rule["fault"],
                                    remaining=int(rule.get("count", 1)),
                                    retry_after=int(rule.get("retry_after", 1))))
        with self._lock:
            self.faults.extend(parsed)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.request_log.clear()

    def take_fault(self, path: str) -> FaultRule | None:
        with self._lock:
            self.request_log.append(path)
            for rule in self.faults:
                if rule.matches(path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.faults.remove(rule)
                    return rule
        return None

    def route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if route.method == method and match:
                return route, match
        return None


def _set_path(record: Any, path: tuple[str | int, ...], value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


def apply_record_fault(reply: Reply, fault: str) -> None:
    for record in reply.records:
        if fault == "unknown_field":
            record["surprise_field"] = "new in this API version"
        elif fault == "missing_field" and reply.required_key:
            record.pop(reply.required_key, None)
        elif fault == "negative_count" and reply.count_path:
            _set_path(record, reply.count_path, -5)
        elif fault == "non_numeric_count" and reply.count_path:
            _set_path(record, reply.count_path, "n/a")
    if fault == "empty_pages":
        reply.records.clear()       # the page's own list (payload and records share it); paging stays as it was


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out as separate writes: avoid 40 ms ACK stalls
    server: ApiHttpServer

    def log_message(self, format: str, *args: Any) -> None:   # quiet: tests and demo read stdout
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, truncate: bool = False,
              content_type: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self._send(status, body, headers or {}, **kwargs)

    def _send_huge(self, body: bytes, headers: dict[str, str]) -> None:
        """``body`` then whitespace (still valid JSON) up to HUGE_BODY_BYTES, chunked in 64 KiB pieces, written
        lazily: a client that stops reading and closes ends it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        piece = 64 * 1024
        total = max(HUGE_BODY_BYTES, len(body))
        chunks = (body[i:i + piece] + b" " * (min(piece, total - i) - len(body[i:i + piece]))
                  for i in range(0, total, piece))
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_drip(self, body: bytes, headers: dict[str, str]) -> None:
        """``body`` with its Content-Length, one byte every DRIP_INTERVAL seconds; a client that closes ends it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                time.sleep(DRIP_INTERVAL)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        raw = self.rfile.read(length)
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ApiError(400, "request body is not JSON") from None
        return parsed if isinstance(parsed, dict) else {}

    def _dispatch(self, method: str) -> None:
        api = self.server.api
        split = urlsplit(self.path)
        path = split.path
        try:
            body = self._read_body()
        except ApiError as exc:
            self._json(400, {"error": exc.message})
            return
        if path == "/_faults":
            self._control(method, body)
            return
        found = api.route(method, path)
        if not found:
            self._json(404, {"error": f"no route for {method} {path}"})
            return
        route, match = found
        style = api.styles[route.platform]
        if self.headers.get("Authorization") != f"Bearer {api.token}":
            self._json(401, style.error_body(401, "Invalid or expired access token"))
            return
        fault = api.take_fault(path)
        kind = fault.fault if fault else None
        if kind in ("429", "500", "401", "404"):
            status = int(kind)
            headers = {"Retry-After": str(fault.retry_after)} if status == 429 else {}
            self._json(status, style.error_body(status, f"injected fault {kind}"), headers)
            return
        if kind == "non_json":
            self._send(200, b"<html><body>Service temporarily unavailable</body></html>", {},
                       content_type="text/html")
            return
        host = self.headers.get("Host", "127.0.0.1")
        request = Request(method=method, path=path, query=dict(parse_qsl(split.query)), body=body,
                          base_url=f"http://{host}", match=match, ignore_cursor=kind == "repeat_cursor",
                          **({"today": api.today} if api.today else {}))
        try:
            reply = route.handler(request)
        except ApiError as exc:
            self._json(exc.status, style.error_body(exc.status, exc.message))
            return
        if kind:
            apply_record_fault(reply, kind)
        if kind in ("huge_body", "slow_drip"):
            body = json.dumps(reply.payload, ensure_ascii=False, separators=(",", ":")).encode()
            (self._send_huge if kind == "huge_body" else self._send_drip)(body, style.usage_headers(False))
            return
        self._json(200, reply.payload, style.usage_headers(kind == "near_limit"), truncate=kind == "truncated")

    def _control(self, method: str, body: dict[str, Any]) -> None:
        api = self.server.api
        if method == "DELETE":
            api.clear()
            self._json(200, {"faults": []})
        elif method == "POST":
            try:
                api.add_faults(body.get("rules", [body]))
            except ApiError as exc:
                self._json(400, {"error": exc.message})
                return
            self._json(200, {"faults": [vars(rule) for rule in api.faults]})
        else:
            self._json(200, {"faults": [vars(rule) for rule in api.faults], "requests": len(api.request_log)})


class ApiHttpServer(ThreadingHTTPServer):
    """Thread per connection (keep-alive); daemon threads so a stop never waits on an idle client."""

    daemon_threads = True
    api: FakeApi


def slice_page(items: list[Any], offset: int, limit: int) -> tuple[list[Any], int | None]:
    """One page of ``items`` and the next offset (None on the last page)."""
    end = offset + max(1, limit)
    page = copy.deepcopy(items[offset:end])      # faults mutate records; cached lists must stay intact
    return page, (end if end < len(items) else None)


def encode_cursor(offset: int) -> str:
    """Opaque cursor, like the base64 strings real APIs hand out."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("offset:"))
    except ValueError:
        raise ApiError(400, f"invalid cursor {cursor!r}") from None


def int_arg(request: Request, name: str, default: int, maximum: int) -> int:
    try:
        return min(int(request.arg(name, str(default)) or default), maximum)
    except ValueError:
        raise ApiError(400, f"parameter '{name}' must be an integer") from None


def iso_date(request: Request, name: str) -> date:
    text = request.require(name)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ApiError(400, f"parameter '{name}' must be a date (YYYY-MM-DD), got {text!r}") from None
