"""GA4 Data API contract: the connector against the fixtures in tests/fixtures/contracts/ga4 (see its README)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipeline.connectors import get_connector
from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    RateLimitedError,
    SchemaDriftError,
)
from pipeline.connectors.ga4 import FIRST_TOUCH_DIMENSIONS, FIRST_TOUCH_METRICS, METRIC_RENAMES
from pipeline.credentials import Credentials
from pipeline.landing import quarantine_reasons
from tests.connectors.conftest import FAST

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contracts" / "ga4"
PATH = "/v1beta/properties/123456789:runReport"
SINCE, UNTIL = date(2026, 9, 7), date(2026, 9, 9)
TOKEN = "tok-SECRET-123"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def connector(server: HTTPServer, page_size: int = 2, **options: Any):
    return get_connector("ga4", Credentials(server.url_for("").rstrip("/"), TOKEN, conn_id="ga4_main"),
                         policy=dataclasses.replace(FAST, page_size=page_size), api_prefix="/v1beta", **options)


def request_body(offset: int, limit: int = 2) -> dict[str, Any]:
    return {"dateRanges": [{"startDate": "2026-09-07", "endDate": "2026-09-08"}],
            "dimensions": [{"name": "date"}, {"name": "sessionSource"}, {"name": "sessionMedium"},
                           {"name": "sessionCampaignName"}],
            "metrics": [{"name": "sessions"}, {"name": "engagedSessions"}, {"name": "keyEvents"},
                        {"name": "totalRevenue"}],
            "orderBys": [{"dimension": {"dimensionName": "date"}}],
            "limit": limit, "offset": offset, "returnPropertyQuota": True}


def row(day: str, source: str, medium: str, campaign: str | None, platform: str | None, sessions: int,
        engaged: int, conversions: int, revenue: float) -> dict[str, Any]:
    return {"platform": "ga4", "account_id": "123456789", "date": date.fromisoformat(day),
            "report_timezone": "America/Los_Angeles", "source": source, "medium": medium, "campaign": campaign,
            "social_platform": platform, "sessions": sessions, "engaged_sessions": engaged,
            "bounces": sessions - engaged, "conversions": conversions, "revenue": revenue, "signups": None,
            "new_customers": None, "schema_version": 2, "quarantine_reason": None}


# Written out from web_sessions_page1/2/3_last.json.
EXPECTED = [
    row("2026-09-07", "l.instagram.com", "referral", None, "instagram", 412, 268, 9, 431.20),
    row("2026-09-07", "lnkd.in", "referral", None, "linkedin", 97, 61, 2, 0.0),
    row("2026-09-07", "facebook", "paid_social", "fall_launch", "facebook", 230, 129, 7, 318.55),
    row("2026-09-08", "t.co", "referral", None, "x", 64, 30, 0, 0.0),
    row("2026-09-08", "google", "organic", "(organic)", None, 1290, 871, 38, 1784.10),
]


def serve_pages(server: HTTPServer) -> None:
    for offset, name in ((0, "web_sessions_page1.json"), (2, "web_sessions_page2.json"),
                         (4, "web_sessions_page3_last.json")):
        server.expect_ordered_request(PATH, method="POST", json=request_body(offset),
                                      headers={"Authorization": f"Bearer {TOKEN}"}).respond_with_json(fixture(name))


def test_every_page_gives_the_exact_rows_and_requests(httpserver: HTTPServer):
    serve_pages(httpserver)
    ga4 = connector(httpserver)
    table = ga4.fetch("web_sessions", "123456789", SINCE, UNTIL)
    httpserver.check_assertions()                  # path, method, body (offset 0, 2, 4) and bearer header
    rows = table.to_pylist()
    assert rows == EXPECTED
    assert ga4.property_quota == fixture("web_sessions_page3_last.json")["propertyQuota"]
    assert not ga4.schema_drift


def test_the_property_time_zone_labels_each_row(httpserver: HTTPServer):
    page = fixture("runreport_recorded_date_eventname.json")       # a recorded Europe/Warsaw reply, our headers
    page = {**fixture("web_sessions_page3_last.json"), "metadata": page["metadata"]}
    page.pop("propertyQuota")
    httpserver.expect_request(PATH, method="POST").respond_with_json({**page, "rowCount": 1})
    rows = connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL).to_pylist()
    assert [(r["date"], r["report_timezone"]) for r in rows] == [(date(2026, 9, 8), "Europe/Warsaw")]


def test_an_empty_report_omits_rows_and_row_count(httpserver: HTTPServer):
    httpserver.expect_request(PATH, method="POST").respond_with_json(fixture("runreport_recorded_no_rows.json"))
    assert connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL).num_rows == 0


def test_unknown_fields_are_counted_not_fatal(httpserver: HTTPServer):
    page = {**fixture("web_sessions_page3_last.json"), "rowCount": 1}      # the one row is the whole report
    page["samplingMetadatas"] = []
    page["rows"][0]["surprise"] = 1
    httpserver.expect_request(PATH, method="POST").respond_with_json(page)
    ga4 = connector(httpserver)
    assert ga4.fetch("web_sessions", "123456789", SINCE, UNTIL).num_rows == 1
    assert ga4.schema_drift == {("runReport", "samplingMetadatas"): 1, ("runReport.rows", "surprise"): 1}


def test_metrics_are_mapped_by_header_name_not_position(httpserver: HTTPServer):
    page = {**fixture("web_sessions_page3_last.json"), "rowCount": 1}      # the one row is the whole report
    page["metricHeaders"].reverse()
    page["rows"][0]["metricValues"].reverse()
    httpserver.expect_request(PATH, method="POST").respond_with_json(page)
    (only,) = connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL).to_pylist()
    assert (only["sessions"], only["engaged_sessions"], only["conversions"], only["revenue"]) == (1290, 871, 38,
                                                                                                  1784.10)


def test_signups_come_from_the_configured_key_event(httpserver: HTTPServer):
    page = {**fixture("web_sessions_page3_last.json"), "rowCount": 1}      # the one row is the whole report
    page["metricHeaders"].append({"name": "keyEvents:sign_up", "type": "TYPE_INTEGER"})
    page["rows"][0]["metricValues"].append({"value": "17"})
    body = request_body(0, limit=100)
    body["metrics"].append({"name": "keyEvents:sign_up"})
    httpserver.expect_request(PATH, method="POST", json=body).respond_with_json(page)
    (only,) = connector(httpserver, page_size=100, signup_key_event="sign_up") \
        .fetch("web_sessions", "123456789", SINCE, UNTIL).to_pylist()
    assert only["signups"] == 17 and only["new_customers"] is None


def test_rate_limit_is_retried_then_raised(httpserver: HTTPServer):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        fixture("error_429_resource_exhausted.json"), status=429)
    ga4 = connector(httpserver)
    with pytest.raises(RateLimitedError) as error:
        ga4.fetch("web_sessions", "123456789", SINCE, UNTIL)
    # urllib3 retries the 429 (FAST.retries); it is then raised, not retried again in place
    assert error.value.retries_exhausted
    assert len(httpserver.log) == FAST.retries + 1
    assert str(error.value).startswith("ga4: RESOURCE_EXHAUSTED (429): rate limited, property quota exhausted "
                                       "(see propertyQuota); retry later: ")
    assert "Exhausted property tokens for a project per hour" in str(error.value)
    assert "connection 'ga4_main', account '123456789', window 2026-09-07..2026-09-08" in str(error.value)


def test_expired_token_names_the_connection_never_the_token(httpserver: HTTPServer):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        fixture("error_401_unauthenticated.json"), status=401)
    with pytest.raises(AuthenticationError) as error:
        connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL)
    assert type(error.value) is AuthenticationError
    assert str(error.value).startswith("ga4: UNAUTHENTICATED (401): the access token is invalid or expired")
    assert "connection 'ga4_main'" in str(error.value)
    assert TOKEN not in str(error.value) and TOKEN not in repr(error.value)
    assert "ACCESS_TOKEN_EXPIRED" not in str(error.value)           # only the message, never the body


def test_missing_permission(httpserver: HTTPServer):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        fixture("error_403_permission_denied.json"), status=403)
    with pytest.raises(PermissionDeniedError, match=r"^ga4: PERMISSION_DENIED \(403\): the credentials cannot read "
                                                    r"this property.*User does not have sufficient permissions"):
        connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL)


def test_bad_parameter(httpserver: HTTPServer):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        fixture("error_400_invalid_argument.json"), status=400)
    with pytest.raises(BadRequestError, match=r"^ga4: INVALID_ARGUMENT \(400\): GA4 rejected the report request: "
                                              r"Field customEvent:game_slug is not a valid dimension\."):
        connector(httpserver).fetch("web_sessions", "123456789", SINCE, UNTIL)
    assert len(httpserver.log) == 1                                  # a bad parameter is never retried


def test_the_conversions_rename_is_kept_as_data():
    assert METRIC_RENAMES["conversions"] == ("keyEvents", "2024-05-06")


def test_the_fake_api_serves_the_recorded_shape(credentials):
    """The fake answers like the fixtures: same keys, string values, the property's time zone, quota on request."""
    ga4 = get_connector("ga4", credentials, policy=dataclasses.replace(FAST, page_size=5))
    body = ga4.report_body(SINCE, UNTIL)
    page = ga4.request("POST", ga4.report_path("ga4_web"), body=body)
    recorded = fixture("web_sessions_page1.json")
    assert list(page) == list(recorded)
    assert page["metricHeaders"] == recorded["metricHeaders"]
    assert page["metadata"] == {"currencyCode": "USD", "timeZone": "America/Los_Angeles"}
    assert all(isinstance(v["value"], str) for r in page["rows"] for v in r["dimensionValues"] + r["metricValues"])


# -- issue #24: first-touch rows and monthly cohorts --

def test_first_touch_rows_come_from_the_first_user_dimensions(httpserver: HTTPServer):
    body = {**request_body(0, limit=100),
            "dimensions": [{"name": "date"}, {"name": "firstUserSource"}, {"name": "firstUserMedium"},
                           {"name": "firstUserCampaignName"}],
            "metrics": [{"name": "newUsers"}, {"name": "totalUsers"}, {"name": "keyEvents"}, {"name": "totalRevenue"}]}
    httpserver.expect_request(PATH, method="POST", json=body).respond_with_json(
        fixture("web_first_touch_page1_last.json"))
    rows = connector(httpserver, page_size=100).fetch("web_first_touch", "123456789", SINCE, UNTIL).to_pylist()
    fixed = {"platform": "ga4", "account_id": "123456789", "report_timezone": "America/Los_Angeles",
             "schema_version": 2, "quarantine_reason": None}
    # written out from web_first_touch_page1_last.json; "(not set)" campaign -> None, "0" revenue -> 0.0
    assert rows == [
        {**fixed, "date": date(2026, 9, 7), "source": "l.instagram.com", "medium": "referral", "campaign": None,
         "social_platform": "instagram", "new_users": 121, "total_users": 388, "conversions": 14, "revenue": 702.40},
        {**fixed, "date": date(2026, 9, 7), "source": "google", "medium": "organic", "campaign": "(organic)",
         "social_platform": None, "new_users": 503, "total_users": 1102, "conversions": 31, "revenue": 1519.75},
        {**fixed, "date": date(2026, 9, 8), "source": "linkedin", "medium": "paid_social", "campaign": "fall_launch",
         "social_platform": "linkedin", "new_users": 18, "total_users": 40, "conversions": 0, "revenue": 0.0},
    ]


def test_cohort_request_asks_six_calendar_months_and_dates_rows_by_the_pull_day(httpserver: HTTPServer):
    # window [2026-09-07, 2026-09-09): pull day 2026-09-08; cohorts 2026-04 .. 2026-09, September cut at the 8th
    months = [("2026-04", "2026-04-01", "2026-04-30"), ("2026-05", "2026-05-01", "2026-05-31"),
              ("2026-06", "2026-06-01", "2026-06-30"), ("2026-07", "2026-07-01", "2026-07-31"),
              ("2026-08", "2026-08-01", "2026-08-31"), ("2026-09", "2026-09-01", "2026-09-08")]
    body = {"dimensions": [{"name": "cohort"}, {"name": "cohortNthMonth"}, {"name": "firstUserSource"},
                           {"name": "firstUserMedium"}],
            "metrics": [{"name": "cohortTotalUsers"}, {"name": "cohortActiveUsers"}],
            "cohortSpec": {"cohorts": [{"name": name, "dimension": "firstSessionDate",
                                        "dateRange": {"startDate": first, "endDate": last}}
                                       for name, first, last in months],
                           "cohortsRange": {"granularity": "MONTHLY", "startOffset": 0, "endOffset": 5}},
            "orderBys": [{"dimension": {"dimensionName": "cohort"}},
                         {"dimension": {"dimensionName": "cohortNthMonth"}}],
            "limit": 100, "offset": 0, "returnPropertyQuota": True}
    httpserver.expect_request(PATH, method="POST", json=body).respond_with_json(fixture("web_cohorts_page1_last.json"))
    rows = connector(httpserver, page_size=100).fetch("web_cohorts", "123456789", SINCE, UNTIL).to_pylist()
    assert [(r["date"], r["cohort_start"], r["month_n"], r["source"], r["social_platform"], r["cohort_users"],
             r["active_users"]) for r in rows] == [
        (date(2026, 9, 8), date(2026, 7, 1), 0, "l.instagram.com", "instagram", 400, 400),
        (date(2026, 9, 8), date(2026, 7, 1), 1, "l.instagram.com", "instagram", 400, 136),
        (date(2026, 9, 8), date(2026, 7, 1), 2, "l.instagram.com", "instagram", 400, 100),
        (date(2026, 9, 8), date(2026, 8, 1), 0, "google", None, 900, 900),
    ]


def test_a_cohort_name_we_did_not_ask_for_is_schema_drift(httpserver: HTTPServer):
    page = fixture("web_cohorts_page1_last.json")
    page["rows"][0]["dimensionValues"][0]["value"] = "cohort_0"
    httpserver.expect_request(PATH, method="POST").respond_with_json(page)
    with pytest.raises(SchemaDriftError, match=r"cohort 'cohort_0' / cohortNthMonth '0000' is not one we asked for"):
        connector(httpserver, page_size=100).fetch("web_cohorts", "123456789", SINCE, UNTIL)


def test_a_cohort_reply_without_time_zone_in_any_row_order_lands_every_row(httpserver: HTTPServer, caplog):
    # Google's documented cohort replies (developers.google.com/analytics/devguides/reporting/data/v1/advanced,
    # "Cohort report examples") carry "metadata": {} and rows sorted by metric value, not by cohort and month n.
    page = fixture("web_cohorts_page1_last.json")
    page["metadata"] = {}
    page["rows"].sort(key=lambda r: -int(r["metricValues"][1]["value"]))
    httpserver.expect_request(PATH, method="POST").respond_with_json(page)
    table = connector(httpserver, page_size=100).fetch("web_cohorts", "123456789", SINCE, UNTIL)
    rows = table.to_pylist()
    assert sorted((r["cohort_start"], r["month_n"], r["active_users"], r["report_timezone"]) for r in rows) == [
        (date(2026, 7, 1), 0, 400, None), (date(2026, 7, 1), 1, 136, None), (date(2026, 7, 1), 2, 100, None),
        (date(2026, 8, 1), 0, 900, None)]
    assert quarantine_reasons(table, "web_cohorts") == [None] * 4
    assert ("ga4: property 123456789: the cohort report has no metadata.timeZone; its rows land with "
            "report_timezone empty (cohort months are in the property's reporting time zone)") in caplog.messages


def test_a_report_by_date_without_time_zone_is_schema_drift(httpserver: HTTPServer):
    page = fixture("web_first_touch_page1_last.json")
    page["metadata"] = {}
    httpserver.expect_request(PATH, method="POST").respond_with_json(page)
    with pytest.raises(SchemaDriftError, match=r"schema drift in runReport: metadata.timeZone missing"):
        connector(httpserver, page_size=100).fetch("web_first_touch", "123456789", SINCE, UNTIL)


def test_the_fake_api_serves_first_touch_and_cohorts_in_the_fixture_shape(credentials):
    ga4 = get_connector("ga4", credentials, policy=dataclasses.replace(FAST, page_size=100))
    for entity, recorded in (("web_first_touch", "web_first_touch_page1_last.json"),
                             ("web_cohorts", "web_cohorts_page1_last.json")):
        body = ga4.cohort_body(UNTIL) if entity == "web_cohorts" else ga4.report_body(
            SINCE, UNTIL, FIRST_TOUCH_DIMENSIONS, FIRST_TOUCH_METRICS)
        page = ga4.request("POST", ga4.report_path("ga4_web"), body=body)
        assert list(page) == list(fixture(recorded))
        assert page["dimensionHeaders"] == fixture(recorded)["dimensionHeaders"]
        assert page["metricHeaders"] == fixture(recorded)["metricHeaders"]
    # both attribution models share out the same key events: each day's totals are equal
    first = ga4.fetch("web_first_touch", "ga4_web", SINCE, UNTIL).to_pylist()
    last = ga4.fetch("web_sessions", "ga4_web", SINCE, UNTIL).to_pylist()
    for day in (date(2026, 9, 7), date(2026, 9, 8)):
        assert sum(r["conversions"] for r in first if r["date"] == day) == \
            sum(r["conversions"] for r in last if r["date"] == day)


def test_the_fake_api_refuses_date_ranges_in_a_cohort_request(credentials):
    # CohortSpec reference: "the dateRanges in the RunReportRequest ... must be unspecified" in a cohort request
    ga4 = get_connector("ga4", credentials, policy=dataclasses.replace(FAST, page_size=100))
    body = {**ga4.cohort_body(UNTIL), "dateRanges": [{"startDate": "2026-09-07", "endDate": "2026-09-08"}]}
    with pytest.raises(BadRequestError, match=r"dateRanges must be unspecified in a cohort request"):
        ga4.request("POST", ga4.report_path("ga4_web"), body=body)
