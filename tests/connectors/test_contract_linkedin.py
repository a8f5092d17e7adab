"""LinkedIn connector against the recorded contract (tests/fixtures/contracts/linkedin/README.md).

A local ``pytest_httpserver`` serves the fixture bodies at the real API's paths (base URL ``.../rest``, no fake-API
prefix); each test writes out the rows the connector must produce from them and the requests it must send.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from pipeline.connectors import HttpPolicy, get_connector
from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
)
from pipeline.connectors.linkedin import API_VERSION
from pipeline.credentials import Credentials

pytest.importorskip("pytest_httpserver")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "linkedin"
FAST = HttpPolicy(timeout=5, retries=1, backoff_factor=0.001, backoff_max=0.01, rate_limit_retries=2)
TOKEN = "tok-SECRET-123"


def body(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def connector(httpserver):
    return get_connector("linkedin", Credentials(httpserver.url_for("/rest"), TOKEN, conn_id="li_conn"),
                         policy=FAST)


def query_of(request) -> dict[str, str]:
    return dict(parse_qsl(request.query_string.decode()))


def test_every_call_sends_the_pinned_version_headers_and_the_bearer_token(httpserver, connector):
    httpserver.expect_request("/rest/networkSizes/urn:li:organization:90362860").respond_with_json(
        body("network_sizes.json"))
    connector.get("/networkSizes/urn%3Ali%3Aorganization%3A90362860", {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})
    request, _ = httpserver.log[0]
    assert request.headers["LinkedIn-Version"] == API_VERSION == "202603"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert query_of(request) == {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}


def test_api_version_option_overrides_the_pin(httpserver):
    connector = get_connector("linkedin", Credentials(httpserver.url_for("/rest"), TOKEN), policy=FAST,
                              api_version="202609")
    assert connector.extra_headers == {"LinkedIn-Version": "202609", "X-Restli-Protocol-Version": "2.0.0"}


def test_posts_follow_start_count_paging_over_three_recorded_pages(httpserver, connector):
    base = {"q": "author", "author": "urn:li:organization:5515715", "sortBy": "CREATED", "count": "1"}
    httpserver.expect_ordered_request("/rest/posts", query_string=base).respond_with_json(body("posts_page1.json"))
    httpserver.expect_ordered_request("/rest/posts", query_string={**base, "start": "1"}).respond_with_json(
        body("posts_page2.json"))
    httpserver.expect_ordered_request("/rest/posts", query_string={**base, "start": "2"}).respond_with_json(
        body("posts_page3.json"))
    connector.policy = dataclasses.replace(FAST, page_size=1)
    rows = connector.fetch("post", "5515715", date(2021, 10, 19), date(2021, 10, 22)).to_pylist()
    assert [(r["post_id"], r["created_at"], r["content_type"], r["is_paid"], r["author_type"], r["caption"],
             r["campaign"], r["quarantine_reason"]) for r in rows] == [
        ("urn:li:share:6844785523593134080", datetime(2021, 10, 21, 4, 36, 8, 743000, tzinfo=UTC),
         "video", True, "brand", "comment on Oct 20", None, None),
        # page 2: no adContext (organic) and no content (text) -> omitted fields read as None, not fatal
        ("urn:li:share:6844785523593134079", datetime(2021, 10, 20, 4, 36, 8, 743000, tzinfo=UTC),
         "text", False, "employee", "comment on Oct 20", None, None),
        ("urn:li:share:6844785523593134078", datetime(2021, 10, 19, 4, 36, 8, 743000, tzinfo=UTC),
         "video", True, "brand", "comment on Oct 20", None, None),
    ]
    assert connector.schema_drift == {("posts", "surpriseField"): 1}
    httpserver.check_assertions()
    raw = httpserver.log[0][0].query_string.decode()
    assert "author=urn%3Ali%3Aorganization%3A5515715" in raw


def test_posts_stop_at_the_first_post_older_than_the_window(httpserver, connector):
    base = {"q": "author", "author": "urn:li:organization:5515715", "sortBy": "CREATED", "count": "1"}
    httpserver.expect_ordered_request("/rest/posts", query_string=base).respond_with_json(body("posts_page1.json"))
    httpserver.expect_ordered_request("/rest/posts", query_string={**base, "start": "1"}).respond_with_json(
        body("posts_page2.json"))
    connector.policy = dataclasses.replace(FAST, page_size=1)
    rows = connector.fetch("post", "5515715", date(2021, 10, 21), date(2021, 10, 22)).to_pylist()
    assert [r["post_id"] for r in rows] == ["urn:li:share:6844785523593134080"]
    assert len(httpserver.log) == 2              # page 3 is never asked for


def test_post_metrics_are_lifetime_share_statistics_of_exactly_the_given_posts(httpserver, connector):
    httpserver.expect_request("/rest/organizationalEntityShareStatistics").respond_with_json(
        body("share_statistics_per_share.json"))
    posts = [PostRef("urn:li:share:6844785523593134080", datetime(2021, 10, 21, tzinfo=UTC)),
             PostRef("urn:li:share:6844785523593134079", datetime(2021, 10, 20, tzinfo=UTC))]
    table = connector.fetch_post_metrics("90362860", posts, datetime(2026, 12, 7, 9, tzinfo=UTC))
    rows = [{k: r[k] for k in ("post_id", "date", "impressions", "views", "reach", "likes", "comments", "shares",
                               "saves", "clicks", "video_views", "quarantine_reason")} for r in table.to_pylist()]
    assert rows == [
        {"post_id": "urn:li:share:6844785523593134080", "date": date(2026, 12, 7), "impressions": 0, "views": None,
         "reach": 0, "likes": 0, "comments": 0, "shares": 0, "saves": None, "clicks": 0, "video_views": None,
         "quarantine_reason": None},
        # not in the answer: every metric unknown (None), never 0
        {"post_id": "urn:li:share:6844785523593134079", "date": date(2026, 12, 7), "impressions": None,
         "views": None, "reach": None, "likes": None, "comments": None, "shares": None, "saves": None,
         "clicks": None, "video_views": None, "quarantine_reason": None},
    ]
    request, _ = httpserver.log[0]
    raw = request.query_string.decode()
    assert "shares=List(urn%3Ali%3Ashare%3A6844785523593134080,urn%3Ali%3Ashare%3A6844785523593134079)" in raw
    assert "timeIntervals" not in raw            # lifetime: no time-bound statistics for posts
    assert query_of(request)["q"] == "organizationalEntity"
    assert query_of(request)["organizationalEntity"] == "urn:li:organization:90362860"


def test_ugc_posts_go_in_their_own_list(httpserver, connector):
    httpserver.expect_request("/rest/organizationalEntityShareStatistics").respond_with_json(
        {"paging": {"start": 0, "count": 10, "links": []}, "elements": []})
    connector.fetch_post_metrics("90362860", [PostRef("urn:li:ugcPost:7", datetime(2026, 1, 1, tzinfo=UTC))],
                                 datetime(2026, 12, 7, tzinfo=UTC))
    assert "ugcPosts=List(urn%3Ali%3AugcPost%3A7)" in httpserver.log[0][0].query_string.decode()


def test_ad_analytics_one_page_without_total_and_omitted_fields_read_as_none(httpserver, connector):
    httpserver.expect_request("/rest/adAnalytics").respond_with_json(body("ad_analytics_campaign_daily.json"))
    rows = connector.fetch("ad_spend", "1111", date(2023, 1, 2), date(2023, 1, 4)).to_pylist()
    assert [(r["date"], r["campaign"], r["spend"], r["impressions"], r["clicks"], r["acquisitions"],
             r["quarantine_reason"]) for r in rows] == [
        (date(2023, 1, 2), "1111", None, 19090, 100, None, None),
        (date(2023, 1, 3), "1111", None, 20210, 408, None, None),
    ]
    assert connector.schema_drift == {("ad analytics", "costInUsd"): 2}    # not requested in fields=: counted
    assert len(httpserver.log) == 1
    raw = httpserver.log[0][0].query_string.decode()
    assert "dateRange=(start:(year:2023,month:1,day:2),end:(year:2023,month:1,day:3))" in raw
    assert "accounts=List(urn%3Ali%3AsponsoredAccount%3A1111)" in raw
    assert query_of(httpserver.log[0][0])["fields"] == \
        "dateRange,pivotValues,costInLocalCurrency,impressions,clicks,externalWebsiteConversions"


def test_lead_form_responses_are_counted_per_day(httpserver, connector):
    httpserver.expect_request("/rest/leadFormResponses").respond_with_json(body("lead_form_responses.json"))
    rows = connector.fetch("leads", "111111111", date(2024, 1, 1), date(2024, 1, 2)).to_pylist()
    assert [(r["date"], r["campaign"], r["lead_type"], r["leads"]) for r in rows] == [
        (date(2024, 1, 1), None, "lead_form", 2)]
    raw = httpserver.log[0][0].query_string.decode()
    assert "owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A111111111)" in raw
    assert "leadType=(leadType:SPONSORED)" in raw
    assert "submittedAtTimeRange=(start:1704067200000,end:1704153600000)" in raw


def test_lifetime_follower_statistics_page_has_no_total_so_it_is_the_last(httpserver, connector):
    from pipeline.connectors.linkedin import RestliPaging
    page = body("follower_statistics_lifetime.json")
    assert RestliPaging().next_cursor(page, {}, None) is None
    assert RestliPaging().records(page)[0]["organizationalEntity"] == "urn:li:organization:108187115"


@pytest.mark.parametrize(("fixture", "status", "error", "says"), [
    ("error_401_invalid_token.json", 401, AuthenticationError, "Invalid access token"),
    ("error_401_revoked_token.json", 401, AuthenticationError, "The token used in the request has been revoked"),
    ("error_403_access_denied.json", 403, PermissionDeniedError, "Not enough permissions to access"),
    ("error_400_invalid_query_params.json", 400, BadRequestError, "Invalid query parameters passed to request"),
])
def test_error_bodies_classify_and_name_the_connection_never_the_token(httpserver, connector, fixture, status,
                                                                       error, says):
    httpserver.expect_request("/rest/adAnalytics").respond_with_json(body(fixture), status=status)
    with pytest.raises(error) as caught:
        connector.fetch("ad_spend", "1111", date(2023, 1, 2), date(2023, 1, 4))
    text = str(caught.value)
    assert text.startswith("linkedin: ") and says in text
    assert "connection 'li_conn'" in text and "account '1111'" in text and "window 2023-01-02..2023-01-03" in text
    assert TOKEN not in text
    if status == 403:
        assert not isinstance(caught.value, BadRequestError)
    assert len(httpserver.log) == 1              # auth, permission and parameter errors are not retried


def test_429_is_retried_then_raised_as_rate_limited(httpserver, connector):
    httpserver.expect_request("/rest/adAnalytics").respond_with_json(body("error_429_throttle.json"), status=429)
    with pytest.raises(RateLimitedError) as caught:
        connector.fetch("ad_spend", "1111", date(2023, 1, 2), date(2023, 1, 4))
    assert "Resource level throttle limit for calls to this resource is reached." in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(httpserver.log) > 1               # backed off and asked again before giving up


def test_429_then_success(httpserver, connector):
    httpserver.expect_ordered_request("/rest/adAnalytics").respond_with_json(body("error_429_throttle.json"),
                                                                             status=429)
    httpserver.expect_ordered_request("/rest/adAnalytics").respond_with_json(
        body("ad_analytics_campaign_daily.json"))
    rows = connector.fetch("ad_spend", "1111", date(2023, 1, 2), date(2023, 1, 4)).to_pylist()
    assert [r["impressions"] for r in rows] == [19090, 20210]
