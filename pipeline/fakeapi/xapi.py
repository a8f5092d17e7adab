"""X API v2 emulation, shaped like the recorded responses in ``tests/fixtures/contracts/x/`` (see its README).

Endpoints under ``/x/2`` (the real API root is ``https://api.x.com/2``), all ``GET``:
- ``/users/<id>?user.fields=public_metrics`` — ``data`` = ``{id, name, username, public_metrics{followers_count,
  following_count, tweet_count, listed_count}}``; the follower count is the fake world's count on ``request.today``
  (X reports the count now, it has no follower history).
- ``/users/<id>/tweets?start_time&end_time&max_results(5..100)&pagination_token&tweet.fields&expansions&media.fields``
  — the user's Posts newest first (``start_time`` inclusive, ``end_time`` exclusive, RFC 3339 UTC).
- ``/tweets?ids=<up to 100, comma-separated>&tweet.fields`` — Post lookup; no ``meta``; an id that does not exist
  comes back in a 200 ``errors[]`` element (``resource-not-found``) next to the ``data`` of the others.
- ``/tweets/search/recent?query&start_time&end_time&max_results(10..100)&next_token&tweet.fields&expansions&user.fields``
  — mentions of the one brand the query names (``data.mentions_on``); authors in ``includes.users``.
Posts carry only the default fields (``id``, ``text``, ``edit_history_tweet_ids``) plus what ``tweet.fields`` asks for
(``created_at``, ``author_id``, ``public_metrics``, ``entities``, ``attachments``); ``entities.urls`` carries the
``t.co`` link with its ``expanded_url`` (the tracked link) and ``entities.hashtags`` the hashtags; a photo's
``attachments.media_keys`` resolve in ``includes.media`` when ``expansions=attachments.media_keys``.
``public_metrics`` are lifetime totals from ``data.post_lifetime_metrics(post, request.today)`` (likes ->
``like_count``, comments -> ``reply_count``, shares -> ``retweet_count`` (quotes are always 0 here), saves ->
``bookmark_count``, impressions -> ``impression_count``); a Post not published yet as of ``today`` does not exist.
Paging: ``meta.result_count`` (+ ``newest_id``/``oldest_id`` when there is data) and ``meta.next_token`` while more
pages follow; an empty page is ``{"meta": {"result_count": 0}}`` with no ``data`` key.
Errors are problem+json bodies as recorded: 401/429/5xx ``{"title", "type": "about:blank", "status", "detail"}``,
400 ``invalid-request`` with ``errors[{parameters: {name: [value]}, message}]`` (``parameters`` empty when the
message names none, as recorded in github.com/abraham/twitteroauth/issues/1082), 403 ``client-forbidden``; an
unknown user is a 200 with ``errors[]``.
Every 200 carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (epoch seconds).
Not emulated: recent search's 7-day limit on ``start_time`` (the demo backfills months), numeric-only ids (the demo
accounts are named like ``x_brand``).
"""

from __future__ import annotations

import re
import time
import zlib
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from pipeline.fakeapi import data
from pipeline.fakeapi.server import (
    ApiError,
    PlatformStyle,
    Reply,
    Request,
    Route,
    decode_cursor,
    encode_cursor,
    slice_page,
)

PROBLEMS = "https://api.twitter.com/2/problems/"     # the host recorded bodies name (docs print api.x.com)
FORBIDDEN_DETAIL = ("When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
                    "from a Twitter developer App that is attached to a Project. You can create a project via the "
                    "developer portal.")
TITLES = {401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
          503: "Service Unavailable", 504: "Gateway Timeout"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The problem+json body X sends for ``status`` (fixtures ``error_*.json``)."""
    if status == 400:
        named = re.match(r"The `?([\w.]+)`? query parameter(?: value \[([^\]]*)\])?", message)
        parameters = {named[1]: [named[2]] if named[2] is not None else []} if named else {}
        return {"errors": [{"parameters": parameters, "message": message}], "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.", "type": PROBLEMS + "invalid-request"}
    if status == 403:
        return {"client_id": "0", "detail": FORBIDDEN_DETAIL,
                "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
                "reason": "client-not-enrolled", "type": PROBLEMS + "client-forbidden"}
    if status == 404:
        return {"title": "Not Found Error", "detail": message, "type": PROBLEMS + "resource-not-found"}
    title = TITLES.get(status, "Internal Server Error")
    return {"title": title, "type": "about:blank", "status": status, "detail": title}


def usage_headers(near_limit: bool) -> dict[str, str]:
    return {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "3" if near_limit else "880",
            "x-rate-limit-reset": str(int(time.time()) + 900)}


STYLE = PlatformStyle(error_body=error_body, usage_headers=usage_headers)


def x_time(moment: datetime) -> str:
    return moment.astimezone(data.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def numeric_id(text: str) -> str:
    """A stable numeric id for a demo author handle (X user ids are numeric strings)."""
    return str(10_000_000 + zlib.crc32(text.encode()))


def not_found(kind: str, value: str, parameter: str) -> dict[str, Any]:
    """One partial-error element, as recorded (fixture ``tweet_not_found_partial_error.json``)."""
    return {"value": value, "detail": f"Could not find {kind} with {parameter}: [{value}].", "title": "Not Found Error",
            "resource_type": kind, "parameter": parameter, "resource_id": value, "type": PROBLEMS + "resource-not-found"}


def _fields(request: Request, name: str) -> set[str]:
    return {f for f in (request.arg(name) or "").split(",") if f}


def _max_results(request: Request, low: int) -> int:
    text = request.arg("max_results", "10") or "10"
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"The `max_results` query parameter value [{text}] is not a number") from None
    if not low <= value <= 100:
        raise ApiError(400, f"The `max_results` query parameter value [{value}] is not between {low} and 100")
    return value


def _time(request: Request, name: str) -> datetime:
    try:
        return datetime.fromisoformat(request.require(name))
    except ValueError:
        raise ApiError(400, f"Invalid '{name}':'{request.arg(name)}'. '{name}' must be a valid RFC 3339 date "
                            "time") from None


def _window(request: Request) -> tuple[date, date]:
    return _time(request, "start_time").date(), _time(request, "end_time").date()


def _paged(request: Request, items: list[dict[str, Any]], token_param: str, low: int,
           **reply: Any) -> tuple[Reply, list[dict[str, Any]]]:
    offset = decode_cursor(request.cursor(token_param))
    page, next_offset = slice_page(items, offset, _max_results(request, low))
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
    if next_offset is not None:
        meta["next_token"] = encode_cursor(next_offset)
    payload: dict[str, Any] = {"data": page, "meta": meta} if page else {"meta": meta}
    return Reply(payload, records=page, **reply), page


def _public_metrics(post: data.Post, today: date) -> dict[str, int]:
    values = data.post_lifetime_metrics(post, today) or {}
    return {"retweet_count": values.get("shares", 0), "reply_count": values.get("comments", 0),
            "like_count": values.get("likes", 0), "quote_count": 0, "bookmark_count": values.get("saves", 0),
            "impression_count": values.get("impressions", 0)}


def _link(post: data.Post) -> str | None:
    return post.tracked_link or (data.SITE if post.content_type == "link" else None)


def _tweet(post: data.Post, fields: set[str], today: date) -> dict[str, Any]:
    link = _link(post)
    short = f"https://t.co/{zlib.crc32(post.post_id.encode()):08x}"
    text = post.caption + (f" {short}" if link else "")
    tweet: dict[str, Any] = {"edit_history_tweet_ids": [post.post_id], "id": post.post_id, "text": text}
    if "created_at" in fields:
        tweet["created_at"] = x_time(post.created_at)
    if "author_id" in fields:
        tweet["author_id"] = post.account
    if "public_metrics" in fields:
        tweet["public_metrics"] = _public_metrics(post, today)
    if "attachments" in fields and post.content_type == "image":
        tweet["attachments"] = {"media_keys": [f"3_{post.post_id}"]}
    if "entities" in fields and link:       # X omits `entities` when the text has none
        start = len(post.caption) + 1
        tweet["entities"] = {"urls": [{"start": start, "end": start + len(short), "url": short,
                                       "expanded_url": link, "display_url": link.split("://", 1)[1][:25]}]}
    return tweet


def _media(tweets: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    if "attachments.media_keys" not in _fields(request, "expansions"):
        return {}
    media = [{"media_key": key, "type": "photo"} for tweet in tweets
             for key in (tweet.get("attachments") or {}).get("media_keys", [])]
    return {"includes": {"media": media}} if media else {}


def _check_user(request: Request) -> str | None:
    user = request.match["user"]
    return user if data.is_demo_account("x", user) else None


def user(request: Request) -> Reply:
    user_id = request.match["user"]
    if not data.is_demo_account("x", user_id):
        return Reply({"errors": [not_found("user", user_id, "id")]})
    record: dict[str, Any] = {"id": user_id, "name": "Acme", "username": user_id}
    if "public_metrics" in _fields(request, "user.fields"):
        record["public_metrics"] = {"followers_count": data.followers("x", user_id, request.today),
                                    "following_count": 312, "tweet_count": 4180, "listed_count": 57}
    return Reply({"data": record}, records=[record], required_key="id",
                 count_path=("public_metrics", "followers_count") if "public_metrics" in record else ())


def user_tweets(request: Request) -> Reply:
    user_id = _check_user(request)
    if user_id is None:
        return Reply({"errors": [not_found("user", request.match["user"], "id")]})
    since, until = _window(request)
    fields = _fields(request, "tweet.fields")
    posts = sorted(data.posts_between("x", user_id, since, until), key=lambda p: p.created_at, reverse=True)
    tweets = [_tweet(p, fields, request.today) for p in posts if p.created_at.date() < request.today]  # exists yet
    reply, page = _paged(request, tweets, "pagination_token", 5, required_key="created_at")
    reply.payload.update(_media(page, request))
    return reply


def tweets_lookup(request: Request) -> Reply:
    ids = [i for i in (request.arg("ids") or "").split(",") if i]
    if not ids:
        raise ApiError(400, "The ids query parameter can not be empty")
    if len(ids) > 100:
        raise ApiError(400, f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 "
                            "and 100")
    fields = _fields(request, "tweet.fields")
    found, errors = [], []
    for post_id in ids:
        post = _post(post_id)
        if post is None or post.created_at.date() >= request.today:
            errors.append(not_found("tweet", post_id, "ids"))
        else:
            found.append(_tweet(post, fields, request.today))
    payload: dict[str, Any] = {}
    if found:
        payload["data"] = found
    payload.update(_media(found, request))
    if errors:
        payload["errors"] = errors
    return Reply(payload, records=found, required_key="id",
                 count_path=("public_metrics", "like_count") if "public_metrics" in fields else ())


def _post(post_id: str) -> data.Post | None:
    parsed = data.parse_post_id(post_id)
    if parsed is None:
        return None
    account, day, index = parsed
    if not data.is_demo_account("x", account):
        return None
    posts = data.posts_created_on("x", account, day)
    return posts[index - 1] if 0 < index <= len(posts) else None


@lru_cache(maxsize=64)   # every page of one search re-asks the same window
def _search(brand: str, since: date, until: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    items, users = [], {}
    for day in data.days(since, until):
        for mention in data.mentions_on((brand,), day):
            items.append(mention)
            users[mention["author"]] = mention["author_followers"]
    items.sort(key=lambda m: (m["created_at"], m["id"]), reverse=True)      # newest first, like X
    return items, users


def _mention(mention: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    tweet: dict[str, Any] = {"edit_history_tweet_ids": [mention["id"]], "id": mention["id"], "text": mention["text"]}
    if "created_at" in fields:
        tweet["created_at"] = x_time(mention["created_at"])
    if "author_id" in fields:
        tweet["author_id"] = numeric_id(mention["author"])
    if "entities" in fields and mention["hashtags"]:
        tweet["entities"] = {"hashtags": [{"start": 0, "end": len(tag) + 1, "tag": tag} for tag in mention["hashtags"]]}
    if "attachments" in fields and mention["has_media"]:
        tweet["attachments"] = {"media_keys": [f"3_{mention['id']}"]}
    return tweet


def search_recent(request: Request) -> Reply:
    query = request.require("query")
    words = [w for w in re.findall(r"[@#]?(\w+)", query) if w not in ("OR", "AND", "lang", "is", "retweet")]
    if len(words) != 1:
        raise ApiError(400, f"the demo search serves one brand per query, got [{query}]")
    since, until = _window(request)
    mentions, followers = _search(words[0].lower(), since, until)
    fields = _fields(request, "tweet.fields")
    reply, page = _paged(request, [_mention(m, fields) for m in mentions], "next_token", 10,
                         required_key="created_at")
    if "author_id" in _fields(request, "expansions") and page:
        handles = {numeric_id(m["author"]): m["author"] for m in mentions}
        with_metrics = "public_metrics" in _fields(request, "user.fields")
        users = []
        for author_id in dict.fromkeys(t["author_id"] for t in page if "author_id" in t):
            handle = handles[author_id]
            user_record: dict[str, Any] = {"id": author_id, "name": handle, "username": handle}
            if with_metrics:
                user_record["public_metrics"] = {"followers_count": followers[handle], "following_count": 150,
                                                 "tweet_count": 900, "listed_count": 2}
            users.append(user_record)
        reply.payload = {"data": reply.payload["data"], "includes": {"users": users}, "meta": reply.payload["meta"]}
    return reply


ROUTES = [
    Route("x", "GET", re.compile(r"/x/2/users/(?P<user>[^/]+)"), user),
    Route("x", "GET", re.compile(r"/x/2/users/(?P<user>[^/]+)/tweets"), user_tweets),
    Route("x", "GET", re.compile(r"/x/2/tweets"), tweets_lookup),
    Route("x", "GET", re.compile(r"/x/2/tweets/search/recent"), search_recent),
]
STYLES = {"x": STYLE}

