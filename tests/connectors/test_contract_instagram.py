"""Instagram connector against the recorded Graph responses in tests/fixtures/contracts/instagram/ (see its
README for each body's provenance), served by a local pytest-httpserver."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from pipeline.connectors import get_connector
from pipeline.connectors.base import (
    AccountNotFoundError,
    AuthenticationError,
    HttpPolicy,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
)
from pipeline.connectors.instagram import DEPRECATED_METRICS, MEDIA_METRICS
from pipeline.credentials import Credentials

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contracts" / "instagram"
PREFIX = "/instagram/v25.0"
FAST = HttpPolicy(timeout=5, retries=0, backoff_factor=0.001, backoff_max=0.01, rate_limit_retries=2)
SECRET = "tok-SECRET-123"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def connector(httpserver):
    return get_connector("instagram", Credentials(httpserver.url_for("/").rstrip("/"), SECRET,
                                                  conn_id="goalpost_instagram"), policy=FAST)


def test_media_pages_follow_next_and_omitted_fields_read_as_none(httpserver, connector):
    first, last = fixture("media_page_first.json"), fixture("media_page_last.json")
    seen: list[Request] = []

    def media(request: Request) -> Response:
        seen.append(request)
        body = last if request.args.get("after") == "after" else first
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(f"{PREFIX}/17841406338772941/media").respond_with_handler(media)
    rows = connector.post_list("17841406338772941", date(2021, 6, 1), date(2021, 8, 20))

    assert [r["post_id"] for r in rows] == ["17895731045244887", "17896622936197745", "17896129349106152",
                                            "17893085207160254"]
    assert rows[0]["caption"] is None                   # recorded: caption omitted although requested
    assert rows[0]["created_at"] == datetime(2021, 8, 13, 8, 25, 28, tzinfo=UTC)
    assert rows[0]["content_type"] == "image"           # media_product_type not in this recording -> by media_type
    assert rows[2]["content_type"] == "carousel" and rows[2]["caption"] == "ALBUM"
    assert rows[3]["caption"] == "Peach new"
    assert {r["is_paid"] for r in rows} == {None} and {r["partner_handle"] for r in rows} == {None}
    assert {r["quarantine_reason"] for r in rows} == {None}
    # first request: our params; second: the next URL's query (minus access_token), token only in the header
    assert seen[0].args["fields"] == ("id,caption,media_type,media_product_type,timestamp,permalink,like_count,"
                                      "comments_count")
    assert seen[0].args["since"] == "2021-06-01" and seen[0].args["until"] == "2021-08-20"
    assert seen[1].args["after"] == "after" and "access_token" not in seen[1].args
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in seen)
    # fields the recording has but we did not ask for (media_url, children) are counted, not fatal
    assert connector.schema_drift[("media", "media_url")] == 4
    assert connector.schema_drift[("media", "children")] == 1


def test_media_insights_are_lifetime_values_and_views_is_views(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/17897668449516451/insights").respond_with_json(
        fixture("media_insights_reel_views.json"))
    httpserver.expect_request(f"{PREFIX}/35076616084176123/insights").respond_with_json(
        fixture("media_insights_lifetime.json"))
    posts = [PostRef("17897668449516451", datetime(2026, 7, 1, tzinfo=UTC)),
             PostRef("35076616084176123", datetime(2019, 5, 2, tzinfo=UTC))]
    rows = connector.post_metrics("ig", posts)
    assert rows == [
        {"post_id": "17897668449516451", "impressions": None, "views": 21159, "reach": 15486, "likes": 580,
         "comments": 10, "shares": 202, "saves": 63, "clicks": None, "video_views": None,
         "quarantine_reason": None},
        # older recording: no `views` in the answer -> None (never 0); deprecated video_views is not mapped
        {"post_id": "35076616084176123", "impressions": None, "views": None, "reach": 8000, "likes": 150,
         "comments": 50, "shares": 25, "saves": 200, "clicks": None, "video_views": None,
         "quarantine_reason": None},
    ]
    asked = httpserver.log[0][0].args["metric"].split(",")
    assert asked == list(MEDIA_METRICS) and not set(asked) & set(DEPRECATED_METRICS)


def test_account_daily_from_time_series_total_value_and_the_followers_count_field(httpserver, connector):
    def insights(request: Request) -> Response:
        name = "user_insights_reach_total_value.json" if request.args.get("metric_type") == "total_value" \
            else "user_insights_follower_count_day.json"
        return Response(json.dumps(fixture(name)), content_type="application/json")

    httpserver.expect_request(f"{PREFIX}/222222222222222/insights").respond_with_handler(insights)
    httpserver.expect_request(f"{PREFIX}/222222222222222").respond_with_json(
        fixture("user_fields_followers_count.json"))
    connector.clock = lambda: datetime(2024, 1, 15, 9, tzinfo=UTC)      # pulled right after 2024-01-14 ended
    rows = connector.account_daily("222222222222222", date(2024, 1, 14), date(2024, 1, 15))
    # end_time 2024-01-15T07:00:00+0000 = end of Pacific day 2024-01-14. follower_count is NEW followers per day
    # (Meta's metric table): new_followers 1000; followers = the node's followers_count now (64363), dated the day
    # before the pull. The total_value recording answers `reach` (not views/profile_views, which we asked for),
    # so those stay None.
    assert rows == [{"date": date(2024, 1, 14), "followers": 64363, "new_followers": 1000, "impressions": None,
                     "views": None, "reach": 500, "profile_views": None, "page_views": None,
                     "quarantine_reason": None}]
    series, total, node = (entry[0].args for entry in httpserver.log)
    assert series["metric"] == "follower_count,reach" and series["period"] == "day" and "metric_type" not in series
    assert total["metric"] == "views,profile_views" and total["metric_type"] == "total_value"
    assert (total["since"], total["until"]) == ("2024-01-14", "2024-01-15")     # one day at a time
    assert node["fields"] == "followers_count"
    # the recorded node carries fields we did not ask for: not drift, they are documented IG User fields
    assert not [name for _, name in connector.schema_drift if name in ("followers_count", "media_count")]


def test_followers_are_not_pulled_for_a_window_without_the_snapshot_day(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/222222222222222/insights").respond_with_json(
        fixture("user_insights_follower_count_day.json"))
    connector.clock = lambda: datetime(2024, 3, 1, 9, tzinfo=UTC)       # a backfill of January, pulled in March
    rows = connector.account_daily("222222222222222", date(2024, 1, 14), date(2024, 1, 15))
    assert [r["followers"] for r in rows] == [None]          # never today's count under an old date
    assert all(entry[0].path.endswith("/insights") for entry in httpserver.log)


def test_follower_demographics_breakdown(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/ig/insights").respond_with_json(
        fixture("user_insights_follower_demographics.json"))
    connector.clock = lambda: datetime(2026, 9, 2, 6, tzinfo=UTC)   # pulled on 09-02: as of the end of 09-01
    assert connector.audience_demographics("ig", date(2026, 9, 2), date(2026, 9, 3)) == []
    rows = connector.audience_demographics("ig", date(2026, 9, 1), date(2026, 9, 2))
    by = {(r["dimension"], r["value"]): r["followers"] for r in rows}
    assert by == {("age", "18-24"): 18, ("age", "25-34"): 46, ("gender", "F"): 35, ("gender", "M"): 26,
                  ("gender", "U"): 3}
    assert {r["date"] for r in rows} == {date(2026, 9, 1)}
    args = [entry[0].args for entry in httpserver.log]
    assert [a["breakdown"] for a in args] == ["age", "gender", "country"]
    assert all(a["metric"] == "follower_demographics" and a["metric_type"] == "total_value"
               and a["period"] == "lifetime" for a in args)


def _error(httpserver, name: str, path: str = f"{PREFIX}/ig/insights") -> None:
    httpserver.expect_request(path).respond_with_json(fixture(name), status=400)


def test_expired_token_names_the_connection_never_the_token(httpserver, connector):
    _error(httpserver, "error_expired_token.json")
    with pytest.raises(AuthenticationError) as error:
        connector.fetch("account_daily", "ig", date(2026, 9, 1), date(2026, 9, 2))
    assert not isinstance(error.value, PermissionDeniedError)
    assert "goalpost_instagram" in str(error.value) and "Graph error 190" in str(error.value)
    assert SECRET not in str(error.value)


def test_permission_error(httpserver, connector):
    _error(httpserver, "error_permission_code10.json", f"{PREFIX}/m1/insights")
    with pytest.raises(PermissionDeniedError, match="Graph error 10"):
        connector.post_metrics("ig", [PostRef("m1", datetime(2026, 9, 1, tzinfo=UTC))])


def test_unsupported_get_request_is_object_not_found(httpserver, connector):
    _error(httpserver, "error_bad_parameter_code100.json")
    with pytest.raises(AccountNotFoundError, match="Graph error 100/33"):
        connector.fetch("account_daily", "ig", date(2026, 9, 1), date(2026, 9, 2))


@pytest.mark.parametrize("name", ["error_rate_limit_80002.json", "error_rate_limit_code4.json"])
def test_rate_limit_body_is_retried_then_raised(httpserver, connector, name):
    _error(httpserver, name)
    with pytest.raises(RateLimitedError, match="rate limited"):
        connector.fetch("account_daily", "ig", date(2026, 9, 1), date(2026, 9, 2))
    assert len(httpserver.log) == FAST.rate_limit_retries + 1
