"""Facebook connector against the recorded Graph responses in tests/fixtures/contracts/facebook/ (see its README for
each body's provenance), served by a local pytest-httpserver. Expected rows are written out from the fixtures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from pipeline.connectors import get_connector
from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    HttpPolicy,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
)
from pipeline.connectors.facebook import DEPRECATED_METRICS, PAGE_METRICS, POST_INSIGHTS, first_response
from pipeline.credentials import Credentials

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contracts" / "facebook"
PREFIX = "/facebook/v26.0"
FAST = HttpPolicy(timeout=5, retries=0, backoff_factor=0.001, backoff_max=0.01, rate_limit_retries=2, page_size=3)
SECRET = "tok-SECRET-123"
POST_FIELDS = "id,created_time,message,status_type,permalink_url"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def respond(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def connector(httpserver):
    return get_connector("facebook", Credentials(httpserver.url_for("/").rstrip("/"), SECRET, conn_id="fb_main"),
                         policy=FAST)


def test_posts_follow_paging_next_with_until_and_paging_token(httpserver, connector):
    first, last = fixture("posts_page_first.json"), fixture("posts_page_last.json")
    seen: list[Request] = []

    def posts(request: Request) -> Response:
        seen.append(request)
        return respond(last if "__paging_token" in request.args else first)

    httpserver.expect_request(f"{PREFIX}/4/posts").respond_with_handler(posts)
    table = connector.fetch("post", "4", date(2021, 6, 1), date(2021, 7, 10))

    assert len(seen) == 2                                   # the last page has no paging.next: stop there
    assert dict(seen[0].args) == {"fields": POST_FIELDS, "since": "2021-06-01", "until": "2021-07-10", "limit": "3"}
    # the next page is paging.next whole (its until/__paging_token), minus access_token, which is never sent in a URL
    assert dict(seen[1].args) == {"pretty": "0", "fields": "id,message,created_time", "until": "1624385168",
                                  "since": "", "__paging_token": "__paging_token", "__previous": ""}
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in seen)
    rows = sorted(table.to_pylist(), key=lambda r: r["created_at"], reverse=True)
    assert [(r["post_id"], r["created_at"]) for r in rows] == [
        ("4_10113477241177441", datetime(2021, 7, 4, 19, 50, 58, tzinfo=UTC)),
        ("4_10113449068715281", datetime(2021, 7, 2, 13, 42, 21, tzinfo=UTC)),
        ("4_10113400535556121", datetime(2021, 6, 29, 1, 34, 6, tzinfo=UTC)),
        ("4_10113332572050531", datetime(2021, 6, 23, 17, 39, 46, tzinfo=UTC)),
        ("4_10113319652002411", datetime(2021, 6, 22, 18, 6, 8, tzinfo=UTC)),
    ]
    assert rows[0]["caption"] == "Happy July 4th! 🇺🇸"
    # status_type and permalink_url were not in this recording: omitted fields read as None, not an error
    assert {r["content_type"] for r in rows} == {None}
    assert {r["is_paid"] for r in rows} == {None}          # promotion_status values are undocumented
    assert {r["quarantine_reason"] for r in rows} == {None}
    assert not connector.schema_drift


def test_posts_last_page_with_cursors_and_no_next(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/659554973897366/posts").respond_with_json(fixture("posts_v25_cursors.json"))
    rows = connector.post_list("659554973897366", date(2026, 4, 1), date(2026, 4, 10))
    assert [(r["post_id"], r["created_at"], r["caption"]) for r in rows] == [
        ("659554973897366_122168377616832251", datetime(2026, 4, 6, 17, 50, 9, tzinfo=UTC), "hello world")]
    assert len(httpserver.log) == 1


def test_account_daily_reads_one_insights_answer_and_never_follows_its_time_window_paging(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/723701000827665/insights").respond_with_json(
        fixture("page_insights_page_follows_day.json"))
    rows = connector.account_daily("723701000827665", date(2026, 9, 3), date(2026, 9, 5))

    (request, _), = httpserver.log                          # paging.next is the following window: not followed
    assert dict(request.args) == {"metric": "page_follows,page_media_view,page_total_media_view_unique,"
                                            "page_views_total", "period": "day", "since": "2026-09-03",
                                  "until": "2026-09-05"}
    none = {"impressions": None, "views": None, "reach": None, "profile_views": None, "page_views": None}
    # end_time 2026-09-04T07:00:00+0000 is the end of the Pacific day 2026-09-03
    assert rows == [{"date": date(2026, 9, 3), "followers": 64, **none, "quarantine_reason": None},
                    {"date": date(2026, 9, 4), "followers": 64, **none, "quarantine_reason": None}]


def test_page_views_total_lands_in_page_views(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/659554973897366/insights").respond_with_json(
        fixture("page_insights_page_views_total_day.json"))
    rows = connector.account_daily("659554973897366", date(2026, 9, 2), date(2026, 9, 4))
    assert [(r["date"], r["page_views"], r["followers"]) for r in rows] == [
        (date(2026, 9, 2), 0, None), (date(2026, 9, 3), 0, None)]


def test_post_metrics_are_lifetime_values_and_unreported_metrics_are_none(httpserver, connector):
    ids = fixture("posts_by_ids.json")
    first, second = list(ids)
    insights = {first: fixture("post_insights_post_clicks_lifetime.json"),
                second: fixture("post_insights_reactions_by_type_lifetime.json")}
    seen: list[Request] = []

    def route(request: Request) -> Response:
        seen.append(request)
        node = request.path.removeprefix(f"{PREFIX}/").removesuffix("/insights")
        return respond(ids if node == "" else insights[node])

    httpserver.expect_request(f"{PREFIX}/").respond_with_handler(route)
    for post_id in insights:
        httpserver.expect_request(f"{PREFIX}/{post_id}/insights").respond_with_handler(route)
    posts = [PostRef(first, datetime(2021, 7, 8, tzinfo=UTC)), PostRef(second, datetime(2021, 7, 7, tzinfo=UTC))]
    rows = connector.post_metrics("19292868552", posts)

    assert dict(seen[0].args) == {"ids": f"{first},{second}", "fields": "id,shares,comments.summary(true).limit(0)"}
    assert [dict(r.args) for r in seen[1:]] == [
        {"metric": "post_media_view,post_total_media_view_unique,post_clicks,post_reactions_by_type_total",
         "period": "lifetime"}] * 2
    none = dict.fromkeys(("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
                          "video_views"))
    assert rows == [{"post_id": first, **none, "clicks": 6, "quarantine_reason": None},
                    {"post_id": second, **none, "likes": 1, "quarantine_reason": None}]
    # the multi-id recording carries fields we did not ask for: counted as drift, never fatal
    assert connector.schema_drift[("?ids", "created_time")] == 2
    assert connector.schema_drift[("?ids", "message")] == 2


def test_post_comments_and_shares_from_the_recorded_summaries(httpserver, connector):
    node = fixture("post_fields_engagement_summaries.json")
    post_id = node["id"]
    # the recorded node, in the recorded multi-id envelope ({id: node}, posts_by_ids.json)
    httpserver.expect_request(f"{PREFIX}/").respond_with_json({post_id: node})
    httpserver.expect_request(f"{PREFIX}/{post_id}/insights").respond_with_json(
        fixture("post_insights_multi_metric_legacy.json"))
    row, = connector.post_metrics("723701000827665", [PostRef(post_id, datetime(2026, 9, 1, tzinfo=UTC))])
    # comments from comments.summary.total_count; shares omitted (none) -> None; the legacy answer's deprecated
    # metric names are not ours and are ignored; likes = all reactions: like 2014 + love 67 + wow 42 + haha 190
    # + sorry 8 + anger 143
    assert (row["comments"], row["shares"], row["likes"], row["views"], row["reach"], row["impressions"]) == \
        (1, None, 2014 + 67 + 42 + 190 + 8 + 143, None, None, None)
    assert connector.schema_drift[("?ids", "reactions")] == 1


def test_current_metric_maps_request_no_deprecated_metric():
    assert not set(PAGE_METRICS) & set(DEPRECATED_METRICS)
    assert not set(POST_INSIGHTS) & set(DEPRECATED_METRICS)
    assert DEPRECATED_METRICS["post_impressions"].successor == "post_media_view"
    assert DEPRECATED_METRICS["page_impressions_unique"].all_versions_from == date(2025, 6, 15)


def test_messenger_first_response_from_recorded_messages(httpserver, connector):
    node = fixture("conversation_node.json")
    messages = fixture("messages_by_ids.json")
    # recorded nodes in the documented list envelope {"data": [...]}; the conversation was recorded without the
    # messages expansion, so the connector reads GET /{conversation-id}/messages
    httpserver.expect_request(f"{PREFIX}/2121008874780932/conversations").respond_with_json({"data": [node]})
    httpserver.expect_request(f"{PREFIX}/{node['id']}/messages").respond_with_json(
        {"data": list(messages.values())})
    rows = connector.support_conversations("2121008874780932", date(2021, 6, 1), date(2021, 8, 1))

    list_request, messages_request = (request for request, _ in httpserver.log)
    assert dict(list_request.args) == {"platform": "messenger", "fields": "id,updated_time,messages{id,created_time,from}",
                                       "limit": "3"}
    assert dict(messages_request.args) == {"fields": "id,created_time,from", "limit": "3"}
    # both recorded messages are from the customer: opened at the first, the Page never answered
    assert rows == [{"conversation_id": "t_587956915396498",
                     "opened_at": datetime(2021, 7, 23, 9, 50, 48, tzinfo=UTC), "first_response_at": None,
                     "agent_id": None, "csat_score": None, "quarantine_reason": None}]
    # the recorded message carries to/tags/attachments we did not ask for: counted, not fatal
    assert connector.schema_drift[("messages", "attachments")] == 2


def test_first_response_is_the_pages_first_message_after_the_customer():
    t = [datetime(2026, 9, 1, 10, minute, tzinfo=UTC) for minute in range(4)]
    assert first_response([(t[0], "page"), (t[1], "cust"), (t[2], "page"), (t[3], "page")], "page") == t[2]
    assert first_response([(t[0], "cust"), (t[1], "cust")], "page") is None


def test_leads_from_forms_counted_by_day_campaign_and_form_type(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/918302931682635/leadgen_forms").respond_with_json(
        fixture("leadgen_forms.json"))
    httpserver.expect_request(f"{PREFIX}/914125173480823/leads").respond_with_json(fixture("form_leads.json"))
    rows = connector.leads("918302931682635", date(2025, 10, 1), date(2025, 10, 15))

    forms_request, leads_request = (request for request, _ in httpserver.log)
    assert dict(forms_request.args) == {"fields": "id,name", "limit": "3"}
    assert dict(leads_request.args) == {"fields": "id,created_time,campaign_name,form_id", "limit": "3"}
    assert rows == [{"date": date(2025, 10, 8), "campaign": "Student/Анатолій/ЛФ/Україна,30-55,Ж,Advantage+/24.07.2025",
                     "lead_type": "lead_form", "leads": 1}]
    assert connector.schema_drift[("leads", "field_data")] == 1       # answers are never read


def test_ads_insights_strings_and_one_purchase_not_the_sum(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/act_1135898378327369/insights").respond_with_json(
        fixture("ads_insights_actions_recorded.json"))
    rows = connector.ad_spend("1135898378327369", date(2025, 3, 4), date(2025, 3, 22))

    (request, _), = httpserver.log
    assert dict(request.args) == {"level": "campaign", "time_increment": "1",
                                  "fields": "campaign_name,spend,impressions,clicks,actions,account_currency",
                                  "time_range": '{"since": "2025-03-04", "until": "2025-03-21"}', "limit": "3"}
    assert rows == [
        {"date": date(2025, 3, 4), "campaign": None, "spend": 0.01, "currency": None, "impressions": 5, "clicks": 0,
         "acquisitions": 0, "quarantine_reason": None},                 # no actions: the field is omitted
        {"date": date(2025, 3, 4), "campaign": None, "spend": 6.49, "currency": None, "impressions": 168,
         "clicks": 13, "acquisitions": 1, "quarantine_reason": None},   # purchase x5 action types, value 1
    ]


def test_ads_insights_docs_example(httpserver, connector):
    httpserver.expect_request(f"{PREFIX}/act_1/insights").respond_with_json(fixture("ads_insights_docs_example.json"))
    rows = connector.ad_spend("1", date(2025, 3, 14), date(2025, 4, 13))
    assert rows == [{"date": date(2025, 3, 14), "campaign": None, "spend": 5339.5, "currency": None,
                     "impressions": 361324, "clicks": None, "acquisitions": 0, "quarantine_reason": None}]


def serve_error(httpserver, name: str, status: int) -> None:
    httpserver.expect_request(f"{PREFIX}/723701000827665/insights").respond_with_json(fixture(name), status=status)


@pytest.mark.parametrize("name", ["error_expired_token_190_463.json", "error_oauth_190_docs_sample.json"])
def test_expired_token_names_the_connection_never_the_token(httpserver, connector, name):
    serve_error(httpserver, name, 400)
    with pytest.raises(AuthenticationError) as caught:
        connector.fetch("account_daily", "723701000827665", date(2026, 9, 3), date(2026, 9, 5))
    assert not isinstance(caught.value, PermissionDeniedError)
    message = str(caught.value)
    assert message.startswith("facebook: token for connection 'fb_main' is expired or invalid: Graph error 190/")
    if name == "error_oauth_190_docs_sample.json":    # (a long platform message cuts the suffix at 300 chars)
        assert message.endswith("(connection 'fb_main', account '723701000827665', window 2026-09-03..2026-09-04)")
    assert SECRET not in message and SECRET not in repr(caught.value)
    assert len(httpserver.log) == 1                                     # not retried


def test_rate_limit_body_is_retried_then_raised(httpserver, connector):
    serve_error(httpserver, "error_rate_limit_17.json", 400)
    with pytest.raises(RateLimitedError, match=r"^facebook: rate limited: Graph error 17/2446079 \(\(#17\) User "
                                               r"request limit reached\)"):
        connector.fetch("account_daily", "723701000827665", date(2026, 9, 3), date(2026, 9, 5))
    assert len(httpserver.log) == 1 + FAST.rate_limit_retries


def test_permission_error_403_code_200(httpserver, connector):
    serve_error(httpserver, "error_permission_200.json", 403)
    with pytest.raises(PermissionDeniedError, match=r"lacks a permission this call needs: Graph error 200 "
                                                    r"\(\(#200\) Can not hide or unhide this comment\)"):
        connector.fetch("account_daily", "723701000827665", date(2026, 9, 3), date(2026, 9, 5))


@pytest.mark.parametrize("name", ["error_bad_parameter_100.json", "error_invalid_metric_100.json",
                                  "error_missing_permission_100.json"])
def test_code_100_is_a_bad_request(httpserver, connector, name):
    serve_error(httpserver, name, 400)
    with pytest.raises(BadRequestError, match=r"^facebook: the API rejected a parameter: Graph error 100 \(\(#100\)"):
        connector.fetch("account_daily", "723701000827665", date(2026, 9, 3), date(2026, 9, 5))
