"""X API v2 emulation: tweets with ``public_metrics``, ``meta.next_token`` paging, rate-limit headers.

Endpoints under ``/x/2`` (``start_time`` inclusive, ``end_time`` exclusive, RFC 3339 UTC):
- ``GET /users/<id>/tweets?start_time&end_time&max_results&pagination_token`` newest first
- ``GET /users/<id>/tweets/daily_metrics`` (emulated Engagement API: one element per tweet x UTC day)
- ``GET /users/<id>/daily_metrics`` (emulated: followers, impressions, profile visits per UTC day)
- ``GET /tweets/search/recent?query=(acme OR rivalco ..)&start_time&end_time&max_results&next_token``
  with ``expansions=author_id`` users in ``includes.users``; each tweet carries ``matching_rules[{id, tag}]``
  (tag = the brand it matched) and an emulated listening-tool ``sentiment`` label
Every reply carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset``.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import (
    ApiError, PlatformStyle, Reply, Request, Route, decode_cursor, encode_cursor, int_arg, slice_page,
)


def error_body(status: int, message: str) -> dict[str, Any]:
    titles = {401: "Unauthorized", 404: "Not Found Error", 429: "Too Many Requests", 400: "Invalid Request"}
    problem = "resource-not-found" if status == 404 else "about:blank"
    return {"title": titles.get(status, "Internal Server Error"), "type": f"https://api.x.com/2/problems/{problem}",
            "status": status, "detail": message}


def usage_headers(near_limit: bool) -> dict[str, str]:
    return {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "3" if near_limit else "880",
            "x-rate-limit-reset": str(int(time.time()) + 900)}


STYLE = PlatformStyle(error_body=error_body, usage_headers=usage_headers)


def x_time(moment: datetime) -> str:
    return moment.astimezone(data.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _window(request: Request) -> tuple[date, date]:
    try:
        start = datetime.fromisoformat(request.require("start_time").replace("Z", "+00:00"))
        end = datetime.fromisoformat(request.require("end_time").replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "start_time and end_time must be RFC 3339 timestamps") from None
    return start.date(), end.date()


def _user(request: Request) -> str:
    user = request.match["user"]
    if not data.is_demo_account("x", user):
        raise ApiError(404, f"Could not find user with id: [{user}].")
    return user


def _paged(request: Request, items: list[dict[str, Any]], token_param: str, extra: dict[str, Any] | None = None,
           **reply: Any) -> Reply:
    offset = decode_cursor(request.cursor(token_param))
    page, next_offset = slice_page(items, offset, int_arg(request, "max_results", 10, 100))
    meta: dict[str, Any] = {"result_count": len(page)}
    if page and "id" in page[0]:
        meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
    if next_offset is not None:
        meta["next_token"] = encode_cursor(next_offset)
    payload = {"data": page, **(extra or {}), "meta": meta}
    return Reply(payload, records=page, **reply)


def _tweet(post: data.Post) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": post.post_id,
        "text": post.caption + (f" {post.tracked_link}" if post.tracked_link else ""),
        "created_at": x_time(post.created_at),
        "author_id": post.account,
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                           "bookmark_count": 0, "impression_count": 0},
    }
    if post.content_type == "image":
        tweet["attachments"] = {"media_keys": [f"3_{post.post_id}"]}
    if post.is_paid:
        tweet["promoted_metrics"] = {"impression_count": 0, "like_count": 0}
    return tweet


def tweets(request: Request) -> Reply:
    user = _user(request)
    since, until = _window(request)
    posts = sorted(data.posts_between("x", user, since, until), key=lambda p: p.created_at, reverse=True)
    return _paged(request, [_tweet(p) for p in posts], "pagination_token",
                  count_path=("public_metrics", "like_count"), required_key="created_at")


def tweet_daily_metrics(request: Request) -> Reply:
    user = _user(request)
    since, until = _window(request)
    lifetime = timedelta(data.POST_LIFETIME_DAYS + 1)
    items = []
    for post in data.posts_between("x", user, since - lifetime, until):
        for day in data.days(since, until):
            values = data.post_day_metrics(post, day)
            if values:
                items.append({"tweet_id": post.post_id, "date": day.isoformat(), "metrics": {
                    "impressions": values["impressions"], "likes": values["likes"], "retweets": values["shares"],
                    "replies": values["comments"], "bookmarks": values["saves"],
                    "url_link_clicks": values["clicks"], "video_views": values["video_views"]}})
    return _paged(request, items, "pagination_token", count_path=("metrics", "likes"), required_key="date")


def user_daily_metrics(request: Request) -> Reply:
    user = _user(request)
    items = []
    for day in data.days(*_window(request)):
        values = data.account_day("x", user, day)
        items.append({"date": day.isoformat(), "followers_count": values["followers"],
                      "impression_count": values["impressions"], "profile_visits": values["profile_views"]})
    return _paged(request, items, "pagination_token", count_path=("followers_count",), required_key="date")


@lru_cache(maxsize=64)   # every page of one search re-asks the same window
def _search(brands: tuple[str, ...], since: date, until: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    items, users = [], {}
    for day in data.days(since, until):
        for mention in data.mentions_on(brands, day):
            tweet: dict[str, Any] = {
                "id": mention["id"], "text": mention["text"], "created_at": x_time(mention["created_at"]),
                "author_id": mention["author"],
                "entities": {"hashtags": [{"tag": tag} for tag in mention["hashtags"]]},
                "matching_rules": [{"id": f"rule_{mention['brand']}", "tag": mention["brand"]}],
                "sentiment": mention["sentiment"],
            }
            if mention["has_media"]:
                tweet["attachments"] = {"media_keys": [f"3_{mention['id']}"]}
            items.append(tweet)
            users[mention["author"]] = mention["author_followers"]
    return items, users


def search_recent(request: Request) -> Reply:
    brands = tuple(w for w in re.findall(r"[@#]?(\w+)", request.require("query")) if w not in ("OR", "AND", "lang"))
    items, users = _search(brands, *_window(request))
    reply = _paged(request, items, "next_token", required_key="created_at")
    page_authors = sorted({tweet["author_id"] for tweet in reply.records if "author_id" in tweet})
    reply.payload["includes"] = {"users": [{"id": a, "username": a, "public_metrics": {"followers_count": users[a]}}
                                           for a in page_authors]}
    return reply


ROUTES = [
    Route("x", "GET", re.compile(r"/x/2/users/(?P<user>[^/]+)/tweets"), tweets),
    Route("x", "GET", re.compile(r"/x/2/users/(?P<user>[^/]+)/tweets/daily_metrics"), tweet_daily_metrics),
    Route("x", "GET", re.compile(r"/x/2/users/(?P<user>[^/]+)/daily_metrics"), user_daily_metrics),
    Route("x", "GET", re.compile(r"/x/2/tweets/search/recent"), search_recent),
]
STYLES = {"x": STYLE}
