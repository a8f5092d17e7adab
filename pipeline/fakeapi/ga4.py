"""Google Analytics 4 Data API (v1beta) ``runReport`` emulation, in the recorded shapes of
``tests/fixtures/contracts/ga4/`` (see its README for the sources).

``POST /ga4/v1beta/properties/<property>:runReport`` takes the real request body (``dateRanges[{startDate,
endDate}]`` inclusive, ``dimensions[{name}]``, ``metrics[{name}]``, ``orderBys``, ``limit``, ``offset``,
``returnPropertyQuota``) and answers ``dimensionHeaders``, ``metricHeaders[{name, type}]``, ``rows[{dimensionValues,
metricValues}]`` (every value a string, ``date`` as ``YYYYMMDD``), ``rowCount``, ``metadata{currencyCode,
timeZone}``, ``propertyQuota`` (when asked) and ``kind``. A report without rows omits ``rows`` and ``rowCount``, as
recorded. Paging is offset/limit against ``rowCount``. Demo properties report in ``America/Los_Angeles`` (the
zone of the Data API documentation's examples): their ``date`` values are days in that zone.

Errors use the Google error model ``{"error": {"code", "message", "status"}}`` with the recorded messages: 401
``UNAUTHENTICATED`` (ErrorInfo ``ACCESS_TOKEN_EXPIRED``), 403 ``PERMISSION_DENIED``, 429 ``RESOURCE_EXHAUSTED``,
400 ``INVALID_ARGUMENT``, 404 ``NOT_FOUND``. ``keyEvents:<event>`` is served for the demo's ``sign_up`` key event.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import ApiError, PlatformStyle, Reply, Request, Route, slice_page

PROPERTY_TIMEZONE = "America/Los_Angeles"
CURRENCY = "USD"
DIMENSIONS = {"date": "date", "sessionSource": "source", "sessionMedium": "medium",
              "sessionCampaignName": "campaign"}
METRICS = {"sessions": ("sessions", "TYPE_INTEGER"), "engagedSessions": ("engaged_sessions", "TYPE_INTEGER"),
           "keyEvents": ("conversions", "TYPE_INTEGER"), "totalRevenue": ("revenue", "TYPE_CURRENCY"),
           "keyEvents:sign_up": ("signups", "TYPE_INTEGER")}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED"}
# Recorded / reported messages (tests/fixtures/contracts/ga4/error_*.json).
_MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
         "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "User does not have sufficient permissions for this property. To learn more about Property ID, see "
         "https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.",
    429: "Exhausted property tokens for a project per hour. These quota tokens will return in under an hour. To "
         "learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas",
    500: "Internal error encountered.",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": _MESSAGES.get(status, message),
                             "status": _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")}
    if status == 401:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED",
                             "domain": "googleapis.com",
                             "metadata": {"method": "google.analytics.data.v1beta.BetaAnalyticsData.RunReport",
                                          "service": "analyticsdata.googleapis.com"}}]
    return {"error": error}


STYLE = PlatformStyle(error_body=error_body)


def _names(request: Request, key: str, known: dict[str, Any]) -> list[str]:
    names = [item.get("name") for item in request.body.get(key, []) if isinstance(item, dict)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ApiError(400, f"Field {unknown[0]} is not a valid {key[:-1]}.")
    if key == "metrics" and not names:
        raise ApiError(400, "At least one metric is required.")
    return names


def _value(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return f"{value:.2f}" if isinstance(value, float) else str(value)


@lru_cache(maxsize=64)   # every page of one report re-asks the same rows
def _rows(prop: str, dimensions: tuple[str, ...], metrics: tuple[str, ...], first: date, last: date) -> list[dict]:
    return [{
        "dimensionValues": [{"value": _value(row, DIMENSIONS[d])} for d in dimensions],
        "metricValues": [{"value": _value(row, METRICS[m][0])} for m in metrics],
    } for day in data.days(first, last + timedelta(1)) for row in data.web_rows(prop, day)]


def _int(request: Request, name: str, default: int, value: Any) -> int:
    try:
        return int(value) if value is not None else default      # int64 fields may arrive as JSON strings
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid value at '{name}'") from None


def _quota(rows: int) -> dict[str, Any]:
    used = 10 + rows // 100
    return {"tokensPerDay": {"consumed": used, "remaining": 200_000 - used},
            "tokensPerHour": {"consumed": used, "remaining": 40_000 - used},
            "concurrentRequests": {"remaining": 10},
            "serverErrorsPerProjectPerHour": {"remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
            "tokensPerProjectPerHour": {"consumed": used, "remaining": 14_000 - used}}


def run_report(request: Request) -> Reply:
    prop = request.match["property"]
    if not data.is_demo_account("ga4", prop):
        raise ApiError(403, "property not readable")     # GA4 answers PERMISSION_DENIED for foreign properties
    dimensions, metrics = _names(request, "dimensions", DIMENSIONS), _names(request, "metrics", METRICS)
    try:
        window = request.body["dateRanges"][0]
        first, last = date.fromisoformat(window["startDate"]), date.fromisoformat(window["endDate"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ApiError(400, "dateRanges[0] needs startDate and endDate as YYYY-MM-DD") from None
    if last < first:
        raise ApiError(400, "The dateRange's endDate must not be before its startDate.")
    rows = _rows(prop, tuple(dimensions), tuple(metrics), first, last)
    offset = _int(request, "offset", 0, request.cursor("offset"))
    limit = min(_int(request, "limit", 10_000, request.body.get("limit")), 250_000)
    page, _ = slice_page(rows, offset, limit) if rows else ([], None)
    payload: dict[str, Any] = {
        "dimensionHeaders": [{"name": d} for d in dimensions],
        "metricHeaders": [{"name": m, "type": METRICS[m][1]} for m in metrics],
    }
    if page:
        payload["rows"] = page
    if rows:                                   # GA4 omits rowCount (and rows) when the report is empty
        payload["rowCount"] = len(rows)
    payload["metadata"] = {"currencyCode": CURRENCY, "timeZone": PROPERTY_TIMEZONE}
    if request.body.get("returnPropertyQuota"):
        payload["propertyQuota"] = _quota(len(rows))
    payload["kind"] = "analyticsData#runReport"
    return Reply(payload, records=page, count_path=("metricValues", 0, "value"), required_key="dimensionValues")


ROUTES = [Route("ga4", "POST", re.compile(r"/ga4/v1beta/properties/(?P<property>[^/:]+):runReport"), run_report)]
STYLES = {"ga4": STYLE}
