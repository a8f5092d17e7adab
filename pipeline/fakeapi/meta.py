"""Facebook Pages and Instagram Graph API (v21.0) emulation.

Shapes follow the Graph API: lists are ``{"data": [...], "paging": {"cursors": {"before", "after"},
"next"}}``; insights are ``{"name", "period", "values": [{"value", "end_time"}]}`` where
``end_time`` is the end of the *Pacific* day; every reply carries ``X-App-Usage``.

Endpoints (``<p>`` = instagram | facebook):
- ``GET /<p>/v21.0/<account>/insights?metric=..&period=day|lifetime&since=YYYY-MM-DD&until=YYYY-MM-DD``
- ``GET /<p>/v21.0/<post_id>/insights?metric=..&period=day&since&until``
- Instagram (v25.0): see the "Instagram" section below; Business Discovery of our accounts and the demo competitors
  (``ig_business_discovery``).
- Facebook Pages, Messenger, Lead Ads, Marketing API: :mod:`pipeline.fakeapi.facebook_pages` (it reuses the
  shared helpers here: ``error_body``, ``STYLE``, ``_account``, ``_paged``, ``graph_time``, ``end_time``).
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
    ApiError,
    PlatformStyle,
    Reply,
    Request,
    Route,
    decode_cursor,
    encode_cursor,
    int_arg,
    iso_date,
    slice_page,
)

AUDIENCE_METRICS = ("audience_gender_age", "audience_country")
IG_MEDIA_TYPES = {"image": ("IMAGE", "FEED"), "reel": ("VIDEO", "REELS"), "carousel": ("CAROUSEL_ALBUM", "FEED"),
                  "story": ("IMAGE", "STORY")}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Graph's recorded error shape (tests/fixtures/contracts/instagram/): ``{"error": {"message", "type",
    "code", "error_subcode"?, "is_transient"?, "fbtrace_id"}}``; 190 expired token, 10 permission, 100 bad
    parameter (100/33 for an object that does not exist), 4 app rate limit, 2 transient."""
    code = {401: 190, 403: 10, 404: 100, 429: 4, 400: 100}.get(status, 2)
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if status == 404:
        error["error_subcode"] = 33
    if status >= 500:
        error["is_transient"] = True
    error["fbtrace_id"] = "AzFakeTrace01"
    return {"error": error}


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
    if offset:
        query = {k: v for k, v in request.query.items() if k != "after"}
        paging["previous"] = f"{request.base_url}{request.path}?{urlencode({**query, 'before': encode_cursor(offset)})}"
    if next_offset is not None:
        query = {**request.query, "after": encode_cursor(next_offset)}
        paging["next"] = f"{request.base_url}{request.path}?{urlencode(query)}"
    return Reply({"data": page, "paging": paging}, records=page, **reply)


def _insight(node: str, name: str, period: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "period": period, "values": values, "title": name.replace("_", " ").title(),
            "id": f"{node}/insights/{name}/{period}"}


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


# ---- Instagram (Graph API with Facebook Login), v25.0: the shapes of tests/fixtures/contracts/instagram/ ----

IG_VERSION_RE = r"v25\.0"
IG_MEDIA_METRICS = {"views": "views", "reach": "reach", "likes": "likes", "comments": "comments", "shares": "shares",
                    "saved": "saves", "total_interactions": None}
IG_TIME_SERIES = {"follower_count": "new_followers", "reach": "reach"}   # follower_count: NEW followers that day
IG_TOTAL_VALUE = {"views": "impressions", "profile_views": "profile_views", "reach": "reach"}
IG_DEPRECATED = ("impressions", "plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count", "video_views",
                 "audience_gender_age", "audience_country", "audience_city", "audience_locale")
IG_MEDIA_FIELDS = ("id", "caption", "media_type", "media_product_type", "timestamp", "permalink", "like_count",
                   "comments_count", "media_url", "shortcode", "username", "owner", "ig_id", "is_comment_enabled")
IG_TITLES = {"views": "Views", "reach": "Accounts reached", "likes": "Likes", "comments": "Comments",
             "shares": "Shares", "saved": "Saved", "total_interactions": "Interactions",
             "follower_count": "Follower Count", "profile_views": "Profile views",
             "follower_demographics": "Follower demographics"}


def _ig_metrics(request: Request, known: dict[str, Any] | tuple[str, ...]) -> list[str]:
    names = [m for m in request.require("metric").split(",") if m]
    for name in names:
        if name in IG_DEPRECATED:
            raise ApiError(400, f"(#100) {name} metric is no longer supported; use views")
        if name not in known:
            raise ApiError(400, f"(#100) metric[0] must be one of the following values: {', '.join(known)}")
    return names


def _ig_insight(node: str, name: str, period: str, **shape: Any) -> dict[str, Any]:
    return {"name": name, "period": period, **shape, "title": IG_TITLES.get(name, name),
            "id": f"{node}/insights/{name}/{period}"}


def _ig_lifetime(request: Request, post: data.Post) -> Reply:
    names = _ig_metrics(request, IG_MEDIA_METRICS)
    totals = data.post_lifetime_metrics(post, request.today)
    if totals is None:       # documented: no data yet -> an empty data set, not zeros
        return Reply({"data": []}, records=[], required_key="name")
    result = []
    for name in names:
        column = IG_MEDIA_METRICS[name]
        value = sum(totals[c] for c in ("likes", "comments", "shares", "saves")) if column is None else totals[column]
        result.append(_ig_insight(post.post_id, name, "lifetime", values=[{"value": value}]))
    return Reply({"data": result}, records=result, count_path=("values", 0, "value"), required_key="name")


def _ig_demographics(request: Request, node: str) -> Reply:
    _ig_metrics(request, ("follower_demographics",))
    if request.arg("period") != "lifetime" or request.arg("metric_type") != "total_value":
        raise ApiError(400, "(#100) follower_demographics needs period=lifetime and metric_type=total_value")
    breakdown = request.require("breakdown")
    if breakdown not in ("age", "gender", "country", "city"):
        raise ApiError(400, f"(#100) breakdown must be one of age, gender, country, city: {breakdown}")
    split = data.audience("instagram", node, request.today)
    counts: dict[str, int] = {}
    if breakdown == "country":
        counts = dict(split["audience_country"])
    else:
        for key, followers in split["audience_gender_age"].items():
            gender, _, age = key.partition(".")
            label = age if breakdown == "age" else gender
            counts[label] = counts.get(label, 0) + followers
    results = [{"dimension_values": [label], "value": value} for label, value in sorted(counts.items())]
    insight = _ig_insight(node, "follower_demographics", "lifetime",
                          total_value={"breakdowns": [{"dimension_keys": [breakdown], "results": results}]})
    return Reply({"data": [insight]}, records=[insight], required_key="name")


def ig_insights(request: Request) -> Reply:
    node = request.match["node"]
    post = data.find_post("instagram", node)
    if post is not None:
        return _ig_lifetime(request, post)
    _account(request)
    if "follower_demographics" in request.require("metric").split(","):
        return _ig_demographics(request, node)
    since, until = iso_date(request, "since"), iso_date(request, "until")
    days = data.days(since, until)
    result = []
    if request.arg("metric_type") == "total_value":
        for name in _ig_metrics(request, IG_TOTAL_VALUE):
            total = sum(data.account_day("instagram", node, day)[IG_TOTAL_VALUE[name]] for day in days)
            result.append(_ig_insight(node, name, request.arg("period") or "day", total_value={"value": total}))
        return Reply({"data": result}, records=result, count_path=("total_value", "value"), required_key="name")
    for name in _ig_metrics(request, IG_TIME_SERIES):
        column = IG_TIME_SERIES[name]
        values = [{"value": _new_followers(node, day) if column == "new_followers"
                   else data.account_day("instagram", node, day)[column], "end_time": end_time("instagram", day)}
                  for day in days]
        result.append(_ig_insight(node, name, "day", values=values))
    return Reply({"data": result}, records=result, count_path=("values", 0, "value"), required_key="name")


def _new_followers(account: str, day: date) -> int:
    return max(0, data.followers("instagram", account, day) - data.followers("instagram", account, day - timedelta(1)))


IG_USER_FIELDS = ("id", "username", "followers_count", "media_count")


_DISCOVERY = re.compile(r"^business_discovery\.username\(([^)]+)\)\{(?P<counts>followers_count,media_count,)?"
                        r"media(?:\.after\((?P<after>[^)]+)\))?\.limit\((?P<limit>\d+)\)\{(?P<media>[a-z_,]+)\}\}$")
DISCOVERY_MEDIA_FIELDS = ("id", "like_count", "comments_count", "timestamp")


def ig_business_discovery(request: Request, node: str, fields: str) -> Reply:
    """``GET /{ig-user-id}?fields=business_discovery.username(<name>){followers_count,media_count,media[.after(c)]
    .limit(n){..}}`` (recorded: business_discovery_*.json): our accounts and the demo competitors; media newest
    first, paged by ``paging.cursors.after`` inside the expansion (no ``next`` URL), counts on the first page only."""
    match = _DISCOVERY.match(fields)
    if not match:
        raise ApiError(400, "(#100) Syntax error in business_discovery field expansion")
    handle = match[1]
    if not (data.is_demo_account("instagram", handle) or data.is_tracked_competitor(handle)):
        raise ApiError(404, f"Invalid user id: cannot find business account '{handle}'")
    media_fields = tuple(match["media"].split(","))
    unknown = [f for f in media_fields if f not in DISCOVERY_MEDIA_FIELDS]
    if unknown:
        raise ApiError(400, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (IGMedia)")
    yesterday = request.today - timedelta(days=1)
    posts = data.posts_between("instagram", handle, yesterday - timedelta(days=90), request.today)
    posts.sort(key=lambda p: p.created_at, reverse=True)
    start, limit = decode_cursor(match["after"]) if match["after"] else 0, int(match["limit"])
    page = [_ig_media_record(p, media_fields, request.today) for p in posts[start:start + limit]]
    media: dict[str, Any] = {"data": page}
    if start + limit < len(posts):
        media["paging"] = {"cursors": {"after": encode_cursor(start + limit)}}
    found: dict[str, Any] = {"media": media, "id": str(data.rng("ig_user_id", handle).randrange(10**16, 10**17))}
    if match["counts"]:
        found.update(followers_count=data.followers("instagram", handle, yesterday),
                     media_count=len(data.posts_between("instagram", handle, data.DATA_START, request.today)))
    body = {"business_discovery": found, "id": node}
    return Reply(body, records=page, count_path=("like_count",), required_key="timestamp")


def ig_user(request: Request) -> Reply:
    """``GET /{ig-user-id}?fields=...``: the node's requested fields (recorded: user_fields_followers_count.json);
    followers_count is the count now, i.e. at the end of the fake world's yesterday."""
    _, node = _account(request)
    if (request.arg("fields") or "").startswith("business_discovery."):
        return ig_business_discovery(request, node, request.arg("fields") or "")
    full = {"id": node, "username": node, "media_count": 0,
            "followers_count": data.followers("instagram", node, request.today - timedelta(days=1))}
    fields = [f for f in (request.arg("fields") or "id").split(",") if f]
    unknown = [f for f in fields if f not in IG_USER_FIELDS]
    if unknown:
        raise ApiError(400, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (IGUser)")
    record = {name: full[name] for name in ("id", *fields)}
    return Reply(record, records=[record], count_path=("followers_count",), required_key="id")


def _ig_media_record(post: data.Post, fields: tuple[str, ...], today: date) -> dict[str, Any]:
    media_type, product = IG_MEDIA_TYPES[post.content_type]
    caption = post.caption + (f" {post.tracked_link}" if post.tracked_link else "")
    totals = data.post_lifetime_metrics(post, today) or {}
    full: dict[str, Any] = {
        "id": post.post_id, "caption": caption or None, "media_type": media_type, "media_product_type": product,
        "timestamp": graph_time(post.created_at), "permalink": f"https://www.instagram.com/p/{post.post_id}/",
        "like_count": totals.get("likes", 0), "comments_count": totals.get("comments", 0),
    }
    # Graph returns only the requested fields that have a value, and always the id
    return {"id": post.post_id, **{f: full[f] for f in fields if full.get(f) is not None}}


def ig_media(request: Request) -> Reply:
    _, account = _account(request)
    fields = tuple(f for f in (request.arg("fields") or "id").split(",") if f)
    unknown = [f for f in fields if f not in IG_MEDIA_FIELDS]
    if unknown:
        raise ApiError(400, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (IGMedia)")
    posts = data.posts_between("instagram", account, iso_date(request, "since"), iso_date(request, "until"))
    posts.sort(key=lambda p: p.created_at, reverse=True)        # Graph lists newest first
    return _paged(request, [_ig_media_record(p, fields, request.today) for p in posts], count_path=("like_count",),
                  required_key="timestamp")


ROUTES = [
    Route("instagram", "GET", re.compile(rf"/(?P<platform>instagram)/{IG_VERSION_RE}/(?P<node>[^/]+)"), ig_user),
    Route("instagram", "GET", re.compile(rf"/(?P<platform>instagram)/{IG_VERSION_RE}/(?P<node>[^/]+)/insights"),
          ig_insights),
    Route("instagram", "GET", re.compile(rf"/(?P<platform>instagram)/{IG_VERSION_RE}/(?P<node>[^/]+)/media"),
          ig_media),
]
STYLES = {"instagram": STYLE}   # Facebook: pipeline/fakeapi/facebook_pages.py
