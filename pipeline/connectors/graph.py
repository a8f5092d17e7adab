"""Shared Meta Graph API client logic for the Instagram and Facebook connectors.

The recorded shapes (tests/fixtures/contracts/instagram/README.md):
- lists: ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"?, "previous"?}}``; the last page
  has no ``next`` -> :class:`GraphNextPaging` follows ``paging.next`` whole;
- time-series insights: ``{"name", "period", "values": [{"value", "end_time"}], "title", "description", "id"}``
  where ``end_time`` is the end of the native (US Pacific) day, so the row's ``date`` is the Pacific date one
  second before it;
- ``metric_type=total_value`` insights: ``{"name", "period", "total_value": {"value", "breakdowns"?}, ...}``;
- lifetime (media) insights: ``{"name", "period": "lifetime", "values": [{"value"}], ...}`` (no ``end_time``);
- errors: HTTP 400 ``{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}``
  (:func:`classify_graph_error`).
Graph omits fields that have no value and returns ``id`` unasked: records are parsed with ``parse_record``
(identity fields required, the rest nullable, unknown fields counted as drift).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    Connector,
    ConnectorError,
    GraphNextPaging,
    MalformedResponseError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    as_count,
    reason,
)
from pipeline.schemas import PLATFORM_TIMEZONES

# Graph API error codes (developers.facebook.com/docs/graph-api/guides/error-handling and .../overview/rate-limiting):
# every one of these arrives as HTTP 400 (some as 403/500) with {"error": {"message", "type", "code",
# "error_subcode", "is_transient", "fbtrace_id"}}.
GRAPH_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009,
                                    80014})
GRAPH_EXPIRED_TOKEN_CODES = frozenset({102, 190})
GRAPH_PERMISSION_CODES = frozenset({3, 10}) | frozenset(range(200, 300))
GRAPH_BAD_PARAMETER_CODES = frozenset({100})
GRAPH_TRANSIENT_CODES = frozenset({1, 2})


def current_metrics(platform: str, names: dict[str, str], deprecated: Mapping[str, Any]) -> dict[str, str]:
    """``names`` if none is deprecated (a guard: a connector's metric maps hold only current metrics; the
    deprecated ones, with their successors, are data in ``deprecated``)."""
    stale = sorted(name for name in names if name in deprecated)
    if stale:
        raise ValueError(f"{platform}: deprecated metric(s) {', '.join(stale)}; use "
                         f"{', '.join(str(deprecated[n].successor) for n in stale)}")
    return names


def classify_graph_error(connector: Connector, status: int, payload: Any) -> ConnectorError | None:
    """The ConnectorError a Graph error body describes, or None when the body is not a Graph error."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return None
    code, subcode = error["code"], error.get("error_subcode")
    said = connector.redact(str(error.get("message") or ""), limit=160)
    detail = f"Graph error {code}{f'/{subcode}' if subcode else ''} ({said})"
    if code in GRAPH_RATE_LIMIT_CODES:
        return RateLimitedError(connector.failure(f"rate limited: {detail}"))
    if code in GRAPH_EXPIRED_TOKEN_CODES:
        return AuthenticationError(connector.failure(
            f"token for connection '{connector.connection_id}' is expired or invalid: {detail}; "
            "renew the token in the Airflow connection"))
    if code in GRAPH_PERMISSION_CODES:
        return PermissionDeniedError(connector.failure(
            f"token for connection '{connector.connection_id}' lacks a permission this call needs: {detail}; "
            "grant it to the app / token"))
    if code in GRAPH_BAD_PARAMETER_CODES:
        return BadRequestError(connector.failure(f"the API rejected a parameter: {detail}"))
    if code in GRAPH_TRANSIENT_CODES or error.get("is_transient") or status >= 500:
        return ServerError(connector.failure(f"transient Graph error: {detail}"))
    return ConnectorError(connector.failure(f"HTTP {status}: {detail}"))


INSIGHT_KNOWN = frozenset({"name", "period", "values", "total_value", "title", "description", "id"})
VALUE_KNOWN = frozenset({"value", "end_time"})
TOTAL_VALUE_KNOWN = frozenset({"value", "breakdowns"})


class GraphConnector(Connector):
    """Subclasses set ``API_VERSION``, ``FAKE_ROOT``, the post edge, ``POST_FIELDS`` and ``post_row``."""

    API_VERSION: ClassVar[str]
    FAKE_ROOT: ClassVar[str]                       # e.g. "/instagram": the fake API serves <root>/<version>
    POSTS_EDGE: ClassVar[str]
    POST_FIELDS: ClassVar[tuple[str, ...]]         # requested ``fields`` (Graph returns only those with a value)
    POST_REQUIRED: ClassVar[tuple[str, ...]]       # identity fields: id + the creation timestamp

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        if status == 429 or status >= 500:   # HTTP-level 429/5xx: already retried by the transport
            return None
        return classify_graph_error(self, status, payload)

    @property
    def api_version(self) -> str:
        return str(self.options.get("api_version") or self.API_VERSION)

    @property
    def prefix(self) -> str:
        """``/instagram/<version>`` on the fake API's bare host; nothing on a real root that carries its version
        (``https://graph.facebook.com/v25.0``); ``api_prefix`` overrides both."""
        if "api_prefix" in self.options:
            return str(self.options["api_prefix"])
        return "" if urlsplit(self.credentials.base_url).path.strip("/") else f"{self.FAKE_ROOT}/{self.api_version}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(PLATFORM_TIMEZONES[self.platform])

    def native_day(self, end_time: Any, where: str) -> date:
        moment = self.parse_time(end_time, where)
        return (moment - timedelta(seconds=1)).astimezone(self.zone).date()

    def insight_records(self, node: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The insight objects of one ``GET /<node>/insights``, parsed tolerantly. Its ``paging.next`` is NOT
        followed: on insights it points at the following time window (recorded:
        user_insights_reach_total_value.json), not at more of this answer."""
        payload = self.get(f"{self.prefix}/{node}/insights", params)
        try:
            records = GraphNextPaging().records(payload)
        except TypeError as exc:
            raise MalformedResponseError(self.failure(f"insights of {node} lack their data list ({exc})")) from None
        return [self.parse_record(insight, f"{node}/insights", required=("name",), known=INSIGHT_KNOWN)
                for insight in records]

    def time_series(self, node: str, metrics: dict[str, str], since: date, until: date,
                    period: str = "day") -> dict[date, dict[str, Any]]:
        """``{native day: {column: raw value}}`` from time-series insights (``values[{value, end_time}]``)."""
        by_day: dict[date, dict[str, Any]] = {}
        if not metrics:
            return by_day
        params = {"metric": ",".join(metrics), "period": period, "since": since.isoformat(),
                  "until": until.isoformat()}
        for insight in self.insight_records(node, params):
            column = metrics.get(insight["name"])
            if column is None:
                continue
            for value in insight.get("values") or []:
                where = f"insights.{insight['name']}.values"
                self.parse_record(value, where, required=("end_time",), known=VALUE_KNOWN)
                by_day.setdefault(self.native_day(value["end_time"], where), {})[column] = value.get("value")
        return by_day

    def total_values(self, node: str, metrics: dict[str, str], since: date, until: date,
                     period: str = "day") -> dict[str, Any]:
        """``{column: raw value}`` from ``metric_type=total_value`` insights: one total for the whole window."""
        if not metrics:
            return {}
        params = {"metric": ",".join(metrics), "metric_type": "total_value", "period": period,
                  "since": since.isoformat(), "until": until.isoformat()}
        found: dict[str, Any] = {}
        for insight in self.insight_records(node, params):
            column = metrics.get(insight["name"])
            if column is None:
                continue
            total = self.parse_record(insight.get("total_value") or {}, f"insights.{insight['name']}.total_value",
                                      known=TOTAL_VALUE_KNOWN)
            found[column] = total.get("value")
        return found

    def lifetime_values(self, node: str, metrics: dict[str, str]) -> dict[str, Any]:
        """``{column: raw value}`` of lifetime insights (``values: [{"value": N}]``, no ``end_time``); a metric the
        platform left out of the answer is absent (the caller reads it as None, never 0)."""
        found: dict[str, Any] = {}
        for insight in self.insight_records(node, {"metric": ",".join(metrics)}):
            column = metrics.get(insight["name"])
            if column is None:
                continue
            values = insight.get("values") or []
            if values:
                found[column] = self.parse_record(values[-1], f"insights.{insight['name']}.values",
                                                  known=VALUE_KNOWN).get("value")
            elif isinstance(insight.get("total_value"), dict):
                found[column] = insight["total_value"].get("value")
        return found

    @staticmethod
    def counted(values: dict[str, Any], columns: tuple[str, ...] = ()) -> dict[str, Any]:
        """Counts (None where the platform reported nothing) + ``quarantine_reason`` for non-numeric values."""
        problems: list[str] = []
        row = {column: as_count(values.get(column), column, problems) for column in (*columns, *values)}
        return {**row, "quarantine_reason": reason(problems)}

    def post_list(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        """Canonical post rows created in ``[since, until)`` (UTC days; ``Connector.fetch`` trims the window)."""
        params = {"fields": ",".join(self.POST_FIELDS), "since": since.isoformat(), "until": until.isoformat(),
                  "limit": self.policy.page_size}
        return [self.post_row(self.parse_record(record, self.POSTS_EDGE, required=self.POST_REQUIRED,
                                                known=self.POST_FIELDS))
                for record in self.records("GET", f"{self.prefix}/{account_id}/{self.POSTS_EDGE}", GraphNextPaging(),
                                           params=params)]

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        return self.post_list(account_id, since, until)

    def created(self, record: dict[str, Any], key: str) -> datetime:
        return self.parse_time(record[key], f"{self.POSTS_EDGE}.{key}")
