"""TikTok API v2 Display API emulation, serving the shapes in ``tests/fixtures/contracts/tiktok/README.md``.

Endpoints under ``/tiktok/v2`` (the real API: ``https://open.tiktokapis.com/v2``):
- ``GET /user/info/?fields=...``: ``data.user`` with exactly the requested User Object fields.
  ``follower_count``, ``following_count``, ``likes_count`` and ``video_count`` are the account's current
  totals as of the fake world's clock (``request.today``).
- ``POST /video/list/?fields=...``, body ``{"cursor": <epoch ms>, "max_count": <=20}``: the account's videos
  created strictly before ``cursor`` (default: now), newest first, each with exactly the requested Video
  Object fields (``create_time`` in epoch seconds). Answers ``data{videos[], cursor, has_more}``, where
  ``cursor`` is the oldest returned ``create_time`` in ms, the value to send back for the next page.
- ``POST /video/query/?fields=...``, body ``{"filters": {"video_ids": [<=20]}}``: ``data.videos`` for the ids
  that are the account's videos (others are left out, as the real endpoint "verifies that the videos belong to
  the user"). The counts are lifetime totals as of ``request.today``
  (:func:`pipeline.fakeapi.data.post_lifetime_metrics`): ``like_count`` = likes, ``comment_count`` = comments,
  ``share_count`` = shares, ``view_count`` = video views.

The real API finds the account from the user access token. The fake API shares one demo token between the demo
accounts, so it reads the account from ``fake_account``, a parameter only the fake API knows. The connector
sends it only to a bare-host base URL. An account the fake API does not know is answered the way TikTok
answers a token it does not know: 401 ``access_token_invalid``.

Errors use the v2 envelope (HTTP status and ``error.code`` from the Error Handling page): 400
``invalid_params``, 401 ``access_token_invalid``, 429 ``rate_limit_exceeded``, 500 ``internal_error``.
``error.message`` is the documented description of the code. An unknown field in ``fields`` is
``invalid_params``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import ApiError, PlatformStyle, Reply, Request, Route, int_arg

LOG_ID = "20220829194722CBE87ED59D524E727021"         # the docs' example log_id
_OK = {"code": "ok", "message": "", "log_id": LOG_ID}

# Error Handling page: HTTP status -> (code, documented description).
_ERRORS = {
    400: ("invalid_params", ("One or more fields in request is invalid. Please refer to the error message "
                             "for details.")),
    401: ("access_token_invalid", "The access token is invalid or not found in the request."),
    429: ("rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."),
    500: ("internal_error", ("This is the generic error code for TikTok internal errors. Please refer to the "
                             "error message for details and notify TikTok support.")),
}

VIDEO_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                "share_count", "view_count")
USER_FIELDS = ("open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name",
               "bio_description", "profile_deep_link", "is_verified", "username", "follower_count",
               "following_count", "likes_count", "video_count")


def error_body(status: int, message: str) -> dict[str, Any]:
    """The v2 error envelope; a status TikTok documents no code for (the injected 404) answers as
    internal_error."""
    code, description = _ERRORS.get(status, _ERRORS[500])
    text = description if status in _ERRORS else f"{description} ({message})"
    if status == 400 and message:
        text = message
    return {"data": {}, "error": {"code": code, "message": text, "log_id": LOG_ID}}


STYLE = PlatformStyle(error_body=error_body)


def _account(request: Request) -> str:
    account = request.arg("fake_account")
    if not account or not data.is_demo_account("tiktok", account):
        raise ApiError(401, "unknown account")
    return account


def _fields(request: Request, allowed: tuple[str, ...]) -> list[str]:
    fields = [f for f in (request.query.get("fields") or "").split(",") if f]
    if not fields:
        raise ApiError(400, "fields is required")
    if unknown := [f for f in fields if f not in allowed]:
        raise ApiError(400, f"Invalid fields: {','.join(unknown)}")
    return fields


def _video(post: data.Post, fields: list[str], today: Any) -> dict[str, Any]:
    description = post.caption + (f" {post.tracked_link}" if post.tracked_link else "")
    lifetime = data.post_lifetime_metrics(post, today) or {}
    share_url = f"https://www.tiktok.com/@{post.account}/video/{post.post_id}?utm_campaign=tt4d_open_api"
    values: dict[str, Any] = {
        "id": post.post_id,
        "create_time": int(post.created_at.timestamp()),
        "cover_image_url": f"https://p16-sign.tiktokcdn-us.com/fake/{post.post_id}~tplv-noop.image",
        "share_url": share_url,
        "video_description": description,
        "duration": 15 + len(post.caption) % 40,
        "height": 1024,
        "width": 576,
        "title": post.caption,
        "embed_html": f'<blockquote class="tiktok-embed" data-video-id="{post.post_id}"></blockquote>',
        "embed_link": f"https://www.tiktok.com/player/v1/{post.post_id}?utm_campaign=tt4d_open_api",
        "like_count": lifetime.get("likes", 0),
        "comment_count": lifetime.get("comments", 0),
        "share_count": lifetime.get("shares", 0),
        "view_count": lifetime.get("video_views", 0),
    }
    return {field: values[field] for field in fields}


def user_info(request: Request) -> Reply:
    account = _account(request)
    fields = _fields(request, USER_FIELDS)
    today = request.today

    def published() -> list[data.Post]:
        return data.posts_between("tiktok", account, data.DATA_START, today)

    values: dict[str, Any] = {
        "open_id": lambda: f"open-{account}",
        "union_id": lambda: f"union-{account}",
        "avatar_url": lambda: f"https://p16-sign.tiktokcdn-us.com/fake/{account}~c5_168x168.jpeg",
        "avatar_url_100": lambda: f"https://p16-sign.tiktokcdn-us.com/fake/{account}~c5_100x100.jpeg",
        "avatar_large_url": lambda: f"https://p16-sign.tiktokcdn-us.com/fake/{account}~c5_1080x1080.jpeg",
        "display_name": lambda: account,
        "bio_description": lambda: "Acme on TikTok",
        "profile_deep_link": lambda: f"https://vm.tiktok.com/{account}",
        "is_verified": lambda: False,
        "username": lambda: account,
        "follower_count": lambda: data.followers("tiktok", account, today),
        "following_count": lambda: 42,
        "likes_count": lambda: sum((data.post_lifetime_metrics(p, today) or {}).get("likes", 0)
                                   for p in published()),
        "video_count": lambda: len(published()),
    }
    user = {field: values[field]() for field in fields}
    return Reply({"data": {"user": user}, "error": _OK}, records=[user],
                 count_path=("follower_count",) if "follower_count" in fields else (), required_key="open_id")


def video_list(request: Request) -> Reply:
    account = _account(request)
    fields = _fields(request, VIDEO_FIELDS)
    max_count = int_arg(request, "max_count", 10, 20)
    cursor = request.cursor("cursor")
    now = datetime.combine(request.today + timedelta(1), datetime.min.time(), data.UTC)    # end of "today"
    try:
        before = datetime.fromtimestamp(int(cursor) / 1000, data.UTC) if cursor else now
    except ValueError:
        raise ApiError(400, f"Invalid cursor: {cursor}") from None
    videos: list[data.Post] = []
    day = min(before.date(), request.today)
    while len(videos) <= max_count and day >= data.DATA_START:
        newest_first = sorted(data.posts_created_on("tiktok", account, day), key=lambda p: p.created_at,
                              reverse=True)
        videos.extend(p for p in newest_first if p.created_at < before)
        day -= timedelta(1)
    chosen = videos[:max_count]
    page = [_video(p, fields, request.today) for p in chosen]
    has_more = len(videos) > max_count
    next_cursor = int(chosen[-1].created_at.timestamp() * 1000) if chosen else int(before.timestamp() * 1000)
    counted = "like_count" if "like_count" in fields else None
    return Reply({"data": {"videos": page, "cursor": next_cursor, "has_more": has_more}, "error": _OK},
                 records=page, count_path=(counted,) if counted else (),
                 required_key="create_time" if "create_time" in fields else "id")


def video_query(request: Request) -> Reply:
    account = _account(request)
    fields = _fields(request, VIDEO_FIELDS)
    filters = request.body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not ids:
        raise ApiError(400, "filters.video_ids is required")
    if len(ids) > 20:
        raise ApiError(400, "Too many video_ids: up to 20 per request")
    videos = []
    for video_id in ids:
        post = data.find_post("tiktok", str(video_id))
        if post is not None and post.account == account and post.created_at.date() < request.today:
            videos.append(_video(post, fields, request.today))
    return Reply({"data": {"videos": videos}, "error": _OK}, records=videos,
                 count_path=("like_count",) if "like_count" in fields else (), required_key="id")


ROUTES = [
    Route("tiktok", "GET", re.compile(r"/tiktok/v2/user/info/?"), user_info),
    Route("tiktok", "POST", re.compile(r"/tiktok/v2/video/list/?"), video_list),
    Route("tiktok", "POST", re.compile(r"/tiktok/v2/video/query/?"), video_query),
]
STYLES = {"tiktok": STYLE}
