"""Facebook Pages and Instagram Graph API (v21.0) emulation.

Shapes follow the Graph API: lists are ``{"data": [...], "paging": {"cursors": {"before", "after"},
"next"}}``; insights are ``{"name", "period", "values": [{"value", "end_time"}]}`` where
``end_time`` is the end of the *Pacific* day; every reply carries ``X-App-Usage``.

Endpoints (``<p>`` = instagram | facebook):
- ``GET /<p>/v21.0/<account>/insights?metric=..&period=day|lifetime&since=YYYY-MM-DD&until=YYYY-MM-DD``
- ``GET /<p>/v21.0/<post_id>/insights?metric=..&period=day&since&until``
- ``GET /instagram/v21.0/<account>/media`` / ``GET /facebook/v21.0/<account>/posts`` (``since``, ``until``
  as UTC dates, ``limit``, ``after``)
- ``GET /facebook/v21.0/<account>/conversations?platform=messenger`` (Messenger; emulated
  ``first_response_time`` and ``feedback.csat_score`` fields)
- ``GET /facebook/v21.0/<account>/leads`` (Lead Ads submissions, page level)
- ``GET /facebook/v21.0/act_<account>/insights?level=campaign&time_increment=1&time_range={"since","until"}``
  (Marketing API; numbers as strings, ``until`` inclusive, as the real API does)
Data day ranges are ``[since, until)`` unless stated.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from pipeline.fakeapi import data
from pipeline.fakeapi.server import (
    ApiError, PlatformStyle, Reply, Request, Route, decode_cursor, encode_cursor, int_arg, iso_date, slice_page,
)

ACCOUNT_METRICS = {
    "instagram": {"follower_count": "followers", "impressions": "impressions", "reach": "reach",
                  "profile_views": "profile_views"},
    "facebook": {"page_follows": "followers", "page_impressions": "impressions",
                 "page_impressions_unique": "reach", "page_views_total": "page_views"},
}
POST_METRICS = {
    "instagram": {"impressions": "impressions", "reach": "reach", "likes": "likes", "comments": "comments",
                  "shares": "shares", "saved": "saves", "link_clicks": "clicks", "video_views": "video_views"},
    "facebook": {"post_impressions": "impressions", "post_impressions_unique": "reach",
                 "post_reactions_like_total": "likes", "post_comments": "comments", "post_shares": "shares",
                 "post_clicks": "clicks", "post_video_views": "video_views"},
}
AUDIENCE_METRICS = ("audience_gender_age", "audience_country")
IG_MEDIA_TYPES = {"image": ("IMAGE", "FEED"), "reel": ("VIDEO", "REELS"), "carousel": ("CAROUSEL_ALBUM", "FEED"),
                  "story": ("IMAGE", "STORY")}
FB_STATUS_TYPES = {"image": "added_photos", "video": "added_video", "link": "shared_story",
                   "text": "mobile_status_update"}


def error_body(status: int, message: str) -> dict[str, Any]:
    code = {401: 190, 404: 100, 429: 4, 400: 100}.get(status, 2)
    kind = "OAuthException" if status in (401, 404, 400) else "GraphMethodException"
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AzFakeTrace01"}}


def usage_headers(near_limit: bool) -> dict[str, str]:
    usage = {"call_count": 92, "total_cputime": 40, "total_time": 88} if near_limit else \
        {"call_count": 4, "total_cputime": 2, "total_time": 3}
    return {"X-App-Usage": json.dumps(usage)}


STYLE = PlatformStyle(error_body=error_body, usage_headers=usage_headers)


@lru_cache(maxsize=8_192)
def end_time(platform: str, day: date) -> str:
    """Graph insights stamp a day with its end: the next local midnight, written in UTC."""
    local_end = datetime.combine(day + timedelta(1), time(), data.NATIVE_TZ[platform])
    return local_end.astimezone(data.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_time(moment: datetime) -> str:
    return moment.astimezone(data.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _account(request: Request) -> tuple[str, str]:
    platform, node = request.match["platform"], request.match["node"].removeprefix("act_")
    if not data.is_demo_account(platform, node):
        raise ApiError(404, f"Unsupported get request. Object with ID '{node}' does not exist")
    return platform, node


def _metrics(request: Request, known: dict[str, str] | tuple[str, ...]) -> list[str]:
    names = [m for m in request.require("metric").split(",") if m]
    unknown = [m for m in names if m not in known]
    if unknown:
        raise ApiError(400, f"(#100) The value must be a valid insights metric: {unknown[0]}")
    return names


def _paged(request: Request, items: list[dict[str, Any]], **reply: Any) -> Reply:
    offset = decode_cursor(request.cursor("after"))
    page, next_offset = slice_page(items, offset, int_arg(request, "limit", 25, 100))
    paging: dict[str, Any] = {"cursors": {"before": encode_cursor(offset), "after": encode_cursor(offset + len(page))}}
    if next_offset is not None:
        query = {**request.query, "after": encode_cursor(next_offset)}
        paging["next"] = f"{request.base_url}{request.path}?{urlencode(query)}"
    return Reply({"data": page, "paging": paging}, records=page, **reply)


def _insight(node: str, name: str, period: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "period": period, "values": values, "title": name.replace("_", " ").title(),
            "id": f"{node}/insights/{name}/{period}"}


def insights(request: Request) -> Reply:
    platform, node = request.match["platform"], request.match["node"]
    if node.startswith("act_"):
        return ads_insights(request)
    post = data.find_post(platform, node)
    if post is None:
        _account(request)
    since, until = iso_date(request, "since"), iso_date(request, "until")
    days = data.days(since, until)
    result = []
    if post is not None:
        lifetime = data.days(post.native_day, post.native_day + timedelta(data.POST_LIFETIME_DAYS))
        days = [day for day in lifetime if since <= day < until]
        for name in _metrics(request, POST_METRICS[platform]):
            column = POST_METRICS[platform][name]
            values = [{"value": m[column], "end_time": end_time(platform, day)}
                      for day in days if (m := data.post_day_metrics(post, day)) is not None]
            result.append(_insight(node, name, "day", values))
    elif request.arg("period") == "lifetime":
        for name in _metrics(request, AUDIENCE_METRICS):
            values = [{"value": data.audience(platform, node, day)[name], "end_time": end_time(platform, day)}
                      for day in days]
            result.append(_insight(node, name, "lifetime", values))
    else:
        for name in _metrics(request, ACCOUNT_METRICS[platform]):
            column = ACCOUNT_METRICS[platform][name]
            values = [{"value": data.account_day(platform, node, day)[column], "end_time": end_time(platform, day)}
                      for day in days]
            result.append(_insight(node, name, "day", values))
    return Reply({"data": result}, records=result, count_path=("values", 0, "value"), required_key="values")


def _ig_media(post: data.Post) -> dict[str, Any]:
    media_type, product = IG_MEDIA_TYPES[post.content_type]
    record: dict[str, Any] = {
        "id": post.post_id,
        "caption": post.caption + (f" {post.tracked_link}" if post.tracked_link else ""),
        "media_type": media_type,
        "media_product_type": product,
        "timestamp": graph_time(post.created_at),
        "permalink": f"https://www.instagram.com/p/{post.post_id}/",
        "like_count": 0,
        "promotion_status": "active" if post.is_paid else "inactive",
    }
    if post.partner_handle:
        record["collaborators"] = {"data": [{"username": post.partner_handle}]}
    return record


def _fb_post(post: data.Post) -> dict[str, Any]:
    return {
        "id": post.post_id,
        "message": post.caption + (f" {post.tracked_link}" if post.tracked_link else ""),
        "created_time": graph_time(post.created_at),
        "status_type": FB_STATUS_TYPES[post.content_type],
        "permalink_url": f"https://www.facebook.com/{post.post_id}",
        "promotion_status": "active" if post.is_paid else "inactive",
        "shares": {"count": 0},
    }


def media(request: Request) -> Reply:
    platform, account = _account(request)
    posts = data.posts_between(platform, account, iso_date(request, "since"), iso_date(request, "until"))
    posts.sort(key=lambda p: p.created_at, reverse=True)        # Graph lists newest first
    if platform == "instagram":
        return _paged(request, [_ig_media(p) for p in posts], count_path=("like_count",), required_key="timestamp")
    return _paged(request, [_fb_post(p) for p in posts], count_path=("shares", "count"), required_key="created_time")


@lru_cache(maxsize=64)   # every page of one listing re-asks the same window
def _conversations(account: str, since: date, until: date) -> list[dict[str, Any]]:
    return [{
        "id": c["id"],
        "created_time": graph_time(c["opened_at"]),
        "first_response_time": graph_time(c["first_response_at"]) if c["first_response_at"] else None,
        "agent": {"id": c["agent_id"]} if c["agent_id"] else None,
        "feedback": {"csat_score": c["csat_score"]},
    } for day in data.days(since, until) for c in data.conversations_on(account, day)]


def conversations(request: Request) -> Reply:
    _, account = _account(request)
    items = _conversations(account, iso_date(request, "since"), iso_date(request, "until"))
    return _paged(request, items, count_path=("feedback", "csat_score"), required_key="created_time")


def leads(request: Request) -> Reply:
    platform, account = _account(request)
    items = [{
        "id": lead["id"],
        "created_time": graph_time(lead["submitted_at"]),
        "form_name": lead["form_name"],
        "campaign_name": lead["campaign"],
    } for day in data.days(iso_date(request, "since"), iso_date(request, "until"))
        for lead in data.leads_on(platform, account, day)]
    return _paged(request, items, required_key="created_time")


def ads_insights(request: Request) -> Reply:
    platform, account = _account(request)
    try:
        window = json.loads(request.require("time_range"))
        since, last = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "(#100) time_range must be {\"since\":\"YYYY-MM-DD\",\"until\":\"YYYY-MM-DD\"}") from None
    items = [{
        "account_currency": "USD",
        "campaign_name": row["campaign"],
        "date_start": row["date"].isoformat(),
        "date_stop": row["date"].isoformat(),
        "spend": f"{row['spend']:.2f}",
        "impressions": str(row["impressions"]),
        "clicks": str(row["clicks"]),
        "actions": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": str(row["acquisitions"])}],
    } for day in data.days(since, last + timedelta(1)) for row in data.ad_spend_rows(platform, account, day)]
    return _paged(request, items, count_path=("impressions",), required_key="date_start")


ROUTES = [
    Route("instagram", "GET", re.compile(r"/(?P<platform>instagram)/v21\.0/(?P<node>[^/]+)/insights"), insights),
    Route("facebook", "GET", re.compile(r"/(?P<platform>facebook)/v21\.0/(?P<node>[^/]+)/insights"), insights),
    Route("instagram", "GET", re.compile(r"/(?P<platform>instagram)/v21\.0/(?P<node>[^/]+)/media"), media),
    Route("facebook", "GET", re.compile(r"/(?P<platform>facebook)/v21\.0/(?P<node>[^/]+)/posts"), media),
    Route("facebook", "GET", re.compile(r"/(?P<platform>facebook)/v21\.0/(?P<node>[^/]+)/conversations"),
          conversations),
    Route("facebook", "GET", re.compile(r"/(?P<platform>facebook)/v21\.0/(?P<node>[^/]+)/leads"), leads),
]
STYLES = {"instagram": STYLE, "facebook": STYLE}
