"""The X connector against recorded X API v2 responses (tests/fixtures/contracts/x/, provenance in its README).

A local HTTP server (pytest-httpserver) answers with the recorded bodies; every expected row below is written out
from the fixture by hand. The connector is pointed at ``<server>/2`` like the real root ``https://api.x.com/2``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from pipeline.connectors import get_connector
from pipeline.connectors.base import (
    AccountNotFoundError,
    AuthenticationError,
    BadRequestError,
    HttpPolicy,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
    SchemaDriftError,
)
from pipeline.connectors.x import UsageCapError
from pipeline.credentials import Credentials

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contracts" / "x"
TOKEN = "tok-SECRET-123"
POLICY = HttpPolicy(timeout=5, retries=1, backoff_factor=0.001, backoff_max=0.01, throttle_pause=0.001,
                    rate_limit_retries=2, page_size=100)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def connector(httpserver, **options):
    conn = get_connector("x", Credentials(httpserver.url_for("/2"), TOKEN, "goalpost_x"), policy=POLICY,
                         brand="acme", competitors=["rivalco"], **options)
    # the daily run for 2026-09-08 pulls on 2026-09-09: the follower count it reads stands for the end of 09-08
    conn.clock = lambda: datetime(2026, 9, 9, 12, 30, tzinfo=UTC)
    return conn


def serve(httpserver, path: str, name: str, *, status: int = 200, query: dict | None = None,
          headers: dict | None = None) -> None:
    httpserver.expect_ordered_request(path, method="GET", query_string=query).respond_with_json(
        fixture(name), status=status, headers=headers)


def sent(httpserver) -> list[tuple[str, dict[str, str], str | None]]:
    return [(r.path, dict(r.args), r.headers.get("Authorization")) for r, _ in httpserver.log]


# ---- account_daily: GET /2/users/:id?user.fields=public_metrics ----

def test_account_daily_is_the_follower_count_dated_the_day_before_the_pull(httpserver):
    serve(httpserver, "/2/users/2244994945", "user_public_metrics_docs.json")
    table = connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert [{k: r[k] for k in ("date", "followers", "impressions", "views", "reach", "profile_views",
                               "page_views", "quarantine_reason")} for r in table.to_pylist()] == [
        {"date": date(2026, 9, 8), "followers": 583423, "impressions": None, "views": None, "reach": None,
         "profile_views": None, "page_views": None, "quarantine_reason": None}]
    assert sent(httpserver) == [("/2/users/2244994945", {"user.fields": "public_metrics"}, f"Bearer {TOKEN}")]


def test_account_daily_outside_the_snapshot_day_has_no_row_and_asks_nothing(httpserver):
    serve(httpserver, "/2/users/2244994945", "user_public_metrics_docs.json")
    conn = connector(httpserver)
    assert conn.fetch("account_daily", "2244994945", date(2026, 9, 1), date(2026, 9, 8)).num_rows == 0
    assert conn.fetch("account_daily", "2244994945", date(2026, 9, 9), date(2026, 9, 10)).num_rows == 0   # pull day
    assert len(httpserver.log) == 0


# ---- post: GET /2/users/:id/tweets, pagination_token <- meta.next_token ----

TIMELINE_PARAMS = {"start_time": "2026-09-01T00:00:00Z", "end_time": "2026-09-09T00:00:00Z", "max_results": "100",
                   "tweet.fields": "created_at,author_id,entities,attachments", "expansions": "attachments.media_keys",
                   "media.fields": "type"}


def test_timeline_follows_next_token_to_the_last_page(httpserver):
    serve(httpserver, "/2/users/783214/tweets", "tweets_public_metrics_list.json")
    serve(httpserver, "/2/users/783214/tweets", "users_tweets_public_metrics_2021.json")
    serve(httpserver, "/2/users/783214/tweets", "search_recent_expansions_last_page_docs.json")
    conn = connector(httpserver)
    rows = conn.fetch("post", "783214", date(2026, 9, 1), date(2026, 9, 9)).to_pylist()
    # the recorded Posts are from 2020-2024: outside the window, so fetch() keeps none; the parsed rows are below
    assert rows == []
    assert [(path, args.get("pagination_token")) for path, args, _ in sent(httpserver)] == [
        ("/2/users/783214/tweets", None), ("/2/users/783214/tweets", "next_token"),
        ("/2/users/783214/tweets", "7140dibdnow9c7btw3w3itbygz8uu5pbs45oy6erjc2ls")]
    assert {k: v for k, v in sent(httpserver)[0][1].items()} == TIMELINE_PARAMS


def test_timeline_rows_from_the_recorded_pages(httpserver):
    serve(httpserver, "/2/users/783214/tweets", "tweets_public_metrics_list.json")
    serve(httpserver, "/2/users/783214/tweets", "users_tweets_public_metrics_2021.json")
    serve(httpserver, "/2/users/783214/tweets", "search_recent_expansions_last_page_docs.json")
    conn = connector(httpserver)
    rows = conn.posts("783214", date(2026, 9, 1), date(2026, 9, 9))
    assert [(r["post_id"], r["created_at"], r["content_type"], r["campaign"], r["is_paid"]) for r in rows] == [
        ("1724975633908789418", datetime(2023, 11, 16, 2, 20, 14, tzinfo=UTC), "text", None, None),
        ("1724805194280730931", datetime(2023, 11, 15, 15, 2, 58, tzinfo=UTC), "text", None, None),
        ("1721182049565081649", datetime(2023, 11, 5, 15, 5, 53, tzinfo=UTC), "text", None, None),
        # t.co links in the text, but this recording did not ask for `entities`: no entities.urls -> text
        ("1364275610764201984", datetime(2021, 2, 23, 18, 7, 7, tzinfo=UTC), "text", None, None),
        ("1362876655061073928", datetime(2021, 2, 19, 21, 28, 10, tzinfo=UTC), "text", None, None),
        ("1234567890123456789", datetime(2024, 1, 15, 10, 30, tzinfo=UTC), "text", None, None),
    ]
    assert rows[0]["caption"].startswith("RT @XDevelopers: You can now monitor your usage programmatically")
    # edit_history_tweet_ids (a default field) and the fields we ask for are known; the rest is counted drift
    assert dict(conn.schema_drift) == {("users/tweets", "conversation_id"): 3}


def test_timeline_without_created_at_is_schema_drift(httpserver):
    # the recorded default-fields page: created_at (an identity field) only comes when tweet.fields asks for it
    serve(httpserver, "/2/users/783214/tweets", "users_tweets_page1_default_fields.json")
    with pytest.raises(SchemaDriftError, match=r"^x: schema drift in users/tweets: record without its identity "
                                               r"field\(s\) created_at \(connection 'goalpost_x', account '783214'"):
        connector(httpserver).fetch("post", "783214", date(2026, 9, 1), date(2026, 9, 9))


def test_empty_page_ends_the_listing(httpserver):
    serve(httpserver, "/2/users/783214/tweets", "list_empty_page_dm_events.json")
    assert connector(httpserver).posts("783214", date(2026, 9, 1), date(2026, 9, 9)) == []
    assert len(httpserver.log) == 1


def test_unknown_user_is_account_not_found(httpserver):
    body = {"errors": [fixture("tweet_not_found_partial_error.json")["errors"][0] | {
        "resource_type": "user", "value": "783214", "resource_id": "783214",
        "detail": "Could not find user with id: [783214]."}]}
    httpserver.expect_request("/2/users/783214/tweets").respond_with_json(body)
    with pytest.raises(AccountNotFoundError, match=r"^x: account '783214' not found \(Could not find user with id: "
                                                   r"\[783214\]\.\) \(connection 'goalpost_x'"):
        connector(httpserver).fetch("post", "783214", date(2026, 9, 1), date(2026, 9, 9))


# ---- post_metrics: GET /2/tweets?ids=..&tweet.fields=public_metrics ----

def refs(*ids: str) -> list[PostRef]:
    return [PostRef(i, datetime(2023, 11, 1, tzinfo=UTC)) for i in ids]


def test_post_metrics_are_the_lifetime_public_metrics(httpserver):
    serve(httpserver, "/2/tweets", "tweets_public_metrics_list.json")
    conn = connector(httpserver)
    table = conn.fetch_post_metrics("x_brand", refs("1724975633908789418", "1724805194280730931",
                                                   "1721182049565081649"), datetime(2026, 9, 8, 6, tzinfo=UTC))
    columns = ("post_id", "date", "impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
               "video_views", "quarantine_reason")
    assert [{c: r[c] for c in columns} for r in table.to_pylist()] == [
        {"post_id": "1724975633908789418", "date": date(2026, 9, 8), "impressions": 0, "views": None, "reach": None,
         "likes": 0, "comments": 0, "shares": 49, "saves": 0, "clicks": None, "video_views": None,
         "quarantine_reason": None},
        {"post_id": "1724805194280730931", "date": date(2026, 9, 8), "impressions": 0, "views": None, "reach": None,
         "likes": 0, "comments": 0, "shares": 49, "saves": 0, "clicks": None, "video_views": None,
         "quarantine_reason": None},
        {"post_id": "1721182049565081649", "date": date(2026, 9, 8), "impressions": 2, "views": None, "reach": None,
         "likes": 0, "comments": 0, "shares": 49, "saves": 0, "clicks": None, "video_views": None,
         "quarantine_reason": None},
    ]
    assert sent(httpserver) == [("/2/tweets", {"ids": "1724975633908789418,1724805194280730931,1721182049565081649",
                                               "tweet.fields": "public_metrics"}, f"Bearer {TOKEN}")]


def test_post_metrics_omitted_keys_are_none(httpserver):
    # docs search example: public_metrics printed with 4 keys (no bookmark_count, no impression_count)
    serve(httpserver, "/2/tweets", "search_recent_expansions_last_page_docs.json")
    rows = connector(httpserver).post_metrics("x_brand", refs("1234567890123456789"))
    assert rows == [{"post_id": "1234567890123456789", "impressions": None, "views": None, "reach": None,
                     "clicks": None, "video_views": None, "likes": 42, "comments": 2, "shares": 6, "saves": None,
                     "quarantine_reason": None}]


def test_post_metrics_without_public_metrics_are_all_none(httpserver):
    serve(httpserver, "/2/tweets", "tweets_lookup_default_fields.json")
    rows = connector(httpserver).post_metrics("x_brand", refs("1293593516040269825", "1293595870563381249"))
    assert [(r["post_id"], r["likes"], r["shares"], r["impressions"]) for r in rows] == [
        ("1293593516040269825", None, None, None), ("1293595870563381249", None, None, None)]


def test_partial_error_is_counted_not_fatal(httpserver):
    serve(httpserver, "/2/tweets", "tweets_lookup_partial_error_docs.json")
    conn = connector(httpserver)
    rows = conn.post_metrics("x_brand", refs("123", "456"))
    assert [r["post_id"] for r in rows] == ["123"]               # 456 "Could not find tweet": no row, no failure
    assert dict(conn.partial_errors) == {("tweets lookup", "resource-not-found"): 1}


def test_post_metrics_batch_100_ids_per_call(httpserver):
    httpserver.expect_request("/2/tweets").respond_with_json(fixture("list_empty_page_dm_events.json"))
    ids = [str(1_000 + n) for n in range(150)]
    assert connector(httpserver).post_metrics("x_brand", refs(*ids)) == []
    assert [len(args["ids"].split(",")) for _, args, _ in sent(httpserver)] == [100, 50]


# ---- mentions: GET /2/tweets/search/recent, next_token, one query per brand ----

def test_mentions_one_query_per_brand_next_token_paging(httpserver):
    serve(httpserver, "/2/tweets/search/recent", "search_recent_page1_fields.json")
    serve(httpserver, "/2/tweets/search/recent", "search_recent_last_page_fields.json")
    serve(httpserver, "/2/tweets/search/recent", "search_recent_expansions_last_page_docs.json")
    conn = connector(httpserver)
    rows = conn.mentions("x_brand", date(2026, 9, 1), date(2026, 9, 8))
    calls = sent(httpserver)
    assert [(args["query"], args.get("next_token")) for _, args, _ in calls] == [
        ("acme", None), ("acme", "b26v89c19zqg8o3fo7gesq314zlbjb2xlwutmy72r47lp"), ("rivalco", None)]
    assert {k: v for k, v in calls[0][1].items() if k != "query"} == {
        "start_time": "2026-09-01T00:00:00Z", "end_time": "2026-09-08T00:00:00Z", "max_results": "100",
        "tweet.fields": "created_at,author_id,entities,attachments", "expansions": "author_id",
        "user.fields": "public_metrics"}
    assert [(r["mention_id"], r["brand"], r["is_competitor"], r["author_handle"], r["author_followers"],
             r["hashtags"], r["is_ugc"], r["sentiment"]) for r in rows] == [
        ("1275840892285399041", "acme", False, "1176828691365736451", None, None, False, None),
        ("1275840892281249793", "acme", False, "13524182", None, "ny12", False, None),
        ("1275840891014561796", "acme", False, "15004848", None, None, False, None),
        ("1276035977375477760", "acme", False, "happycamper", None, None, True, None),
        ("1275882613572583424", "acme", False, "snowman", None, None, False, None),
        ("1234567890123456789", "rivalco", True, "pythondev", None, None, False, None),
    ]
    assert rows[1]["created_at"] == datetime(2020, 6, 24, 17, 19, 7, tzinfo=UTC)
    assert conn.schema_drift[("search/recent", "lang")] == 5
    assert conn.schema_drift[("search/recent.includes.users", "description")] == 2


# ---- errors: problem+json bodies ----

def test_expired_token_names_the_connection_never_the_token(httpserver):
    serve(httpserver, "/2/users/2244994945", "error_401_unauthorized.json", status=401,
          headers={"content-type": "application/problem+json"})
    with pytest.raises(AuthenticationError) as error:
        connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert not isinstance(error.value, PermissionDeniedError)
    assert str(error.value) == ("x: 401 Unauthorized: connection 'goalpost_x' has an invalid or expired token — "
                                "check the token and renew it in the Airflow connection (connection "
                                "'goalpost_x', account '2244994945', window 2026-09-08..2026-09-08)")
    assert TOKEN not in str(error.value) and TOKEN not in repr(error.value)


def test_client_forbidden_is_permission_denied(httpserver):
    serve(httpserver, "/2/tweets/search/recent", "error_403_client_forbidden.json", status=403)
    with pytest.raises(PermissionDeniedError, match=r"^x: 403 \(Client Forbidden; When authenticating requests "
                                                    r".*lacks access to this endpoint"):
        connector(httpserver).fetch("mentions", "x_brand", date(2026, 9, 8), date(2026, 9, 9))


def test_invalid_request_is_bad_request_with_the_platform_message(httpserver):
    serve(httpserver, "/2/tweets", "error_400_invalid_request.json", status=400)
    with pytest.raises(BadRequestError) as error:
        connector(httpserver).post_metrics("x_brand", refs("1"))
    assert "Invalid Request; One or more parameters to your request was invalid.; The ids query parameter can " \
           "not be empty" in str(error.value)


def test_a_429_retried_by_urllib3_then_succeeds(httpserver):
    reset = str(int(time.time()) + 2)
    serve(httpserver, "/2/users/2244994945", "error_429_too_many_requests.json", status=429,
          headers={"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
    serve(httpserver, "/2/users/2244994945", "user_public_metrics_docs.json")
    table = connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert table.column("followers").to_pylist() == [583423]
    assert len(httpserver.log) == 2                   # urllib3's one retry (POLICY.retries)


def test_a_429_left_after_urllib3_is_raised_with_the_reset_not_waited_in_place(httpserver):
    reset = int(time.time()) + 30
    for _ in range(POLICY.retries + 1):
        serve(httpserver, "/2/users/2244994945", "error_429_too_many_requests.json", status=429,
              headers={"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    serve(httpserver, "/2/users/2244994945", "user_public_metrics_docs.json")     # never asked for
    started = time.monotonic()
    with pytest.raises(RateLimitedError, match=r"^x: rate limited \(429: Too Many Requests; Too Many Requests\); "
                                               r"the window resets in \d+ s \(x-rate-limit-reset\) \(connection "
                                               r"'goalpost_x', account '2244994945', window 2026-09-08\.\.2026-09-08\)$"
                       ) as error:
        connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert time.monotonic() - started < 5             # not slept until the reset: Airflow retries the task later
    assert error.value.retries_exhausted and 20 < error.value.retry_after <= 30
    assert len(httpserver.log) == POLICY.retries + 1


def test_rate_limit_that_never_resets_raises_rate_limited(httpserver):
    httpserver.expect_request("/2/users/2244994945").respond_with_json(
        fixture("error_429_too_many_requests.json"), status=429, headers={"x-rate-limit-reset": "0"})
    with pytest.raises(RateLimitedError, match=r"^x: rate limited \(429: Too Many Requests; Too Many Requests\); "
                                               r"the window resets in 0 s") as error:
        connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert error.value.retry_after == 0 and error.value.retries_exhausted
    assert len(httpserver.log) == POLICY.retries + 1             # urllib3's retries only, not retried in place


def test_rate_limit_reset_beyond_the_cap_fails_at_once(httpserver):
    httpserver.expect_request("/2/users/2244994945").respond_with_json(
        fixture("error_429_too_many_requests.json"), status=429,
        headers={"x-rate-limit-reset": str(int(time.time()) + 900)})
    with pytest.raises(RateLimitedError) as error:
        connector(httpserver).fetch("account_daily", "2244994945", date(2026, 9, 8), date(2026, 9, 9))
    assert error.value.retry_after > 800
    assert len(httpserver.log) == POLICY.retries + 1             # urllib3's own retries only, no wait in place


def test_usage_cap_is_not_retried_in_place(httpserver):
    httpserver.expect_request("/2/tweets").respond_with_json(
        fixture("error_429_usage_capped.json"), status=429,
        headers={"x-rate-limit-limit": "40000", "x-rate-limit-remaining": "39999"})
    with pytest.raises(UsageCapError, match=r"^x: usage cap exceeded \(429: UsageCapExceeded; Usage cap exceeded: "
                                            r"Monthly product cap\); waiting minutes does not help"):
        connector(httpserver).post_metrics("x_brand", refs("1"))
    assert len(httpserver.log) == POLICY.retries + 1


def test_problem_body_without_status_still_classifies(httpserver):
    def handler(request: Request) -> Response:
        return Response(json.dumps(fixture("error_problem_format_docs.json")), status=400,
                        content_type="application/problem+json")
    httpserver.expect_request("/2/tweets/search/recent").respond_with_handler(handler)
    with pytest.raises(BadRequestError, match=r"The 'query' parameter is required\."):
        connector(httpserver).fetch("mentions", "x_brand", date(2026, 9, 8), date(2026, 9, 9))


# ---- the fake API (pipeline/fakeapi/xapi.py) serves the same shapes, from the demo data ----

def test_fake_api_bodies_have_the_recorded_shapes(fake_api):
    import requests

    def get(path: str, token: str = fake_api.token) -> requests.Response:
        return requests.get(fake_api.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)

    assert get("/x/2/users/x_brand", token="wrong").json() == fixture("error_401_unauthorized.json")
    bad = get("/x/2/tweets?ids=")
    assert bad.status_code == 400 and bad.json() == fixture("error_400_invalid_request.json")
    missing = get("/x/2/tweets?ids=x_brand_20260908_1,x_brand_20260908_99&tweet.fields=public_metrics").json()
    assert set(missing) == {"data", "errors"}
    assert set(missing["errors"][0]) == set(fixture("tweet_not_found_partial_error.json")["errors"][0])
    assert set(missing["data"][0]) == {"id", "text", "edit_history_tweet_ids", "public_metrics"}
    assert set(missing["data"][0]["public_metrics"]) == set(fixture("tweets_public_metrics_list.json")["data"][0][
        "public_metrics"])
    empty = get("/x/2/users/x_brand/tweets?start_time=2026-09-06T00:00:00Z&end_time=2026-09-06T00:00:01Z")
    assert empty.json() == fixture("list_empty_page_dm_events.json")
    assert set(empty.headers) >= {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"}
    search = get("/x/2/tweets/search/recent?query=acme&start_time=2026-09-08T00:00:00Z&end_time=2026-09-09T00:00:00Z"
                 "&tweet.fields=created_at,author_id&expansions=author_id&user.fields=public_metrics").json()
    assert set(search) == {"data", "includes", "meta"} and set(search["meta"]) == {
        "result_count", "newest_id", "oldest_id", "next_token"}
    assert set(search["includes"]["users"][0]) == {"id", "name", "username", "public_metrics"}
    assert "matching_rules" not in search["data"][0] and "sentiment" not in search["data"][0]
    assert get("/x/2/tweets/search/recent?query=acme&max_results=5&start_time=2026-09-08T00:00:00Z"
               "&end_time=2026-09-09T00:00:00Z").status_code == 400          # search pages are 10..100


def test_fake_api_rows_are_the_demo_data():
    from pipeline.fakeapi import data
    from pipeline.fakeapi import serve as serve_fake

    day = date(2026, 9, 8)
    with serve_fake(today=date(2026, 9, 20)) as api:
        conn = get_connector("x", Credentials(api.url, api.token), policy=POLICY)
        # the fake world's clock is the end of 2026-09-20 (its ``today``): the daily run for 09-20 pulls on 09-21
        conn.clock = lambda: datetime(2026, 9, 21, 9, tzinfo=UTC)
        followers = conn.fetch("account_daily", "x_brand", date(2026, 9, 20), date(2026, 9, 21)).to_pylist()
        assert [(r["date"], r["followers"]) for r in followers] == [
            (date(2026, 9, 20), data.followers("x", "x_brand", date(2026, 9, 20)))]
        posts = conn.fetch("post", "x_brand", day, day + (date(2026, 9, 9) - day)).to_pylist()
        expected = {p.post_id: p for p in data.posts_created_on("x", "x_brand", day)}
        assert sorted(r["post_id"] for r in posts) == sorted(expected)
        for row in posts:
            post = expected[row["post_id"]]
            assert (row["campaign"], row["variant"]) == (post.campaign, post.variant)
            assert row["content_type"] == ("image" if post.content_type == "image" else
                                           "link" if post.tracked_link or post.content_type == "link" else "text")
        metrics = conn.fetch_post_metrics("x_brand", [PostRef(r["post_id"], r["created_at"]) for r in posts],
                                          datetime(2026, 9, 20, 9, tzinfo=UTC)).to_pylist()
        for row in metrics:
            lifetime = data.post_lifetime_metrics(expected[row["post_id"]], date(2026, 9, 20))
            assert (row["likes"], row["comments"], row["shares"], row["saves"], row["impressions"], row["clicks"],
                    row["reach"]) == (lifetime["likes"], lifetime["comments"], lifetime["shares"], lifetime["saves"],
                                      lifetime["impressions"], None, None)
        assert len(metrics) == len(posts) and not conn.partial_errors
