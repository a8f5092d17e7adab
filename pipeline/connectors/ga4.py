"""Google Analytics 4 Data API (v1beta) connector: ``runReport`` rows -> web_sessions, web_first_touch, web_cohorts.

Contract (fixtures and sources: ``tests/fixtures/contracts/ga4/README.md``):

- ``POST https://analyticsdata.googleapis.com/v1beta/properties/{property}:runReport``, token in
  ``Authorization: Bearer``. Body: ``dateRanges[{startDate, endDate}]`` (both inclusive, ``YYYY-MM-DD``, days in the
  property's reporting time zone), ``dimensions[{name}]``, ``metrics[{name}]``, ``orderBys`` (date, so offset
  paging is stable), ``limit`` / ``offset`` and ``returnPropertyQuota: true``.
- Reply: ``dimensionHeaders[{name}]``, ``metricHeaders[{name, type}]``, ``rows[{dimensionValues[{value}],
  metricValues[{value}]}]`` (every value a string; ``date`` as ``YYYYMMDD``), ``rowCount`` (all rows of the query,
  independent of limit/offset), ``metadata{currencyCode, timeZone}``, ``propertyQuota``, ``kind``. A report
  without rows omits ``rows`` *and* ``rowCount`` (recorded). Values are mapped by header name, not position.
- Paging: ``offset`` += rows read, until ``rowCount`` (:class:`OffsetPaging`).
- Days: the ``date`` dimension is a day in the property's time zone, ``metadata.timeZone``; each row carries it
  in ``report_timezone`` (it was labelled UTC before issue #19).
- Metrics: ``sessions``; ``engagedSessions``; ``keyEvents`` -> conversions (``conversions`` was renamed
  ``keyEvents`` on 2024-05-06, kept as data in ``METRIC_RENAMES``); ``totalRevenue`` -> revenue (currency
  ``metadata.currencyCode``). ``bounces`` is not a GA4 metric: GA4 defines bounce rate as the share of sessions
  that were not engaged (1 - engagement rate), so bounces = sessions - engagedSessions. ``signups``: only when the
  connection names its sign-up key event (option ``signup_key_event``, e.g. ``sign_up``), then
  ``keyEvents:<event>`` (a per-event key-event metric; GA4 rejects it with 400 when that event is not a key event
  of the property). ``new_customers``: no standard GA4 metric is requested for it -> None.
- First touch (``web_first_touch``, issue #24): the same report by ``firstUserSource`` / ``firstUserMedium`` /
  ``firstUserCampaignName`` (the channel that first acquired the user) with ``newUsers``, ``totalUsers``,
  ``keyEvents``, ``totalRevenue``; web_sessions (session source) is the last-touch side of the comparison.
- Cohorts (``web_cohorts``): a cohort request has no ``dateRanges`` but ``cohortSpec{cohorts[{name, dimension:
  firstSessionDate, dateRange}], cohortsRange{granularity: MONTHLY, startOffset, endOffset}}``, dimensions ``cohort``
  (valued to the cohort's name) and ``cohortNthMonth``, metrics ``cohortTotalUsers`` / ``cohortActiveUsers``. One pull
  asks the :data:`COHORT_MONTHS` calendar months up to the window's last day, broken down by first-user source and
  medium; every row is dated that last day (a snapshot: a cohort's counts grow until its months are over).
  ``cohortNthMonth`` is a zero-padded offset (``"0000"``, ``"0001"``); rows come in any order (Google's documented
  cohort replies are sorted by metric value) and with ``"metadata": {}``, so a cohort reply without
  ``metadata.timeZone`` lands with ``report_timezone`` empty and a warning, where a report by ``date`` is drift.
- Errors (Google error model ``{"error": {"code", "message", "status", "details"}}``): 429 / ``RESOURCE_EXHAUSTED``
  -> :class:`RateLimitedError`; 401 / ``UNAUTHENTICATED`` -> :class:`AuthenticationError`; 403 /
  ``PERMISSION_DENIED`` -> :class:`PermissionDeniedError`; 400 / ``INVALID_ARGUMENT`` -> :class:`BadRequestError`;
  404 / ``NOT_FOUND`` -> :class:`AccountNotFoundError`; 5xx -> :class:`ServerError`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from pipeline.connectors.base import (
    AccountNotFoundError,
    AuthenticationError,
    BadRequestError,
    Connector,
    ConnectorError,
    OffsetPaging,
    PermissionDeniedError,
    RateLimitedError,
    SchemaDriftError,
    ServerError,
    as_amount,
    as_count,
    reason,
)
from pipeline.connectors.utm import platform_from_source

log = logging.getLogger(__name__)

API_VERSION = "v1beta"
# dimension API name -> canonical column
DIMENSIONS = {"date": "date", "sessionSource": "source", "sessionMedium": "medium", "sessionCampaignName": "campaign"}
# metric API name -> canonical column (signups is added per connection, see GA4Connector.metrics)
METRICS = {"sessions": "sessions", "engagedSessions": "engaged_sessions", "keyEvents": "conversions",
           "totalRevenue": "revenue"}
# Deprecated metric API name -> (successor, date of the rename). Data API changelog 2024-05-06 (key events).
METRIC_RENAMES = {"conversions": ("keyEvents", "2024-05-06"), "sessionConversionRate": ("sessionKeyEventRate",
                                                                                        "2024-05-06")}
# First-touch report (web_first_touch): the user's first acquisition channel instead of the session's.
FIRST_TOUCH_DIMENSIONS = {"date": "date", "firstUserSource": "source", "firstUserMedium": "medium",
                          "firstUserCampaignName": "campaign"}
FIRST_TOUCH_METRICS = {"newUsers": "new_users", "totalUsers": "total_users", "keyEvents": "conversions",
                       "totalRevenue": "revenue"}
# Cohort report (web_cohorts): monthly cohorts by first session date, by acquisition channel.
COHORT_DIMENSIONS = {"cohort": "cohort", "cohortNthMonth": "month_n", "firstUserSource": "source",
                     "firstUserMedium": "medium"}
COHORT_METRICS = {"cohortTotalUsers": "cohort_users", "cohortActiveUsers": "active_users"}
COHORT_MONTHS = 6          # cohorts of the last 6 calendar months (the current one included) per pull
NOT_SET = ("(not set)", "")
ROW_FIELDS = ("dimensionValues", "metricValues")
PAGE_FIELDS = ("dimensionHeaders", "metricHeaders", "rows", "totals", "maximums", "minimums", "rowCount",
               "metadata", "propertyQuota", "kind")
# google.rpc.Status names (Google API error model)
_STATUS_ERRORS: dict[str, type[ConnectorError]] = {
    "RESOURCE_EXHAUSTED": RateLimitedError, "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError, "INVALID_ARGUMENT": BadRequestError,
    "FAILED_PRECONDITION": BadRequestError, "NOT_FOUND": AccountNotFoundError,
    "INTERNAL": ServerError, "UNAVAILABLE": ServerError, "DEADLINE_EXCEEDED": ServerError,
}
_HTTP_ERRORS: dict[int, type[ConnectorError]] = {429: RateLimitedError, 401: AuthenticationError,
                                                  403: PermissionDeniedError, 400: BadRequestError,
                                                  404: AccountNotFoundError}
_ADVICE = {
    RateLimitedError: "rate limited, property quota exhausted (see propertyQuota); retry later",
    AuthenticationError: "the access token is invalid or expired; renew the connection's credentials",
    PermissionDeniedError: "the credentials cannot read this property; grant them Viewer access on it",
    BadRequestError: "GA4 rejected the report request",
    AccountNotFoundError: "property not found",
    ServerError: "GA4 server error",
}


class GA4Connector(Connector):
    platform = "ga4"
    ENTITIES: ClassVar[dict[str, str]] = {"web_sessions": "web_sessions", "web_first_touch": "web_first_touch", "web_cohorts": "web_cohorts"}
    API_PREFIX = f"/ga4/{API_VERSION}"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.property_quota: dict[str, Any] | None = None     # the last reply's propertyQuota

    @property
    def signup_metric(self) -> str | None:
        event = self.options.get("signup_key_event")
        return f"keyEvents:{event}" if event else None

    def metrics(self) -> dict[str, str]:
        return {**METRICS, **({self.signup_metric: "signups"} if self.signup_metric else {})}

    def report_path(self, account_id: str) -> str:
        # Real API root: ``https://analyticsdata.googleapis.com/v1beta`` (a base URL with a path gets no prefix);
        # the fake API's bare host serves it under ``/ga4/v1beta``.
        return f"{self.prefix}/properties/{account_id}:runReport"

    def report_body(self, since: date, until: date, dimensions: dict[str, str] | None = None,
                    metrics: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "dateRanges": [{"startDate": since.isoformat(), "endDate": (until - timedelta(days=1)).isoformat()}],
            "dimensions": [{"name": name} for name in (dimensions or DIMENSIONS)],
            "metrics": [{"name": name} for name in (metrics or self.metrics())],
            "orderBys": [{"dimension": {"dimensionName": "date"}}],
            "limit": self.policy.page_size,
            "offset": 0,
            "returnPropertyQuota": True,
        }

    def web_sessions(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        return self._report(account_id, self.report_body(since, until), DIMENSIONS, self.metrics(),
                            self.session_row)

    def web_first_touch(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        body = self.report_body(since, until, FIRST_TOUCH_DIMENSIONS, FIRST_TOUCH_METRICS)
        return self._report(account_id, body, FIRST_TOUCH_DIMENSIONS, FIRST_TOUCH_METRICS, self.first_touch_row)

    def web_cohorts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        pull_day = until - timedelta(days=1)
        body = self.cohort_body(pull_day)
        return [{**row, "date": pull_day}
                for row in self._report(account_id, body, COHORT_DIMENSIONS, COHORT_METRICS, self.cohort_row)]

    def cohort_body(self, pull_day: date) -> dict[str, Any]:
        """Monthly cohorts of the :data:`COHORT_MONTHS` calendar months up to ``pull_day`` (its month cut at
        ``pull_day``), each named ``YYYY-MM`` (names may not begin with ``cohort_``), followed up to ``pull_day``."""
        months = [_month_start(pull_day, back) for back in reversed(range(COHORT_MONTHS))]
        cohorts = [{"name": f"{first:%Y-%m}", "dimension": "firstSessionDate",
                    "dateRange": {"startDate": first.isoformat(),
                                  "endDate": min(_month_start(first, -1) - timedelta(days=1), pull_day).isoformat()}}
                   for first in months]
        return {
            "dimensions": [{"name": name} for name in COHORT_DIMENSIONS],
            "metrics": [{"name": name} for name in COHORT_METRICS],
            "cohortSpec": {"cohorts": cohorts,
                           "cohortsRange": {"granularity": "MONTHLY", "startOffset": 0,
                                            "endOffset": COHORT_MONTHS - 1}},
            "orderBys": [{"dimension": {"dimensionName": "cohort"}},
                         {"dimension": {"dimensionName": "cohortNthMonth"}}],
            "limit": self.policy.page_size,
            "offset": 0,
            "returnPropertyQuota": True,
        }

    def _report(self, account_id: str, body: dict[str, Any], dimensions: dict[str, str], metrics: dict[str, str],
                to_row: Any) -> list[dict[str, Any]]:
        """Every page of one runReport request, each row mapped by ``to_row(record, columns, zone)``."""
        paging = OffsetPaging()
        rows = []
        for page in self.pages("POST", self.report_path(account_id), paging, body=body):
            page = self.parse_record(page, "runReport", known=PAGE_FIELDS)
            columns = self.columns(page, dimensions, metrics)
            zone = (page.get("metadata") or {}).get("timeZone")
            if not zone and paging.records(page):
                if "date" in dimensions:   # a day means nothing without its zone
                    raise SchemaDriftError(self.failure("schema drift in runReport: metadata.timeZone missing"))
                # Google's documented cohort replies carry "metadata": {}; cohort months need no zone to land
                log.warning("ga4: property %s: the cohort report has no metadata.timeZone; its rows land with "
                            "report_timezone empty (cohort months are in the property's reporting time zone)",
                            account_id)
            self.property_quota = page.get("propertyQuota") or self.property_quota
            for record in paging.records(page):
                rows.append(to_row(record, columns, zone))
        if self.property_quota:
            log.info("ga4: property %s quota after pull: %s", account_id, self.property_quota)
        return rows

    def columns(self, page: dict[str, Any], dimensions: dict[str, str] | None = None,
                metrics: dict[str, str] | None = None) -> tuple[list[str | None], list[str | None]]:
        """Canonical column of each dimension / metric position, from the reply's headers (None = not ours)."""
        dimensions, metrics = dimensions or DIMENSIONS, metrics or self.metrics()
        dims = [dimensions.get(h.get("name")) if isinstance(h, dict) else None
                for h in page.get("dimensionHeaders") or []]
        mets = [metrics.get(h.get("name")) if isinstance(h, dict) else None for h in page.get("metricHeaders") or []]
        first = next(iter(dimensions.values()))          # date (reports by day) or cohort (cohort reports)
        if page.get("rows") and first not in dims:
            raise SchemaDriftError(self.failure(f"schema drift in runReport: no '{next(iter(dimensions))}' "
                                                "dimension header"))
        return dims, mets

    def _cells(self, record: Any, columns: tuple[list[str | None], list[str | None]]) -> tuple[dict, dict]:
        record = self.parse_record(record, "runReport.rows", required=ROW_FIELDS)
        dim_columns, metric_columns = columns
        dims = {column: self._value(cell, "runReport.rows.dimensionValues")
                for column, cell in zip(dim_columns, record["dimensionValues"]) if column}
        raw = {column: self._value(cell, "runReport.rows.metricValues")
               for column, cell in zip(metric_columns, record["metricValues"]) if column}
        return dims, raw

    def _day(self, dims: dict[str, Any]) -> date:
        try:
            return datetime.strptime(dims.get("date") or "", "%Y%m%d").date()
        except ValueError:
            raise SchemaDriftError(self.failure(f"schema drift in runReport.rows: bad date {dims.get('date')!r}")) \
                from None

    def first_touch_row(self, record: Any, columns: tuple[list[str | None], list[str | None]],
                        zone: str) -> dict[str, Any]:
        dims, raw = self._cells(record, columns)
        problems: list[str] = []
        values = {column: _count(raw.get(column), column, problems)
                  for column in ("new_users", "total_users", "conversions")}
        campaign = dims.get("campaign")
        campaign = None if campaign in NOT_SET else campaign
        source, medium = dims.get("source") or "(not set)", dims.get("medium") or "(not set)"
        return {"date": self._day(dims), "report_timezone": zone, "source": source, "medium": medium,
                "campaign": campaign, "social_platform": platform_from_source(source, medium, campaign), **values,
                "revenue": as_amount(raw.get("revenue"), "revenue", problems), "quarantine_reason": reason(problems)}

    def cohort_row(self, record: Any, columns: tuple[list[str | None], list[str | None]],
                   zone: str | None) -> dict[str, Any]:
        dims, raw = self._cells(record, columns)
        try:
            cohort_start = datetime.strptime(f"{dims.get('cohort')}-01", "%Y-%m-%d").date()
            month_n = int(dims.get("month_n") or "")             # "0000", "0001", ... (any zero padding)
        except ValueError:
            raise SchemaDriftError(self.failure(f"schema drift in runReport.rows: cohort {dims.get('cohort')!r} / "
                                                f"cohortNthMonth {dims.get('month_n')!r} is not one we asked for"))\
                from None
        problems: list[str] = []
        source, medium = dims.get("source") or "(not set)", dims.get("medium") or "(not set)"
        return {"report_timezone": zone, "cohort_start": cohort_start, "month_n": month_n, "source": source,
                "medium": medium, "social_platform": platform_from_source(source, medium, None),
                **{column: _count(raw.get(column), column, problems) for column in ("cohort_users", "active_users")},
                "quarantine_reason": reason(problems)}

    def session_row(self, record: Any, columns: tuple[list[str | None], list[str | None]],
                    zone: str) -> dict[str, Any]:
        dims, raw = self._cells(record, columns)
        day = self._day(dims)
        problems: list[str] = []
        values = {column: _count(raw.get(column), column, problems)
                  for column in ("sessions", "engaged_sessions", "conversions", "signups")}
        values["revenue"] = as_amount(raw.get("revenue"), "revenue", problems)
        sessions, engaged = values["sessions"], values["engaged_sessions"]
        campaign = dims.get("campaign")
        campaign = None if campaign in NOT_SET else campaign
        source, medium = dims.get("source") or "(not set)", dims.get("medium") or "(not set)"
        return {
            "date": day,
            "report_timezone": zone,
            "source": source,
            "medium": medium,
            "campaign": campaign,
            "social_platform": platform_from_source(source, medium, campaign),
            **values,
            # GA4: bounce rate = share of sessions that were not engaged, so bounces = sessions - engaged sessions
            "bounces": sessions - engaged if sessions is not None and engaged is not None else None,
            "new_customers": None,
            "quarantine_reason": reason(problems),
        }

    def _value(self, cell: Any, where: str) -> Any:
        return self.parse_record(cell, where, known=("value",)).get("value")

    # -- errors --

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            return None
        kind = _STATUS_ERRORS.get(str(error.get("status") or "")) or _HTTP_ERRORS.get(status)
        if kind is None:
            return None
        message = self.redact(str(error.get("message") or ""), limit=110) or "no message"
        text = self.failure(f"{error.get('status') or status} ({status}): {_ADVICE[kind]}: {message}")
        if kind is RateLimitedError:
            wait = headers.get("Retry-After") if headers is not None else None
            try:
                seconds = float(wait) if wait is not None else None
            except ValueError:
                seconds = None
            return RateLimitedError(text, retry_after=seconds)
        return kind(text)


def _month_start(day: date, months_back: int) -> date:
    """First day of the calendar month ``months_back`` months before ``day``'s (negative: after)."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _count(value: Any, column: str, problems: list[str]) -> int | None:
    """GA4 sends every metric as a string; integer metrics may come as ``"3.0"`` (typed TYPE_FLOAT)."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return as_count(value, column, problems)
        if number.is_integer():
            return int(number)
    return as_count(value, column, problems)
