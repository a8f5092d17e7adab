"""TikTok API v2 emulation (display-API envelope ``{"data": ..., "error": {"code": "ok", ...}}``).

Endpoints under ``/tiktok/v2`` (the account is the ``business_id`` query parameter):
- ``POST /video/list/`` body ``{"cursor": <ms>, "max_count": <=20}``: videos created strictly before
  ``cursor`` (UTC epoch ms), newest first; answers ``data{videos[], cursor, has_more}`` where the
  cursor is the oldest returned ``create_time`` in ms, as the real display API does
- ``POST /video/daily_metrics/`` body ``{"start_date", "end_date" (inclusive), "cursor": <offset>, "max_count"}``:
  one element per video x UTC day (emulated business video insights); same paging envelope
- ``GET /business/get/?start_date&end_date`` (inclusive): account metrics per day under ``data.metrics``
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import ApiError, PlatformStyle, Reply, Request, Route, int_arg, iso_date, slice_page


def error_body(status: int, message: str) -> dict[str, Any]:
    code = {401: "access_token_invalid", 404: "not_found", 429: "rate_limit_exceeded", 400: "invalid_params"}
    return {"data": {}, "error": {"code": code.get(status, "internal_error"), "message": message,
                                  "log_id": "20261125000000FAKE"}}


STYLE = PlatformStyle(error_body=error_body)
_OK = {"code": "ok", "message": "", "log_id": "20261125000000FAKE"}


def _account(request: Request) -> str:
    account = request.require("business_id")
    if not data.is_demo_account("tiktok", account):
        raise ApiError(404, f"business account {account} not found")
    return account


def _video(post: data.Post) -> dict[str, Any]:
    description = post.caption + (f" with @{post.partner_handle}" if post.partner_handle else "")
    return {
        "id": post.post_id,
        "create_time": int(post.created_at.timestamp()),
        "title": post.caption,
        "video_description": description + (f" {post.tracked_link}" if post.tracked_link else ""),
        "duration": 15 + len(post.caption) % 40,
        "share_url": f"https://www.tiktok.com/@{post.account}/video/{post.post_id}",
        "like_count": 0,
        "comment_count": 0,
        "share_count": 0,
        "view_count": 0,
        "is_ad": post.is_paid,
        "brand_content_toggle": post.partner_handle is not None,
    }


def video_list(request: Request) -> Reply:
    account = _account(request)
    max_count = int_arg(request, "max_count", 20, 20)
    cursor = request.cursor("cursor")
    before = datetime.fromtimestamp(int(cursor) / 1000, data.UTC) if cursor else \
        datetime.combine(data.DATA_END, datetime.min.time(), data.UTC)
    videos: list[data.Post] = []
    day = before.date()
    while len(videos) <= max_count and day >= data.DATA_START:
        newest_first = sorted(data.posts_created_on("tiktok", account, day), key=lambda p: p.created_at, reverse=True)
        videos.extend(p for p in newest_first if p.created_at < before)
        day -= timedelta(1)
    page = [_video(p) for p in videos[:max_count]]
    has_more = len(videos) > max_count
    next_cursor = page[-1]["create_time"] * 1000 if page else int(before.timestamp() * 1000)
    return Reply({"data": {"videos": page, "cursor": next_cursor, "has_more": has_more}, "error": _OK},
                 records=page, count_path=("like_count",), required_key="create_time")


def _inclusive_days(request: Request) -> list[date]:
    return data.days(iso_date(request, "start_date"), iso_date(request, "end_date") + timedelta(1))


def video_daily_metrics(request: Request) -> Reply:
    account = _account(request)
    days = _inclusive_days(request)
    lifetime = timedelta(data.POST_LIFETIME_DAYS + 1)
    items = []
    for post in data.posts_between("tiktok", account, days[0] - lifetime, days[-1] + timedelta(1)) if days else []:
        for day in days:
            values = data.post_day_metrics(post, day)
            if values:
                items.append({"item_id": post.post_id, "date": day.isoformat(), "metrics": {
                    "video_views": values["video_views"], "reach": values["reach"], "likes": values["likes"],
                    "comments": values["comments"], "shares": values["shares"], "favorites": values["saves"],
                    "website_clicks": values["clicks"], "impressions": values["impressions"]}})
    offset = int(request.cursor("cursor") or 0)
    page, next_offset = slice_page(items, offset, int_arg(request, "max_count", 20, 100))
    payload = {"videos": page, "cursor": next_offset if next_offset is not None else offset + len(page),
               "has_more": next_offset is not None}
    return Reply({"data": payload, "error": _OK}, records=page, count_path=("metrics", "likes"),
                 required_key="date")


def business_get(request: Request) -> Reply:
    account = _account(request)
    metrics = []
    for day in _inclusive_days(request):
        values = data.account_day("tiktok", account, day)
        metrics.append({"date": day.isoformat(), "followers_count": values["followers"],
                        "profile_views": values["profile_views"], "video_views": values["impressions"],
                        "reached_audience": values["reach"]})
    return Reply({"data": {"metrics": metrics}, "error": _OK}, records=metrics, count_path=("followers_count",),
                 required_key="date")


ROUTES = [
    Route("tiktok", "POST", re.compile(r"/tiktok/v2/video/list/?"), video_list),
    Route("tiktok", "POST", re.compile(r"/tiktok/v2/video/daily_metrics/?"), video_daily_metrics),
    Route("tiktok", "GET", re.compile(r"/tiktok/v2/business/get/?"), business_get),
]
STYLES = {"tiktok": STYLE}
