"""TikTok connector against the Display API v2 contract: the documented and recorded bodies in
``tests/fixtures/contracts/tiktok/`` (provenance in its README), served from a local HTTP server, plus the fake API
held to the same shapes."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.connectors import get_connector
from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    HttpPolicy,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
    SchemaDriftError,
    ServerError,
)
from pipeline.connectors.tiktok import VIDEO_OBJECT_FIELDS, TikTokConnector, VideoListPaging, epoch_ms
from pipeline.credentials import Credentials
from pipeline.fakeapi import data, serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "tiktok"
TOKEN = "tok-SECRET-123"
POLICY = HttpPolicy(timeout=5, retries=1, backoff_factor=0.001, backoff_max=0.01, rate_limit_retries=2,
                    throttle_pause=0.0)
LIST_FIELDS = "id,create_time,title,video_description,share_url"
QUERY_FIELDS = "id,like_count,comment_count,share_count,view_count"
USER_FIELDS = "open_id,follower_count,following_count,likes_count,video_count"
PULLED_AT = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
WHERE = "(connection 'goalpost_tiktok', account 'tt_brand', window 2026-11-25..2026-11-25)"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def connector(httpserver: Any, policy: HttpPolicy = POLICY) -> TikTokConnector:
    """A connector on the local server as on the real API: the base URL carries ``/v2``, so no fake prefix."""
    tiktok = get_connector("tiktok", Credentials(httpserver.url_for("/v2"), TOKEN), policy=policy)
    assert isinstance(tiktok, TikTokConnector)
    tiktok.now = lambda: PULLED_AT
    return tiktok


def sent(httpserver: Any) -> list[tuple[str, str, dict[str, str], Any]]:
    return [(request.method, request.path, dict(request.args), request.get_json(silent=True))
            for request, _ in httpserver.log]


# ---- /v2/video/list/ ----

def test_video_list_follows_the_cursor_from_the_first_to_the_last_page(httpserver):
    page1, last = fixture("video_list_page1_docs.json"), fixture("video_list_last_page_docs.json")
    start = epoch_ms(date(2022, 3, 20))
    httpserver.expect_ordered_request("/v2/video/list/", method="POST", query_string={"fields": LIST_FIELDS},
                                      json={"max_count": 20, "cursor": start}).respond_with_json(page1)
    httpserver.expect_ordered_request("/v2/video/list/", method="POST", query_string={"fields": LIST_FIELDS},
                                      json={"max_count": 20, "cursor": 1646883959000}).respond_with_json(last)
    tiktok = connector(httpserver)
    pages = list(tiktok.pages("POST", "/video/list/", VideoListPaging(), params=tiktok._params("tt_brand", (
        "id", "create_time", "title", "video_description", "share_url")), body={"max_count": 20, "cursor": start}))
    assert pages == [page1, last]
    assert [v["id"] for p in pages for v in VideoListPaging().records(p)] == \
        ["7080213458555737986", "7080217258545735586", "12345123451234512345"]
    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert "fake_account" not in request.args                  # the real API knows the account from the token


def test_posts_request_and_a_video_without_create_time_is_schema_drift(httpserver):
    # The docs' example was requested without create_time: the identity field our request asks for is missing.
    httpserver.expect_request("/v2/video/list/", method="POST").respond_with_json(
        fixture("video_list_page1_docs.json"))
    with pytest.raises(SchemaDriftError) as error:
        connector(httpserver).fetch("post", "tt_brand", date(2022, 3, 1), date(2022, 3, 20))
    assert str(error.value) == ("tiktok: schema drift in video/list.videos: record without its identity field(s) "
                                "create_time (connection 'goalpost_tiktok', account 'tt_brand', "
                                "window 2022-03-01..2022-03-19)")
    assert sent(httpserver) == [("POST", "/v2/video/list/", {"fields": LIST_FIELDS},
                                 {"max_count": 20, "cursor": epoch_ms(date(2022, 3, 20))})]


def test_video_row_maps_the_documented_fields():
    video = fixture("video_list_page1_docs.json")["data"]["videos"][0]
    created = datetime(2022, 3, 9, 10, 0, tzinfo=UTC)
    assert TikTokConnector.video_row(video, created) == {
        "post_id": "7080213458555737986", "created_at": created, "content_type": "video", "is_paid": None,
        "campaign": None, "variant": None, "partner_handle": None, "author_type": "brand",
        "caption": "Test video 1", "quarantine_reason": None}
    last = fixture("video_list_last_page_docs.json")["data"]["videos"][0]      # no video_description: the title
    assert TikTokConnector.video_row(last, created)["caption"] == "Video Title"


# ---- /v2/video/query/ (lifetime post metrics) ----

NONE_METRICS = dict.fromkeys(("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
                              "video_views"))


@pytest.mark.parametrize("name", ["video_query_docs.json", "video_query_get_started_docs.json"])
def test_post_metrics_from_video_query_omitted_counts_are_none(httpserver, name):
    body = fixture(name)
    ids = [v["id"] for v in body["data"]["videos"]]
    httpserver.expect_request("/v2/video/query/", method="POST", query_string={"fields": QUERY_FIELDS},
                              json={"filters": {"video_ids": ids}}).respond_with_json(body)
    tiktok = connector(httpserver)
    table = tiktok.fetch_post_metrics("tt_brand", [PostRef(i, PULLED_AT) for i in ids], PULLED_AT)
    assert [{k: v for k, v in row.items() if k not in ("platform", "account_id", "schema_version")}
            for row in table.to_pylist()] == \
        [{"post_id": i, "date": date(2026, 11, 25), **NONE_METRICS, "quarantine_reason": None} for i in ids]
    assert not tiktok.schema_drift                 # title / cover_image_url / embed_link are documented fields


def test_post_metrics_batches_twenty_ids_and_skips_videos_not_returned(httpserver):
    body = fixture("video_query_docs.json")
    httpserver.expect_request("/v2/video/query/", method="POST").respond_with_json(body)
    ids = [f"{n:019d}" for n in range(45)]
    rows = connector(httpserver).post_metrics("tt_brand", [PostRef(i, PULLED_AT) for i in ids])
    assert [b["filters"]["video_ids"] for _, _, _, b in sent(httpserver)] == [ids[:20], ids[20:40], ids[40:]]
    assert [r["post_id"] for r in rows] == ["1234123412345678567", "1010102020203030303"] * 3


def test_counts_map_to_lifetime_columns_and_unknown_fields_are_counted(httpserver):
    body = fixture("video_query_docs.json")
    videos = body["data"]["videos"]
    # the Video Object's count fields (types from the Video Object page) and one field it does not document
    videos[0].update({"like_count": 12, "comment_count": 3, "share_count": 1, "view_count": 4021, "new_field": 1})
    videos[1].update({"like_count": "n/a", "new_field": 2})
    httpserver.expect_request("/v2/video/query/", method="POST").respond_with_json(body)
    tiktok = connector(httpserver)
    rows = tiktok.post_metrics("tt_brand", [PostRef(v["id"], PULLED_AT) for v in videos])
    assert rows == [
        {"post_id": "1234123412345678567", **NONE_METRICS, "likes": 12, "comments": 3, "shares": 1, "views": 4021,
         "video_views": 4021, "quarantine_reason": None},
        {"post_id": "1010102020203030303", **NONE_METRICS, "quarantine_reason": "non-numeric like_count: 'n/a'"},
    ]
    assert tiktok.schema_drift == {("video/query.videos", "new_field"): 2}


# ---- /v2/user/info/ (account_daily snapshot) ----

def test_account_daily_is_a_snapshot_dated_the_day_before_the_pull(httpserver):
    httpserver.expect_request("/v2/user/info/", method="GET", query_string={"fields": USER_FIELDS}) \
        .respond_with_json(fixture("user_info_docs.json"))
    tiktok = connector(httpserver)
    rows = tiktok.fetch("account_daily", "tt_brand", date(2026, 11, 20), date(2026, 11, 26)).to_pylist()
    assert [{k: v for k, v in row.items() if k not in ("platform", "account_id", "schema_version")}
            for row in rows] == [{"date": date(2026, 11, 24), "report_timezone": "UTC", "followers": None,
                                  "new_followers": None, "impressions": None, "views": None, "reach": None, "profile_views": None,
                                  "page_views": None, "quarantine_reason": None}]
    assert not tiktok.schema_drift                                 # avatar_url / union_id are documented
    assert sent(httpserver) == [("GET", "/v2/user/info/", {"fields": USER_FIELDS}, None)]
    assert tiktok.fetch("account_daily", "tt_brand", date(2026, 11, 1), date(2026, 11, 8)).num_rows == 0
    assert tiktok.fetch("account_daily", "tt_brand", date(2026, 11, 25), date(2026, 11, 26)).num_rows == 0
    assert len(httpserver.log) == 1                # a window without the snapshot day (11-24) asks nothing


def test_user_without_open_id_is_schema_drift(httpserver):
    body = copy.deepcopy(fixture("user_info_docs.json"))
    del body["data"]["user"]["open_id"]
    httpserver.expect_request("/v2/user/info/").respond_with_json(body)
    with pytest.raises(SchemaDriftError, match=r"record without its identity field\(s\) open_id"):
        connector(httpserver).fetch("account_daily", "tt_brand", date(2026, 11, 24), date(2026, 11, 25))


# ---- error bodies ----

def short(message: str) -> str:
    """The platform's message as the connector quotes it: at most 72 characters."""
    return message if len(message) <= 72 else message[:71] + "…"


def _fail(httpserver: Any, name: str, status: int, headers: dict[str, str] | None = None) -> Exception:
    httpserver.expect_request("/v2/video/query/").respond_with_json(fixture(name), status=status, headers=headers)
    with pytest.raises(Exception) as error:
        connector(httpserver).fetch_post_metrics("tt_brand", [PostRef("7080213458555737986", PULLED_AT)],
                                                 PULLED_AT)
    assert TOKEN not in str(error.value)
    return error.value


def test_expired_token_names_the_connection_never_the_token(httpserver):
    error = _fail(httpserver, "error_access_token_invalid.json", 401)
    assert type(error) is AuthenticationError
    assert str(error) == ("tiktok: access token invalid or expired (HTTP 401 access_token_invalid: The access "
                          "token is invalid or not found in the request.); check the token, renew it in the "
                          "Airflow connection " + WHERE)
    assert len(httpserver.log) == 1                                # not retried


@pytest.mark.parametrize(("name", "status"), [("error_scope_not_authorized.json", 401),
                                              ("error_scope_permission_missed_doc_composed.json", 400)])
def test_missing_scope_is_permission_denied(httpserver, name, status):
    error = _fail(httpserver, name, status)
    assert type(error) is PermissionDeniedError
    code = fixture(name)["error"]["code"]
    said = short(fixture(name)["error"]["message"])
    assert str(error) == (f"tiktok: the token lacks a scope (HTTP {status} {code}: {said}); re-authorize with "
                          f"user.info.stats and video.list {WHERE}")


def test_invalid_params_is_a_bad_request(httpserver):
    error = _fail(httpserver, "error_invalid_params_doc_composed.json", 400)
    assert type(error) is BadRequestError
    said = short(fixture("error_invalid_params_doc_composed.json")["error"]["message"])
    assert said.startswith("One or more fields in request is invalid.") and said.endswith("…")
    assert str(error) == f"tiktok: the API rejected a parameter (HTTP 400 invalid_params: {said}) {WHERE}"


def test_internal_error_is_a_server_error_after_retries(httpserver):
    error = _fail(httpserver, "error_internal_error_doc_composed.json", 500)
    assert type(error) is ServerError
    # the path under the base URL
    assert str(error) == "tiktok: server error 500 on POST /video/query/ after 1 retries " + WHERE
    assert len(httpserver.log) == 2                                # urllib3 retried once (POLICY.retries)


def test_rate_limit_is_retried_then_raised(httpserver):
    error = _fail(httpserver, "error_rate_limit_exceeded_doc_composed.json", 429)
    assert type(error) is RateLimitedError and error.retry_after is None        # TikTok documents no Retry-After
    assert str(error) == ("tiktok: rate limited (HTTP 429 rate_limit_exceeded: The API rate limit was exceeded. "
                          "Please try again later.) " + WHERE)
    # urllib3 retried the 429 once (POLICY.retries); it is then raised, not retried again in place
    assert error.retries_exhausted
    assert len(httpserver.log) == 1 + POLICY.retries


def test_rate_limit_then_success(httpserver):
    httpserver.expect_oneshot_request("/v2/video/query/").respond_with_json(
        fixture("error_rate_limit_exceeded_doc_composed.json"), status=429, headers={"Retry-After": "0"})
    httpserver.expect_oneshot_request("/v2/video/query/").respond_with_json(
        fixture("error_rate_limit_exceeded_doc_composed.json"), status=429, headers={"Retry-After": "0"})
    httpserver.expect_request("/v2/video/query/").respond_with_json(fixture("video_query_docs.json"))
    # both 429s are urllib3's to retry (two retries here); the base never retries a 429 in place
    rows = connector(httpserver, dataclasses.replace(POLICY, retries=2)).post_metrics(
        "tt_brand", [PostRef("1234123412345678567", PULLED_AT)])
    assert [r["post_id"] for r in rows] == ["1234123412345678567", "1010102020203030303"]
    assert len(httpserver.log) == 3


def test_a_token_in_the_platform_message_is_redacted(httpserver):
    body = fixture("error_access_token_invalid.json")
    body["error"]["message"] = f"token {TOKEN} is not valid"
    httpserver.expect_request("/v2/user/info/").respond_with_json(body, status=401)
    with pytest.raises(AuthenticationError) as error:
        connector(httpserver).fetch("account_daily", "tt_brand", date(2026, 11, 24), date(2026, 11, 25))
    assert TOKEN not in str(error.value) and "token *** is not valid" in str(error.value)


# ---- the fake API serves the same shapes ----

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def fake():
    with serve(today=TODAY) as server:
        yield server


def fake_connector(fake: Any) -> TikTokConnector:
    tiktok = get_connector("tiktok", Credentials(fake.url, fake.token), policy=POLICY)
    assert isinstance(tiktok, TikTokConnector)
    tiktok.now = lambda: datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=6)
    return tiktok


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_fake_video_list_has_the_documented_envelope(fake):
    import requests
    reply = requests.post(f"{fake.url}/tiktok/v2/video/list/", params={"fields": "cover_image_url,id,title",
                                                                      "fake_account": "tt_brand"},
                          json={"max_count": 20}, headers={"Authorization": f"Bearer {fake.token}"}, timeout=5)
    assert reply.status_code == 200
    assert _shape(reply.json()) == _shape(fixture("video_list_last_page_docs.json")) | {
        "data": {"videos": [{"cover_image_url": "str", "id": "str", "title": "str"}], "cursor": "int",
                 "has_more": "bool"}}
    assert reply.json()["error"] == {"code": "ok", "message": "", "log_id": "20220829194722CBE87ED59D524E727021"}


def test_fake_errors_have_the_recorded_shape(fake):
    import requests
    bad = requests.get(f"{fake.url}/tiktok/v2/user/info/", params={"fields": "open_id", "fake_account": "tt_brand"},
                       headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert bad.status_code == 401 and bad.json() == fixture("error_access_token_invalid.json") | {
        "error": {**fixture("error_access_token_invalid.json")["error"],
                  "log_id": "20220829194722CBE87ED59D524E727021"}}
    wrong_field = requests.get(f"{fake.url}/tiktok/v2/user/info/", params={"fields": "open_id,is_ad",
                                                                          "fake_account": "tt_brand"},
                               headers={"Authorization": f"Bearer {fake.token}"}, timeout=5)
    assert wrong_field.status_code == 400 and wrong_field.json()["error"]["code"] == "invalid_params"


def test_fake_serves_posts_lifetime_metrics_and_the_follower_snapshot(fake):
    tiktok = fake_connector(fake)
    day = date(2026, 9, 8)
    posts = tiktok.fetch("post", "tt_brand", day, day + timedelta(1)).to_pylist()
    expected = list(reversed(data.posts_created_on("tiktok", "tt_brand", day)))
    assert [p["post_id"] for p in posts] == [p.post_id for p in expected]
    assert [(p["campaign"], p["variant"]) for p in posts] == [(p.campaign, p.variant) for p in expected]
    refs = [PostRef(p["post_id"], p["created_at"]) for p in posts]
    pulled = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=6)
    metrics = tiktok.fetch_post_metrics("tt_brand", refs, pulled).to_pylist()
    for row, post in zip(metrics, expected, strict=True):
        lifetime = data.post_lifetime_metrics(post, TODAY)
        assert (row["post_id"], row["date"], row["likes"], row["comments"], row["shares"], row["views"],
                row["video_views"], row["impressions"], row["reach"], row["saves"], row["clicks"]) == \
            (post.post_id, TODAY, lifetime["likes"], lifetime["comments"], lifetime["shares"],
             lifetime["video_views"], lifetime["video_views"], None, None, None, None)
    # the fake world's clock is the end of TODAY: the daily run for TODAY pulls the follower count on TODAY + 1
    tiktok.now = lambda: datetime.combine(TODAY + timedelta(1), datetime.min.time(), UTC) + timedelta(hours=6)
    snapshot = tiktok.fetch("account_daily", "tt_brand", TODAY - timedelta(2), TODAY + timedelta(1)).to_pylist()
    assert [(r["date"], r["followers"]) for r in snapshot] == [(TODAY, data.followers("tiktok", "tt_brand", TODAY))]
    assert not tiktok.schema_drift
    assert set(VIDEO_OBJECT_FIELDS) >= {"id", "create_time", "like_count", "view_count"}


def test_fake_unknown_account_is_an_invalid_token(fake):
    with pytest.raises(AuthenticationError, match="access_token_invalid"):
        fake_connector(fake).fetch("post", "no_such_account", date(2026, 9, 8), date(2026, 9, 9))
