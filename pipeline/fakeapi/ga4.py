"""Google Analytics 4 Data API (v1beta) ``runReport`` emulation.

``POST /ga4/v1beta/properties/<property>:runReport`` with the real request body
(``dateRanges[{startDate, endDate}]`` inclusive, ``dimensions[{name}]``, ``metrics[{name}]``,
``limit``, ``offset``) answers ``dimensionHeaders``, ``metricHeaders``, ``rows[{dimensionValues,
metricValues}]`` (all values strings, dates as ``YYYYMMDD``), ``rowCount`` and ``metadata``.
Paging is offset/limit against ``rowCount``, as in the real API.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import ApiError, PlatformStyle, Reply, Request, Route, int_arg, slice_page

DIMENSIONS = {"date": "date", "sessionSource": "source", "sessionMedium": "medium",
              "sessionCampaignName": "campaign"}
METRICS = {"sessions": ("sessions", "TYPE_INTEGER"), "engagedSessions": ("engaged_sessions", "TYPE_INTEGER"),
           "keyEvents": ("conversions", "TYPE_INTEGER"), "totalRevenue": ("revenue", "TYPE_CURRENCY"),
           "keyEvents:sign_up": ("signups", "TYPE_INTEGER"), "firstTimePurchasers": ("new_customers", "TYPE_INTEGER")}
_STATUS = {401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "INTERNAL")}}


STYLE = PlatformStyle(error_body=error_body)


def _names(request: Request, key: str, known: dict[str, Any]) -> list[str]:
    names = [item.get("name") for item in request.body.get(key, []) if isinstance(item, dict)]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise ApiError(400, f"Field {unknown[0] if unknown else key} is not a valid {key[:-1]} name.")
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


def run_report(request: Request) -> Reply:
    prop = request.match["property"]
    if not data.is_demo_account("ga4", prop):
        raise ApiError(404, f"Property properties/{prop} not found.")
    dimensions, metrics = _names(request, "dimensions", DIMENSIONS), _names(request, "metrics", METRICS)
    try:
        window = request.body["dateRanges"][0]
        first, last = date.fromisoformat(window["startDate"]), date.fromisoformat(window["endDate"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ApiError(400, "dateRanges[0] needs startDate and endDate as YYYY-MM-DD") from None
    rows = _rows(prop, tuple(dimensions), tuple(metrics), first, last)
    offset = int(request.cursor("offset") or 0)
    page, _ = slice_page(rows, offset, int_arg(request, "limit", 10_000, 250_000))
    payload = {
        "dimensionHeaders": [{"name": d} for d in dimensions],
        "metricHeaders": [{"name": m, "type": METRICS[m][1]} for m in metrics],
        "rows": page,
        "rowCount": len(rows),
        "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
        "kind": "analyticsData#runReport",
    }
    return Reply(payload, records=page, count_path=("metricValues", 0, "value"), required_key="dimensionValues")


ROUTES = [Route("ga4", "POST", re.compile(r"/ga4/v1beta/properties/(?P<property>[^/:]+):runReport"), run_report)]
STYLES = {"ga4": STYLE}
