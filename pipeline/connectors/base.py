"""The one base every platform connector shares: HTTP policy, paging, errors, canonical tables.

HTTP policy (one ``requests.Session`` per connector):
- ``urllib3.util.Retry`` on an ``HTTPAdapter``: exponential backoff on connection errors and 5xx,
  and on 429 it sleeps for the ``Retry-After`` the server sent (``backoff_factor`` stays tiny in tests), unless
  that is above ``HttpPolicy.retry_after_cap`` (60 s): then it fails at once and Airflow retries the task later;
- a timeout on every socket read, and an overall ``HttpPolicy.deadline`` per call (the body included: a server
  dripping bytes is cut off); bodies are streamed and refused past ``HttpPolicy.max_response_bytes``, never
  buffered whole;
- throttling: when ``X-App-Usage`` (Meta) or ``x-rate-limit-remaining`` (X) says the app is at or above
  ``usage_threshold`` percent of its limit, pause ``throttle_pause`` seconds before the next call.
Errors are :class:`ConnectorError` subclasses whose messages name the platform, the connection, the account and
the date window and say what to do, never the token: a platform's own error message passes through
:meth:`Connector.redact` and no other part of a response body is ever echoed. Each platform classifies its error
bodies (:meth:`Connector.classify_error`: Graph ``error.code``, X problem+json, TikTok ``error.code``, ...); a rate
limit signalled in a body (Graph answers HTTP 400 with code 4/17/32/613) is backed off and retried within
``HttpPolicy.rate_limit_retries``, then raised so Airflow's task retry comes back later.
Records are parsed tolerantly (:meth:`Connector.parse_record`): only identity fields are required, fields a platform
omits read as None, unknown fields are counted in ``schema_drift`` and logged, never fatal. Bad *values*
(non-numeric counts) are not errors: the row gets a ``quarantine_reason`` and landing routes it to quarantine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    DecodeError,
    InvalidHeader,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util import Retry

from pipeline import logsafe
from pipeline.credentials import Credentials
from pipeline.landing import PARTITION_COLUMNS, QUARANTINE_COLUMN
from pipeline.schemas import PLATFORM_TIMEZONES, SCHEMA_VERSION, schema_for

log = logging.getLogger(__name__)
logsafe.install()   # urllib3 logs request URLs at DEBUG: never their query values

RETRY_STATUSES = (429, 500, 502, 503, 504)


def native_day_spill(platform: str) -> timedelta:
    """How far a platform's native reporting day reaches past the UTC day of the same date.

    Facebook/Instagram cut days in US Pacific time: Pacific day D ends at 07:00/08:00 UTC on D + 1,
    so a post created early on UTC day D + 1 can have metrics on native day D.
    """
    return timedelta(0) if PLATFORM_TIMEZONES.get(platform, "UTC") == "UTC" else timedelta(days=1)


class ConnectorError(Exception):
    """A pull failed; the message is safe to log (no secrets)."""


class AuthenticationError(ConnectorError):
    """The token is invalid or expired: retrying cannot help, a person must renew it."""


class PermissionDeniedError(AuthenticationError):
    """The token is valid but lacks a permission (scope) the call needs."""


class BadRequestError(ConnectorError):
    """The platform rejected a parameter of the request (a connector or configuration defect)."""


class AccountNotFoundError(ConnectorError):
    pass


class RateLimitedError(ConnectorError):
    """Rate limited; ``retry_after`` is the wait in seconds the platform asked for, when it said."""

    def __init__(self, message: str, retry_after: float | None = None, *, retries_exhausted: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        # an HTTP 429 was already retried by urllib3 (Retry-After honoured): not retried again in place
        self.retries_exhausted = retries_exhausted


class ServerError(ConnectorError):
    pass


class MalformedResponseError(ConnectorError):
    """Truncated body, non-JSON body, or a payload without the envelope the API documents."""


class PaginationLoopError(ConnectorError):
    pass


class SchemaDriftError(ConnectorError):
    """A record has fields the connector does not know, or lacks fields it needs."""


class UnsupportedEntityError(ConnectorError):
    pass


@dataclass(frozen=True)
class HttpPolicy:
    timeout: float = 30.0
    retries: int = 4
    backoff_factor: float = 0.5       # sleeps 0.5, 1, 2, 4 s between retries (capped by backoff_max)
    backoff_max: float = 30.0
    # A Retry-After longer than this is not slept through inside the task: the call fails at once with
    # RateLimitedError and Airflow's task retry (retry_delay) comes back later, freeing the worker slot.
    retry_after_cap: float = 60.0
    usage_threshold: float = 80.0     # percent of the platform's rate limit
    throttle_pause: float = 2.0
    page_size: int = 100
    # A rate limit signalled in an error body (not a 429 urllib3 sees) is retried this often, waiting
    # backoff_factor * 2**n seconds (or what the platform asked for, up to retry_after_cap) between tries.
    rate_limit_retries: int = 4
    max_pages: int = 1_000            # one listing never reads more pages than this (a loop guard)
    # A body is streamed and refused once it passes this many bytes (a declared Content-Length above it is refused
    # before reading): at most the cap plus one chunk is ever held in memory.
    max_response_bytes: int = 50 * 1024 * 1024
    # One call, from sending the request to the last byte of the body (urllib3's retries included), must finish
    # within this many seconds; ``timeout`` still bounds every single socket read.
    deadline: float = 120.0
    # This many pages in a row without records but with a next cursor are a pagination loop (an API handing out
    # fresh cursors over nothing); a last page without a cursor is never counted.
    max_empty_pages: int = 3


@dataclass(frozen=True)
class PostRef:
    """A post whose lifetime metrics a pull asks for: its id and when it was created (UTC)."""

    post_id: str
    created_at: datetime


# What the redactor masks besides the connection's own token: bearer tokens, access_token query values, and long
# opaque strings that look like tokens (Meta tokens start with EAA, TikTok's with act., LinkedIn's are 300+ chars).
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:access_token|client_secret|refresh_token|token)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"),
    re.compile(r"\b(?:EAA|act\.|AQ)[A-Za-z0-9._\-]{16,}"),
    re.compile(r"[A-Za-z0-9_\-]{40,}"),
)


def fetch_schema(entity: str) -> pa.Schema:
    """What ``Connector.fetch`` returns: the canonical schema plus the nullable quarantine reason."""
    return schema_for(entity).append(pa.field(QUARANTINE_COLUMN, pa.string()))


def _retry_after_seconds(header: str) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP date), None when unreadable."""
    try:
        return Retry().parse_retry_after(header)
    except InvalidHeader:
        return None


class _RetryAfterCapped(Retry):
    """urllib3's Retry, except that a Retry-After above ``retry_after_cap`` ends the retries instead of
    sleeping (urllib3 would sleep up to its own ``retry_after_max``, 6 h): the 429 reaches the connector."""

    def __init__(self, *args: Any, retry_after_cap: float = 60.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kwargs: Any) -> Retry:
        kwargs.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kwargs)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Retry:
        header = response.headers.get("Retry-After") if response is not None else None
        seconds = _retry_after_seconds(header) if header is not None else None
        if seconds is not None and seconds > self.retry_after_cap:
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {seconds:.0f} s is above the cap"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


# ---- paging styles: where a cursor goes in the request and where the next one comes from ----

@dataclass(frozen=True)
class Paging:
    """Base paging style; subclasses know one API's cursor convention."""

    records_key: tuple[str, ...]

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        raise NotImplementedError

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        raise NotImplementedError

    @staticmethod
    def paging_object(page: dict[str, Any]) -> dict[str, Any] | None:
        """The page's ``paging`` object (Graph, Rest.li), None on a page without one (the last page)."""
        paging = page.get("paging")
        if paging is not None and not isinstance(paging, dict):
            raise TypeError("'paging' is not an object")
        return paging

    def records(self, page: dict[str, Any]) -> list[Any]:
        node: Any = page
        for key in self.records_key:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return []
        if not isinstance(node, list):
            raise TypeError(f"'{'.'.join(self.records_key)}' is not a list")
        return node


@dataclass(frozen=True)
class GraphNextPaging(Paging):
    """Meta Graph API lists: follow ``paging.next`` whole, whatever it carries (``after`` cursors on media and
    insights, ``until`` + ``__paging_token`` on Page ``/posts``); the last page has no ``next``.

    The next URL's query replaces the request's parameters, except ``access_token`` (the token travels in the
    Authorization header, never in a URL that could be logged)."""

    records_key: tuple[str, ...] = ("data",)

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        params.clear()
        params.update((k, v) for k, v in parse_qsl(urlsplit(cursor).query, keep_blank_values=True)
                      if k != "access_token")

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        paging = self.paging_object(page)
        return paging.get("next") if paging else None


@dataclass(frozen=True)
class NextTokenPaging(Paging):
    """X API v2: ``meta.next_token`` goes back as ``pagination_token`` (timelines) or ``next_token`` (search)."""

    records_key: tuple[str, ...] = ("data",)
    param: str = "pagination_token"

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        params[self.param] = cursor

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        return page["meta"].get("next_token")


@dataclass(frozen=True)
class OffsetPaging(Paging):
    """GA4 Data API: ``offset``/``limit`` in the body until ``rowCount`` rows were read."""

    records_key: tuple[str, ...] = ("rows",)

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        assert body is not None
        body["offset"] = cursor

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        assert body is not None
        following = int(body.get("offset") or 0) + len(page.get("rows") or [])
        return following if following < int(page.get("rowCount") or 0) else None


# ---- value helpers shared by the platform modules ----

def as_count(value: Any, column: str, problems: list[str]) -> int | None:
    """An integer count, or None with a reason in ``problems`` when the API sent a non-number."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    problems.append(f"non-numeric {column}: {value!r}")
    return None


def as_amount(value: Any, column: str, problems: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    problems.append(f"non-numeric {column}: {value!r}")
    return None


def reason(problems: list[str]) -> str | None:
    return "; ".join(problems) if problems else None


def parse_utc(text: str) -> datetime:
    """RFC 3339 / Graph timestamps (``+0000``, ``Z``, ``.000Z``) to an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {text!r}")
    return moment.astimezone(UTC)


def from_epoch(value: float, *, millis: bool = False) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"epoch timestamp must be a number, got {value!r}")
    return datetime.fromtimestamp(value / 1000 if millis else value, UTC)


def as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


def in_window(entity: str, row: dict[str, Any], since: date, until: date) -> bool:
    """APIs round windows (whole pages, inclusive ends, lookbacks): keep rows of ``[since, until)``.

    A row without its day is kept: landing quarantines it with a reason instead.
    """
    value = row.get(PARTITION_COLUMNS.get(entity, "date"))
    if value is None:
        return True
    day = value.date() if isinstance(value, datetime) else value
    return since <= day < until


# ---- the connector ----

class Connector:
    """Pulls canonical entities from one platform. Subclasses set ``platform`` and ``ENTITIES``."""

    platform: ClassVar[str]
    ENTITIES: ClassVar[dict[str, str]] = {}     # entity -> method name returning canonical row dicts
    API_PREFIX: ClassVar[str] = ""              # where this platform lives on the fake API's bare host
    # The token identifies the account (no endpoint takes an account id, e.g. TikTok's Display API): one
    # connection serves exactly one account, else two accounts would silently get the same numbers.
    ACCOUNT_FROM_TOKEN: ClassVar[bool] = False

    def __init__(self, credentials: Credentials, *, policy: HttpPolicy | None = None,
                 connection_id: str | None = None, **options: Any):
        self.credentials = credentials
        self.policy = policy or HttpPolicy()
        self.connection_id = connection_id or credentials.conn_id or f"goalpost_{self.platform}"
        self.options = options
        self.throttle_events = 0
        self.extra_headers: dict[str, str] = {}     # sent on every request (e.g. LinkedIn-Version)
        self.schema_drift: Counter[tuple[str, str]] = Counter()   # (where, unknown field) -> records seen
        self.session = self._session()
        self._account: str | None = None
        self._window: tuple[date, date] | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)   # the pull moment; tests pin it

    def _session(self) -> requests.Session:
        retry = _RetryAfterCapped(
            retry_after_cap=self.policy.retry_after_cap,
            total=self.policy.retries, connect=self.policy.retries, read=self.policy.retries,
            status=self.policy.retries, backoff_factor=self.policy.backoff_factor,
            backoff_max=self.policy.backoff_max, status_forcelist=RETRY_STATUSES,
            allowed_methods=None,           # the POSTs here are read-only report queries: safe to repeat
            respect_retry_after_header=True, raise_on_status=False,
        )
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Authorization": f"Bearer {self.credentials.token}",
                                "Accept": "application/json", "User-Agent": "goalpost/0.1"})
        return session

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(connection_id={self.connection_id!r}, base_url={self.credentials.base_url!r})"

    @property
    def prefix(self) -> str:
        """Path prefix before every endpoint.

        A bare host (the fake API, ``http://127.0.0.1:8765``) serves every platform under its prefix
        (``/instagram/v21.0``); a base URL with a path is the real API root
        (``https://graph.facebook.com/v21.0``) and gets no prefix. ``api_prefix`` overrides both.
        """
        if "api_prefix" in self.options:
            return str(self.options["api_prefix"])
        return "" if urlsplit(self.credentials.base_url).path.strip("/") else self.API_PREFIX

    # -- public API --

    @classmethod
    def entities(cls) -> tuple[str, ...]:
        return tuple(cls.ENTITIES)

    def fetch(self, entity: str, account_id: str, since: date | str, until: date | str) -> pa.Table:
        """Rows of ``entity`` for ``account_id`` in ``[since, until)`` in the canonical schema
        (plus ``quarantine_reason``, null on clean rows)."""
        method = self.ENTITIES.get(entity)
        if method is None:
            raise UnsupportedEntityError(
                f"{self.platform}: entity '{entity}' is not provided; available: {', '.join(self.ENTITIES)}")
        since, until = as_date(since), as_date(until)
        if since >= until:
            raise ValueError(f"{self.platform}: empty window [{since}, {until})")
        if entity == "post_metrics":
            raise UnsupportedEntityError(f"{self.platform}: post_metrics are lifetime snapshots of given posts; "
                                         "use fetch_post_metrics(account_id, posts, pulled_at)")
        self._account, self._window = account_id, (since, until)
        rows = getattr(self, method)(account_id, since, until)
        return self.to_table(entity, account_id, [row for row in rows if in_window(entity, row, since, until)])

    def snapshot_day(self) -> date:
        """The day a count read now stands for (followers, follower demographics: values as of now, no history):
        the end of the previous UTC day, the day a daily run pulls right after. A window without that day cannot
        be pulled for such a count (a backfill of last month gets no follower rows, rather than today's)."""
        return self.clock().astimezone(UTC).date() - timedelta(days=1)

    def fetch_post_metrics(self, account_id: str, posts: Sequence[PostRef], pulled_at: datetime) -> pa.Table:
        """Lifetime metrics of ``posts`` as the platform reports them now, one row per post, stamped with the
        pull: ``date`` = the UTC day of ``pulled_at`` (the lake partition).

        Values are the platform's lifetime totals, never summed here; SQL derives daily increments from
        consecutive snapshots and takes the latest snapshot for post KPIs (DECISIONLOG "Lifetime snapshots")."""
        if "post_metrics" not in self.ENTITIES:
            raise UnsupportedEntityError(f"{self.platform}: entity 'post_metrics' is not provided; "
                                         f"available: {', '.join(self.ENTITIES)}")
        pulled_at = pulled_at.astimezone(UTC)
        self._account = account_id
        self._window = (pulled_at.date(), pulled_at.date() + timedelta(days=1))
        rows = self.post_metrics(account_id, list(posts)) if posts else []
        stamped = [{**row, "date": pulled_at.date()} for row in rows]
        return self.to_table("post_metrics", account_id, stamped)

    def post_metrics(self, account_id: str, posts: list[PostRef]) -> list[dict[str, Any]]:
        raise UnsupportedEntityError(f"{self.platform}: entity 'post_metrics' is not provided")

    def to_table(self, entity: str, account_id: str, rows: list[dict[str, Any]]) -> pa.Table:
        schema = fetch_schema(entity)
        fixed: dict[str, Any] = {"platform": self.platform, "account_id": account_id,
                                 "schema_version": SCHEMA_VERSION}
        if "report_timezone" in schema.names:
            fixed["report_timezone"] = PLATFORM_TIMEZONES[self.platform]
        return pa.Table.from_pylist([{**fixed, **row} for row in rows], schema=schema)

    # -- HTTP --

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call; a rate limit signalled in an error body is backed off and retried (bounded), every other
        error raises its classified :class:`ConnectorError`."""
        for attempt in range(self.policy.rate_limit_retries + 1):
            try:
                return self._request_once(method, path, params=params, body=body)
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else \
                    min(self.policy.backoff_factor * 2 ** attempt, self.policy.backoff_max)
                if exc.retries_exhausted or attempt == self.policy.rate_limit_retries \
                        or wait > self.policy.retry_after_cap:
                    raise
                log.warning("%s: rate limited on %s %s; retry %d of %d in %.2f s", self.platform, method, path,
                            attempt + 1, self.policy.rate_limit_retries, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _request_once(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.credentials.base_url}{path}"
        endpoint = path.split("?", 1)[0]      # for messages: the query (ids, Rest.li lists) stays out
        headers = self.extra_headers or None
        deadline = time.monotonic() + self.policy.deadline
        try:
            # stream=True: urllib3's status retries still happen first (they need only the headers); the body is
            # read below, chunk by chunk, under the size cap and the deadline
            response = self.session.request(method, url, params=params, json=body, headers=headers,
                                            timeout=min(self.policy.timeout, self.policy.deadline), stream=True)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise MalformedResponseError(self.failure(
                f"truncated response body from {method} {endpoint} ({type(exc).__name__})")) from None
        except requests.exceptions.Timeout:
            raise ConnectorError(self.failure(f"{method} {endpoint} timed out after {self.policy.timeout} s "
                                              f"and {self.policy.retries} retries")) from None
        except requests.exceptions.ConnectionError as exc:
            raise ConnectorError(self.failure(f"cannot reach {self.credentials.base_url} after "
                                              f"{self.policy.retries} retries ({type(exc).__name__})")) from None
        try:
            content = self._read_body(response, method, endpoint, deadline)
        finally:
            response.close()      # a fully read body returns the connection to the pool; a partial one drops it
        self._throttle(response.headers)
        if response.status_code >= 400:
            raise self._http_error(response, method, path)
        try:
            payload = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise MalformedResponseError(self.failure(
                f"response from {method} {endpoint} is not JSON ({kind}, {len(content)} bytes)")) from None
        if not isinstance(payload, dict):
            raise MalformedResponseError(self.failure(f"response from {method} {endpoint} is not a JSON object"))
        return payload

    _READ_CHUNK: ClassVar[int] = 64 * 1024

    def _read_body(self, response: requests.Response, method: str, endpoint: str, deadline: float) -> bytes:
        """The body of a streamed ``response``, read chunk by chunk: refused as soon as it passes
        ``HttpPolicy.max_response_bytes`` (never more than the cap plus one chunk in memory) or when the call is
        still reading at its deadline. Sets the body as the response's content (``.json()``, ``.content``)."""
        cap = self.policy.max_response_bytes

        def too_big() -> MalformedResponseError:
            return MalformedResponseError(self.failure(
                f"response from {method} {endpoint} exceeds the {cap}-byte cap; stopped reading it: ask for smaller "
                "pages (HttpPolicy.page_size) or raise HttpPolicy.max_response_bytes"))

        def too_slow() -> ConnectorError:
            return ConnectorError(self.failure(
                f"{method} {endpoint} did not finish within {self.policy.deadline:g} s (the server is sending too "
                "slowly); retry later, or raise HttpPolicy.deadline if this API is known to be slow"))

        declared = response.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            raise too_big()
        raw = response.raw
        data = bytearray()
        while True:
            # a silent server is cut off at the deadline, not one per-read timeout later
            self._limit_read_wait(raw, min(self.policy.timeout, max(deadline - time.monotonic(), 0.01)))
            try:
                chunk = raw.read1(self._READ_CHUNK)     # returns what one socket read brings: a drip is seen
            except ReadTimeoutError:
                if time.monotonic() >= deadline:
                    raise too_slow() from None
                raise ConnectorError(self.failure(f"{method} {endpoint} timed out after {self.policy.timeout} s "
                                                  "while reading the response body; retry later")) from None
            except (ProtocolError, DecodeError) as exc:
                raise MalformedResponseError(self.failure(
                    f"truncated response body from {method} {endpoint} ({type(exc).__name__})")) from None
            if not chunk:
                break
            data += chunk
            if len(data) > cap:
                raise too_big()
            # past the deadline with more still to come (unknown for a chunked body): too slow
            if time.monotonic() > deadline and raw.length_remaining != 0:
                raise too_slow()
        content = bytes(data)
        response._content = content
        response._content_consumed = True
        return content

    @staticmethod
    def _limit_read_wait(raw: Any, seconds: float) -> None:
        """Bound the next socket read of a streamed response (the connection is None once the body is done)."""
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(seconds)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def pages(self, method: str, path: str, paging: Paging, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield each page's payload; stop on the last page, raise on a loop (same cursor or page twice, or
        ``HttpPolicy.max_empty_pages`` pages in a row without records but with a next cursor)."""
        params, body = dict(params or {}), (dict(body) if body is not None else None)
        seen_cursors: set[str] = set()
        seen_pages: set[str] = set()
        empty_in_a_row = 0
        endpoint = path.split("?", 1)[0]
        for _ in range(self.policy.max_pages):
            page = self.request(method, path, params=params, body=body)
            try:
                records = paging.records(page)
                cursor = paging.next_cursor(page, params, body)
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedResponseError(self.failure(
                    f"page from {method} {endpoint} lacks its paging envelope ({exc})")) from None
            empty_in_a_row = 0 if records or cursor is None else empty_in_a_row + 1
            if empty_in_a_row >= self.policy.max_empty_pages:
                raise PaginationLoopError(self.failure(
                    f"pagination loop on {method} {endpoint}: it returned {empty_in_a_row} empty pages in a row "
                    "with fresh cursors; stopping (HttpPolicy.max_empty_pages); retry later"))
            fingerprint = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
            if records and fingerprint in seen_pages:
                raise PaginationLoopError(self.failure(f"pagination loop on {method} {endpoint}: "
                                                       "the same page came back twice"))
            seen_pages.add(fingerprint)
            yield page
            if cursor is None:
                return
            if str(cursor) in seen_cursors:
                raise PaginationLoopError(self.failure(f"pagination loop on {method} {endpoint}: "
                                                       f"cursor {str(cursor)[:40]!r} returned twice"))
            seen_cursors.add(str(cursor))
            paging.apply(params, body, cursor)
        raise PaginationLoopError(self.failure(f"{method} {endpoint} still had more pages after "
                                               f"{self.policy.max_pages} (HttpPolicy.max_pages)"))

    def records(self, method: str, path: str, paging: Paging, **kwargs: Any) -> Iterator[Any]:
        for page in self.pages(method, path, paging, **kwargs):
            yield from paging.records(page)

    # -- shape checks --

    def parse_record(self, record: Any, where: str, *, required: Iterable[str] = (),
                     known: Iterable[str] = ()) -> dict[str, Any]:
        """A record as the platform sent it, checked tolerantly.

        Only ``required`` (identity) fields must be there: a record without one cannot land. A ``known`` field
        the platform omitted (Graph omits fields that have no value) reads as None through ``.get``. A field
        neither required nor known is counted in ``schema_drift`` (and logged once per field), never fatal."""
        if not isinstance(record, dict):
            raise SchemaDriftError(self.failure(f"schema drift in {where}: expected an object, "
                                                f"got {type(record).__name__}"))
        required = set(required)
        missing = sorted(name for name in required if record.get(name) is None)
        if missing:
            raise SchemaDriftError(self.failure(f"schema drift in {where}: record without its identity "
                                                f"field(s) {', '.join(missing)}"))
        for name in sorted(record.keys() - required - set(known)):
            if (where, name) not in self.schema_drift:
                log.warning("%s: schema drift in %s: unknown field %r (ignored, counted)", self.platform, where,
                            name)
            self.schema_drift[(where, name)] += 1
        return record

    def parse_time(self, value: Any, where: str, parser: Callable[[Any], datetime] = parse_utc) -> datetime:
        try:
            return parser(value)
        except (TypeError, ValueError, OverflowError):
            raise SchemaDriftError(f"{self.platform}: schema drift in {where}: bad timestamp {value!r}") from None

    # -- errors and throttling --

    def where(self) -> str:
        """Which pull this is, for messages: connection, account and date window."""
        parts = [f"connection '{self.connection_id}'"]
        if self._account:
            parts.append(f"account '{self._account}'")
        if self._window:
            since, until = self._window
            parts.append(f"window {since.isoformat()}..{(until - timedelta(days=1)).isoformat()}")
        return ", ".join(parts)

    def failure(self, text: str) -> str:
        """``<platform>: <text> (connection 'c', account 'a', window since..last day)``, with secrets masked."""
        return f"{self.platform}: {self.redact(text)} ({self.where()})"

    def redact(self, text: str, limit: int = 300) -> str:
        """``text`` safe to log: the connection's token and anything shaped like a token masked, cut to ``limit``."""
        token = self.credentials.token
        if token:
            text = text.replace(token, "***")
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + "***", text)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        """Per platform: the error a response body describes (rate limit, expired token, missing permission,
        bad parameter), or None for the generic handling by HTTP status. ``payload`` is the parsed JSON body
        (None when it is not JSON). Build messages with :meth:`failure`; pass the platform's own message text
        through :meth:`redact`, never the body."""
        return None

    def _http_error(self, response: requests.Response, method: str, path: str) -> ConnectorError:
        status = response.status_code
        path = path.split("?", 1)[0]      # the endpoint; its query (ids, Rest.li lists) is not for messages
        try:
            payload = response.json()
        except ValueError:
            payload = None
        retries = len(response.raw.retries.history) if getattr(response.raw, "retries", None) else 0
        classified = self.classify_error(status, payload, response.headers)
        if status == 429:
            # urllib3 already waited (Retry-After honoured) and retried it: never retried again in place
            wait = response.headers.get("Retry-After")
            seconds = _retry_after_seconds(wait) if wait is not None else None
            if isinstance(classified, RateLimitedError) and (seconds is None or seconds <= self.policy.retry_after_cap):
                classified.retries_exhausted = True
                return classified
            return self._too_many_requests(response, method, path, retries)
        if classified is not None:
            return classified
        if status in (401, 403):
            return AuthenticationError(self.failure(
                f"{status} {response.reason}: the token for connection '{self.connection_id}' is invalid, expired "
                "or lacks a permission; renew it in the Airflow connection"))
        if status == 404:
            return AccountNotFoundError(self.failure(f"account '{self._account}' not found (404)"))
        if status >= 500:
            return ServerError(self.failure(f"server error {status} on {method} {path} after {retries} retries"))
        if status == 400:
            return BadRequestError(self.failure(f"HTTP 400 on {method} {path}: the platform rejected a parameter"))
        return ConnectorError(self.failure(f"HTTP {status} on {method} {path}"))

    def _too_many_requests(self, response: requests.Response, method: str, path: str,
                           retries: int) -> RateLimitedError:
        wait = response.headers.get("Retry-After")
        seconds = _retry_after_seconds(wait) if wait is not None else None
        if seconds is not None and seconds > self.policy.retry_after_cap:
            return RateLimitedError(self.failure(
                f"rate limited (429) on {method} {path}: the server asks to wait {seconds:.0f} s, more than the "
                f"{self.policy.retry_after_cap:.0f} s a task waits in place; failing so the task is retried later"),
                seconds, retries_exhausted=True)
        return RateLimitedError(self.failure(f"still rate limited (429) on {method} {path} after {retries} retries"),
                                retries_exhausted=True)

    def usage_percent(self, headers: Any) -> float:
        """How close the app is to its rate limit, from the platform's usage headers (0 when unknown)."""
        level = 0.0
        if app_usage := headers.get("X-App-Usage"):
            try:
                level = max(float(v) for v in json.loads(app_usage).values())
            except (ValueError, TypeError, AttributeError):
                log.warning("%s: unreadable X-App-Usage header", self.platform)
        remaining, limit = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-limit")
        if remaining is not None and limit:
            try:
                level = max(level, 100.0 * (1 - int(remaining) / int(limit)))
            except ValueError:
                log.warning("%s: unreadable x-rate-limit headers", self.platform)
        return level

    def _throttle(self, headers: Any) -> None:
        level = self.usage_percent(headers)
        if level >= self.policy.usage_threshold:
            self.throttle_events += 1
            log.info("%s: rate limit usage at %.0f%%; pausing %.2f s", self.platform, level,
                     self.policy.throttle_pause)
            time.sleep(self.policy.throttle_pause)

