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

Issue #24: ``firstUserSource`` / ``firstUserMedium`` / ``firstUserCampaignName`` with ``newUsers`` / ``totalUsers``
(first-touch rows: each day's key events and revenue re-split over the channels that first acquired the users, so a
day's totals match the session report's), and cohort requests (``cohortSpec`` with ``firstSessionDate`` cohorts,
``MONTHLY`` cohortsRange, no ``dateRanges``; dimensions ``cohort``, ``cohortNthMonth``, ``firstUserSource``,
``firstUserMedium``; metrics ``cohortTotalUsers``, ``cohortActiveUsers``). Months a cohort has not reached by its
latest cohort's end day are not reported.
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
              "sessionCampaignName": "campaign", "firstUserSource": "source", "firstUserMedium": "medium",
              "firstUserCampaignName": "campaign"}
FIRST_USER_DIMENSIONS = {"firstUserSource", "firstUserMedium", "firstUserCampaignName"}
METRICS = {"sessions": ("sessions", "TYPE_INTEGER"), "engagedSessions": ("engaged_sessions", "TYPE_INTEGER"),
           "keyEvents": ("conversions", "TYPE_INTEGER"), "totalRevenue": ("revenue", "TYPE_CURRENCY"),
           "keyEvents:sign_up": ("signups", "TYPE_INTEGER"), "newUsers": ("new_users", "TYPE_INTEGER"),
           "totalUsers": ("total_users", "TYPE_INTEGER")}
COHORT_DIMENSIONS = {"cohort": "cohort", "cohortNthMonth": "month_n", "firstUserSource": "source",
                     "firstUserMedium": "medium"}
COHORT_METRICS = {"cohortTotalUsers": ("cohort_users", "TYPE_INTEGER"),
                  "cohortActiveUsers": ("active_users", "TYPE_INTEGER")}
# Share of a monthly cohort still active n months later: social-acquired users come back more (demo story).
MONTH_ONE_RETENTION = {"social": 0.34, "other": 0.24}
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
    rows_of_day = first_touch_rows if FIRST_USER_DIMENSIONS & set(dimensions) else _session_rows
    return [{
        "dimensionValues": [{"value": _value(row, DIMENSIONS[d])} for d in dimensions],
        "metricValues": [{"value": _value(row, METRICS[m][0])} for m in metrics],
    } for day in data.days(first, last + timedelta(1)) for row in rows_of_day(prop, day)]


def _session_rows(prop: str, day: date) -> list[dict]:
    return [{**row, "new_users": int(row["sessions"] * 0.45), "total_users": int(row["sessions"] * 0.8)}
            for row in data.web_rows(prop, day)]


@lru_cache(maxsize=4096)
def first_touch_rows(prop: str, day: date) -> list[dict]:
    """The day's session rows re-keyed by the channel that FIRST acquired the users: the day's key events and
    revenue are split over the channels by weights (social first touches weigh more than their last touches:
    people discover on social and come back by search or direct), so both models sum to the same day totals."""
    sessions = data.web_rows(prop, day)
    weights = []
    for row in sessions:
        r = data.rng("first_touch", prop, day, row["source"], row["medium"], row["campaign"])
        social = row["medium"] in ("social", "paid_social") or row["source"] in ("l.instagram.com", "m.facebook.com",
                                                                                "t.co")
        weights.append(row["sessions"] * r.uniform(1.2, 1.8) if social else row["sessions"] * r.uniform(0.6, 1.0))
    total_weight = sum(weights) or 1.0
    conversions = _largest_remainder(sum(row["conversions"] for row in sessions), weights)
    revenue = sum(row["revenue"] for row in sessions)
    return [{"date": day, "source": row["source"], "medium": row["medium"], "campaign": row["campaign"],
             "new_users": int(row["sessions"] * 0.45), "total_users": int(row["sessions"] * 0.8),
             "conversions": converted, "revenue": round(revenue * weight / total_weight, 2)}
            for row, weight, converted in zip(sessions, weights, conversions)]


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """``total`` split in whole numbers proportional to ``weights`` (the parts add up to ``total``)."""
    whole = sum(weights) or 1.0
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    for index in sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)[:total - sum(parts)]:
        parts[index] += 1
    return parts


def _month_after(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=256)
def cohort_rows(prop: str, first: date, last: date, months: int, until: date) -> list[dict]:
    """One monthly cohort (users whose first session is in ``[first, last]``) by acquisition channel, followed for
    month 0..``months`` while month n has begun by ``until``."""
    users: dict[tuple[str, str], int] = {}
    for day in data.days(first, last + timedelta(1)):
        for row in first_touch_rows(prop, day):
            users[(row["source"], row["medium"])] = users.get((row["source"], row["medium"]), 0) + row["new_users"]
    rows = []
    for (source, medium), cohort_users in sorted(users.items()):
        kind = "social" if medium in ("social", "paid_social", "referral") and source != "google" else "other"
        for month_n in range(months + 1):
            if _month_after(first, month_n) > until:
                break
            r = data.rng("cohort", prop, first, source, medium, month_n)
            share = 1.0 if month_n == 0 else MONTH_ONE_RETENTION[kind] * 0.8 ** (month_n - 1) * r.uniform(0.9, 1.1)
            rows.append({"cohort": f"{first:%Y-%m}", "month_n": f"{month_n:04d}", "source": source, "medium": medium,
                         "cohort_users": cohort_users, "active_users": round(cohort_users * share)})
    return rows


def _cohort_report(request: Request, prop: str) -> list[dict]:
    """Rows of a cohort request (``cohortSpec``): monthly cohorts by firstSessionDate, no ``dateRanges``."""
    spec = request.body["cohortSpec"]
    if request.body.get("dateRanges"):
        raise ApiError(400, "dateRanges must be unspecified in a cohort request; cohorts carry their dateRange.")
    dimensions = _names(request, "dimensions", COHORT_DIMENSIONS)
    metrics = _names(request, "metrics", COHORT_METRICS)
    if "cohort" not in dimensions:
        raise ApiError(400, "A cohort request must include the cohort dimension.")
    span = spec.get("cohortsRange") or {}
    if span.get("granularity") != "MONTHLY":
        raise ApiError(400, "This emulation serves MONTHLY cohortsRange granularity only.")
    try:
        cohorts = [(c["name"], date.fromisoformat(c["dateRange"]["startDate"]),
                    date.fromisoformat(c["dateRange"]["endDate"])) for c in spec["cohorts"]]
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "cohortSpec.cohorts[] needs name and dateRange{startDate, endDate}") from None
    if any(c.get("dimension") != "firstSessionDate" for c in spec["cohorts"]):
        raise ApiError(400, "Cohort dimension only supports firstSessionDate.")
    until = max(last for _, _, last in cohorts)
    rows = []
    for name, first, last in cohorts:
        for row in cohort_rows(prop, first, last, int(span.get("endOffset", 0)), until):
            row = {**row, "cohort": name}
            rows.append({"dimensionValues": [{"value": row[COHORT_DIMENSIONS[d]]} for d in dimensions],
                         "metricValues": [{"value": str(row[COHORT_METRICS[m][0]])} for m in metrics]})
    return rows


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
    if "cohortSpec" in request.body:
        rows = _cohort_report(request, prop)
        dimensions = _names(request, "dimensions", COHORT_DIMENSIONS)
        metrics = _names(request, "metrics", COHORT_METRICS)
        types = {m: COHORT_METRICS[m][1] for m in metrics}
    else:
        dimensions, metrics = _names(request, "dimensions", DIMENSIONS), _names(request, "metrics", METRICS)
        types = {m: METRICS[m][1] for m in metrics}
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
        "metricHeaders": [{"name": m, "type": types[m]} for m in metrics],
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
