"""X API v2 connector, built against the recorded contract in ``tests/fixtures/contracts/x/`` (see its README for
every response, its source and the contract facts cited here).

Root ``https://api.x.com/2`` (version in the path), ``Authorization: Bearer <app token>``; fields are opt-in
(defaults ``id``, ``text``, ``edit_history_tweet_ids``), so every call names the ``tweet.fields`` it reads.
Entities:
- ``account_daily``: ``GET /2/users/:id?user.fields=public_metrics`` -> ``followers`` = ``followers_count`` now,
  one row dated the UTC day BEFORE the pull: the count read right after a day ends stands for the end of that day
  (a daily run for day D pulls on D + 1; the same rule as TikTok). X has no follower history, so every other
  column is None and a window that does not contain that day gets no row (and asks nothing).
- ``post``: ``GET /2/users/:id/tweets`` (``start_time``/``end_time`` RFC 3339, ``max_results`` 5..100,
  ``pagination_token`` <- ``meta.next_token``; ``tweet.fields=created_at,author_id,entities,attachments``,
  ``expansions=attachments.media_keys``, ``media.fields=type``): content type from the attached media's type
  (photo -> image, video/animated_gif -> video), else a link in ``entities.urls`` -> link, else text; campaign and
  variant from the ``utm_*`` of ``entities.urls[].expanded_url`` (the text only has ``t.co`` links); ``is_paid``
  None (``promoted_metrics`` needs user context).
- ``post_metrics``: ``GET /2/tweets?ids=<up to 100>&tweet.fields=public_metrics`` for exactly the given posts.
  ``public_metrics`` are lifetime counts as of now: likes = ``like_count``, comments = ``reply_count``, shares =
  ``retweet_count`` + ``quote_count``, saves = ``bookmark_count``, impressions = ``impression_count``; clicks, reach,
  views and video views are not public Post metrics (``non_public_metrics`` need user context and last 30 days
  only), so they are None, as is any key the payload omits.
- ``mentions``: ``GET /2/tweets/search/recent`` once per brand term (``options.brand`` then
  ``options.competitors``): ``query`` = the term, ``next_token`` paging, ``expansions=author_id``,
  ``user.fields=public_metrics`` (author followers and username from ``includes.users``). The brand is the query's
  term (recent search has no ``matching_rules``; that is filtered stream); ``sentiment`` is None (X has none).
  Recent search only reaches 7 days back: an older window is the API's 400, raised as BadRequestError.
Errors: problem+json bodies are classified in :meth:`XConnector.classify_error` (401 -> AuthenticationError,
403 -> PermissionDeniedError, 400 -> BadRequestError, 429 -> RateLimitedError whose ``retry_after`` is the wait until
``x-rate-limit-reset`` (X sends no ``Retry-After``), 429 ``usage-capped`` -> UsageCapError). Like every 429, urllib3
retries it first (HttpPolicy.retries) and it is then raised, not retried again in place: Airflow's task retry comes
back after the reset. ``errors[]`` inside a 200 (a deleted id in a lookup)
are counted in ``partial_errors`` and logged, never fatal for the other ids; an unknown user is AccountNotFoundError.
"""

from __future__ import annotations

import logging
import math
import time as clock
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from pipeline.connectors.base import (
    AccountNotFoundError,
    AuthenticationError,
    BadRequestError,
    Connector,
    ConnectorError,
    HttpPolicy,
    MalformedResponseError,
    NextTokenPaging,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
    as_count,
    reason,
)
from pipeline.connectors.utm import utm_from_text
from pipeline.credentials import Credentials

log = logging.getLogger(__name__)

POST_FIELDS = "created_at,author_id,entities,attachments"
MENTION_FIELDS = "created_at,author_id,entities,attachments"
TWEET_KNOWN = frozenset({"text", "edit_history_tweet_ids", "created_at", "author_id", "public_metrics", "entities",
                         "attachments"})
PUBLIC_METRICS = frozenset({"retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count",
                            "impression_count"})
USER_KNOWN = frozenset({"name", "username", "public_metrics"})
USER_METRICS = frozenset({"followers_count", "following_count", "tweet_count", "listed_count", "like_count",
                          "media_count"})
IDS_PER_LOOKUP = 100                     # GET /2/tweets: ids maxItems 100
TIMELINE_PAGE = (5, 100)                 # GET /2/users/:id/tweets max_results
SEARCH_PAGE = (10, 100)                  # GET /2/tweets/search/recent max_results


class UsageCapError(RateLimitedError):
    """X's monthly usage cap (429 ``usage-capped``): the 15-minute window is not the problem, waiting in place is
    useless (``retry_after`` is infinite, so the base never retries it in place)."""


def rfc3339(day: date) -> str:
    return datetime.combine(day, time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class XNextTokenPaging(NextTokenPaging):
    """``meta.next_token`` (absent on the last page); a 200 that only carries ``errors[]`` (unknown user) has no
    ``meta`` and ends the listing so the connector can read the errors."""

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        if "meta" not in page and "errors" in page and "data" not in page:
            return None
        return page["meta"].get("next_token")


class XConnector(Connector):
    platform = "x"
    ENTITIES: ClassVar[dict[str, str]] = {"account_daily": "account_daily", "post": "posts",
                                          "post_metrics": "post_metrics", "mentions": "mentions"}
    API_PREFIX = "/x/2"

    def __init__(self, credentials: Credentials, *, policy: HttpPolicy | None = None,
                 connection_id: str | None = None, **options: Any):
        super().__init__(credentials, policy=policy, connection_id=connection_id, **options)
        self.partial_errors: Counter[tuple[str, str]] = Counter()    # (where, problem type) -> errors seen
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)   # the pull moment

    # -- errors --

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        _body, title, kind, said = self._problem(payload)
        if status == 429:
            if kind == "usage-capped" or title == "UsageCapExceeded":
                return UsageCapError(self.failure(
                    f"usage cap exceeded (429: {said}); waiting minutes does not help: raise the app's cap or "
                    "wait for its reset"), retry_after=math.inf, retries_exhausted=True)
            if headers.get("Retry-After") is not None:      # a hop in front of X said how long: base handling
                return None
            # the base raises it with retries_exhausted (urllib3 already retried the 429): retry_after tells how
            # long until X's 15-minute window resets
            wait = self._until_reset(headers)
            return RateLimitedError(self.failure(
                f"rate limited (429: {said}); the window resets in "
                f"{'an unknown time' if wait is None else f'{wait:.0f} s'} (x-rate-limit-reset)"), retry_after=wait)
        if status == 401:
            return AuthenticationError(self.failure(
                f"401 {title or 'Unauthorized'}: connection '{self.connection_id}' has an invalid or expired "
                "token — check the token and renew it in the Airflow connection"))
        if status == 403:
            return PermissionDeniedError(self.failure(
                f"403 ({said}): the app behind connection '{self.connection_id}' lacks access to this endpoint "
                "(API plan / project enrolment)"))
        if status == 400:
            return BadRequestError(self.failure(f"the API rejected a parameter (400: {said})"))
        return None                   # 404 -> AccountNotFoundError, 5xx -> ServerError: the base's generic handling

    def _problem(self, payload: Any) -> tuple[dict[str, Any], str, str, str]:
        """A problem+json body: (body, title, type's last segment, the platform's own words, redacted)."""
        body = payload if isinstance(payload, dict) else {}
        title = str(body.get("title") or "")
        kind = str(body.get("type") or "").rsplit("/", 1)[-1]
        messages = [str(e.get("message")) for e in body.get("errors") or [] if isinstance(e, dict) and e.get("message")]
        said = self.redact("; ".join(filter(None, [title, str(body.get("detail") or ""), *messages])), limit=240)
        return body, title, kind, said

    @staticmethod
    def _until_reset(headers: Any) -> float | None:
        try:
            return max(0.0, float(headers.get("x-rate-limit-reset")) - clock.time())
        except (TypeError, ValueError):
            return None

    def _partial_errors(self, payload: dict[str, Any], where: str, account_id: str | None = None) -> None:
        """Count and log the ``errors[]`` of a 200; an unknown account (its own user) ends the pull."""
        for error in payload.get("errors") or []:
            if not isinstance(error, dict):
                continue
            detail = self.redact(str(error.get("detail") or error.get("message") or error.get("title") or ""), 160)
            if (account_id is not None and error.get("resource_type") == "user" and "data" not in payload
                    and account_id in (error.get("resource_id"), error.get("value"))):
                raise AccountNotFoundError(self.failure(f"account '{account_id}' not found ({detail})"))
            kind = str(error.get("type") or error.get("title") or "error").rsplit("/", 1)[-1]
            if not self.partial_errors[(where, kind)]:
                log.warning("%s: %s answered 200 with a partial error (%s): %s", self.platform, where, kind, detail)
            self.partial_errors[(where, kind)] += 1

    def _pages(self, path: str, params: dict[str, Any], paging: XNextTokenPaging, where: str,
               account_id: str | None = None) -> Iterator[dict[str, Any]]:
        for page in self.pages("GET", path, paging, params=params):
            self._partial_errors(page, where, account_id)
            if "data" not in page and "meta" not in page:
                raise MalformedResponseError(self.failure(f"{where}: a page with neither data nor meta"))
            yield page

    def _page_size(self, bounds: tuple[int, int]) -> int:
        return max(bounds[0], min(bounds[1], self.policy.page_size))

    # -- entities --

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        # followers_count is a count as of now: it stands for the end of the previous UTC day, the day a daily run
        # pulls right after (the same rule as TikTok); an older window cannot be pulled (no history)
        day = self.clock().astimezone(UTC).date() - timedelta(days=1)
        if not since <= day < until:
            log.info("x: account_daily is a snapshot of the end of %s, outside [%s, %s): nothing to pull",
                     day, since, until)
            return []
        payload = self.get(f"{self.prefix}/users/{account_id}", {"user.fields": "public_metrics"})
        self._partial_errors(payload, "users", account_id)
        if "data" not in payload:
            raise MalformedResponseError(self.failure("users lookup answered without data or errors"))
        user = self.parse_record(payload["data"], "users", required=("id",), known=USER_KNOWN)
        metrics = self.parse_record(user.get("public_metrics") or {}, "users.public_metrics", known=USER_METRICS)
        problems: list[str] = []
        followers = as_count(metrics.get("followers_count"), "followers", problems)
        return [{"date": day, "followers": followers, "quarantine_reason": reason(problems)}]

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        params = {"start_time": rfc3339(since), "end_time": rfc3339(until),
                  "max_results": self._page_size(TIMELINE_PAGE), "tweet.fields": POST_FIELDS,
                  "expansions": "attachments.media_keys", "media.fields": "type"}
        rows = []
        for page in self._pages(f"{self.prefix}/users/{account_id}/tweets", params, XNextTokenPaging(),
                                "users/tweets", account_id):
            media = {m.get("media_key"): m.get("type") for m in (page.get("includes") or {}).get("media") or []
                     if isinstance(m, dict)}
            for tweet in page.get("data") or []:
                record = self.parse_record(tweet, "users/tweets", required=("id", "created_at"), known=TWEET_KNOWN)
                entities = record.get("entities") or {}
                links = [u.get("expanded_url") or u.get("url") or "" for u in entities.get("urls") or []
                         if isinstance(u, dict) and not u.get("media_key")]
                kinds = [media.get(key) for key in (record.get("attachments") or {}).get("media_keys") or []]
                kind = ("video" if {"video", "animated_gif"} & set(kinds) else "image" if kinds
                        else "link" if links else "text")
                utm = utm_from_text(" ".join(links)) or utm_from_text(record.get("text"))
                rows.append({
                    "post_id": str(record["id"]),
                    "created_at": self.parse_time(record["created_at"], "users/tweets.created_at"),
                    "content_type": kind,
                    "is_paid": None,
                    "campaign": utm.get("campaign"),
                    "variant": utm.get("content"),
                    "partner_handle": None,
                    "author_type": "brand",
                    "caption": record.get("text"),
                    "quarantine_reason": None,
                })
        return rows

    def post_metrics(self, account_id: str, posts: list[PostRef]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(ref.post_id for ref in posts))
        rows = []
        for start in range(0, len(wanted), IDS_PER_LOOKUP):
            chunk = wanted[start:start + IDS_PER_LOOKUP]
            payload = self.get(f"{self.prefix}/tweets", {"ids": ",".join(chunk), "tweet.fields": "public_metrics"})
            self._partial_errors(payload, "tweets lookup")
            asked = set(chunk)
            for tweet in payload.get("data") or []:
                record = self.parse_record(tweet, "tweets lookup", required=("id",), known=TWEET_KNOWN)
                if str(record["id"]) not in asked:
                    continue
                rows.append(self._lifetime(str(record["id"]), record.get("public_metrics")))
        return rows

    def _lifetime(self, post_id: str, public_metrics: Any) -> dict[str, Any]:
        metrics = self.parse_record(public_metrics if public_metrics is not None else {},
                                    "tweets lookup.public_metrics", known=PUBLIC_METRICS)
        problems: list[str] = []
        count = {name: as_count(metrics.get(name), name, problems) for name in sorted(PUBLIC_METRICS)}
        reposts, quotes = count["retweet_count"], count["quote_count"]
        return {
            "post_id": post_id,
            "impressions": count["impression_count"],
            "views": None, "reach": None, "clicks": None, "video_views": None,
            "likes": count["like_count"],
            "comments": count["reply_count"],
            "shares": reposts + quotes if reposts is not None and quotes is not None else None,
            "saves": count["bookmark_count"],
            "quarantine_reason": reason(problems),
        }

    def mentions(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        brand = str(self.options.get("brand") or "acme").lower()
        competitors = [str(c).lower() for c in self.options.get("competitors") or ()]
        rows = []
        for term in dict.fromkeys((brand, *competitors)):
            params = {"query": term, "start_time": rfc3339(since), "end_time": rfc3339(until),
                      "max_results": self._page_size(SEARCH_PAGE), "tweet.fields": MENTION_FIELDS,
                      "expansions": "author_id", "user.fields": "public_metrics"}
            for page in self._pages(f"{self.prefix}/tweets/search/recent", params,
                                    XNextTokenPaging(param="next_token"), "search/recent"):
                users = {}
                for user in (page.get("includes") or {}).get("users") or []:
                    record = self.parse_record(user, "search/recent.includes.users", required=("id",),
                                               known=USER_KNOWN)
                    users[str(record["id"])] = record
                for tweet in page.get("data") or []:
                    rows.append(self._mention(tweet, users, term, brand, account_id))
        return rows

    def _mention(self, tweet: Any, users: dict[str, dict[str, Any]], term: str, brand: str,
                 account_id: str) -> dict[str, Any]:
        record = self.parse_record(tweet, "search/recent", required=("id", "created_at"), known=TWEET_KNOWN)
        author_id = str(record["author_id"]) if record.get("author_id") is not None else None
        author = users.get(author_id or "", {})
        problems: list[str] = []
        followers = as_count((author.get("public_metrics") or {}).get("followers_count"), "author_followers",
                             problems)
        hashtags = [str(h.get("tag", "")).lower() for h in (record.get("entities") or {}).get("hashtags") or []
                    if isinstance(h, dict)]
        has_media = bool((record.get("attachments") or {}).get("media_keys"))
        return {
            "mention_id": str(record["id"]),
            "created_at": self.parse_time(record["created_at"], "search/recent.created_at"),
            "brand": term,
            "is_competitor": term != brand,
            "author_handle": author.get("username") or author_id,
            "author_followers": followers,
            "sentiment": None,
            "is_ugc": term == brand and has_media and author_id not in (None, account_id),
            "hashtags": " ".join(hashtags) or None,
            "text": record.get("text"),
            "quarantine_reason": reason(problems),
        }
