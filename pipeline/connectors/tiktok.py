"""TikTok connector on the Display API of TikTok API v2 (``https://open.tiktokapis.com/v2/``).

The contract comes from the platform: the endpoints, fields, paging and error bodies below come from the
TikTok for Developers pages and recorded responses in ``tests/fixtures/contracts/tiktok/README.md``. Only
documented endpoints and fields are used. The Business API (``/business/get/``) is a different product with
its own auth and has no recorded responses, so it is not used. An undocumented ``video/daily_metrics``
endpoint and undocumented video fields (``is_ad``, ``brand_content_toggle``) were removed.

Auth: ``Authorization: Bearer <user access token>``. The token identifies the account: none of the endpoints
takes an account id. So one connection (token) is one TikTok account, and ``account_id`` only labels the rows.
The local fake API shares one demo token between its demo accounts, so with a bare-host base URL (the fake
API) the connector adds ``fake_account=<account_id>`` to every request. That parameter is never sent to the
real API, whose base URL carries the ``/v2`` path.

Entities:
- ``account_daily``: ``GET
  /v2/user/info/?fields=open_id,follower_count,following_count,likes_count,video_count`` (``follower_count``
  needs scope ``user.info.stats``). The counts are current totals, not daily values, and no daily or
  historical endpoint is documented. So the row is a snapshot: ``followers`` = ``follower_count``, dated the
  UTC day BEFORE the pull (the count read right after a day ends stands for the end of that day; a daily run for
  day D pulls on D + 1), and the other columns are None. A window that does not contain that day has no row.
- ``post``: ``POST /v2/video/list/?fields=id,create_time,title,video_description,share_url``, body
  ``{"max_count": <=20, "cursor": <epoch ms>}``. It walks back from ``until`` (the cursor fetches "videos
  posted before the provided timestamp") while ``data.has_more`` is true, and stops at ``since``.
  ``content_type`` = video. ``caption`` = ``video_description`` (or ``title`` when there is no description).
  ``campaign``/``variant`` = the ``utm_*`` of a link in the description. ``is_paid`` and ``partner_handle``
  are None: the Video Object documents no ad flag and no branded-content flag.
- ``post_metrics``: ``POST /v2/video/query/?fields=id,like_count,comment_count,share_count,view_count``, body
  ``{"filters": {"video_ids": [<=20 ids]}}``, once per batch of 20 of the given posts. The counts are the
  video's LIFETIME totals as of the request: likes = ``like_count``, comments = ``comment_count``, shares =
  ``share_count``. ``view_count`` ("Number of views of the video") is TikTok's "views", and every TikTok post
  is a video, so it fills both ``views`` and ``video_views``. ``impressions``, ``reach``, ``saves`` and
  ``clicks`` are None because the Display API does not report them. A video the API does not return (deleted,
  private, not the token's) gets no row.

Errors come in the envelope ``{"data": ..., "error": {"code", "message", "log_id"}}``. :meth:`classify_error`
maps them: ``rate_limit_exceeded`` (429) → RateLimitedError; ``access_token_invalid`` (401) →
AuthenticationError; ``scope_not_authorized`` (401) and ``scope_permission_missed`` (400) →
PermissionDeniedError; ``invalid_params`` (400) → BadRequestError; ``internal_error`` (500) → the base's
ServerError, after its retries. A 200 whose ``error.code`` is not ``ok`` is classified the same way. No
rate-limit headers are documented. Records are parsed tolerantly: ``id`` (and ``create_time`` for posts,
``open_id`` for the user) are required, and unknown fields are counted in ``schema_drift``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    Connector,
    ConnectorError,
    MalformedResponseError,
    Paging,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
    ServerError,
    _retry_after_seconds,
    as_count,
    from_epoch,
    reason,
)
from pipeline.connectors.utm import utm_from_text

log = logging.getLogger(__name__)

# The Video Object's fields (developers.tiktok.com/doc/tiktok-api-v2-video-object); anything else is drift.
VIDEO_OBJECT_FIELDS = frozenset({
    "id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height", "width",
    "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count", "view_count"})
# The User Object's fields (developers.tiktok.com/doc/tiktok-api-v2-get-user-info).
USER_OBJECT_FIELDS = frozenset({
    "open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name",
    "bio_description", "profile_deep_link", "is_verified", "username", "follower_count", "following_count",
    "likes_count", "video_count"})

LIST_FIELDS = ("id", "create_time", "title", "video_description", "share_url")
QUERY_FIELDS = ("id", "like_count", "comment_count", "share_count", "view_count")
USER_FIELDS = ("open_id", "follower_count", "following_count", "likes_count", "video_count")
# Video Object count -> canonical lifetime columns (view_count is both TikTok's "views" and the video views).
LIFETIME_METRICS: dict[str, tuple[str, ...]] = {
    "like_count": ("likes",), "comment_count": ("comments",), "share_count": ("shares",),
    "view_count": ("views", "video_views")}
NOT_REPORTED = ("impressions", "reach", "saves", "clicks")

MAX_COUNT = 20          # /v2/video/list/ max_count: "Default is 10. Maximum is 20."
MAX_QUERY_IDS = 20      # /v2/video/query/: "Up to 20 video IDs can be included per request."

RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded"})
TOKEN_CODES = frozenset({"access_token_invalid"})
SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
BAD_PARAMETER_CODES = frozenset({"invalid_params"})
SERVER_CODES = frozenset({"internal_error"})


def epoch_ms(day: date) -> int:
    """Midnight UTC of ``day`` as epoch milliseconds (the ``/v2/video/list/`` cursor unit)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class VideoListPaging(Paging):
    """``/v2/video/list/``: send ``data.cursor`` back as the body's ``cursor`` while ``data.has_more`` is
    true."""

    records_key: tuple[str, ...] = ("data", "videos")

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        assert body is not None
        body["cursor"] = cursor

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        data = page["data"]
        if not isinstance(data, dict):
            raise TypeError("'data' is not an object")
        return data["cursor"] if data["has_more"] else None


class TikTokConnector(Connector):
    platform = "tiktok"
    ENTITIES: ClassVar[dict[str, str]] = {"account_daily": "account_daily", "post": "posts", "post_metrics": "post_metrics"}
    API_PREFIX = "/tiktok/v2"
    ACCOUNT_FROM_TOKEN = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # The pull's clock (the snapshot day of account_daily); tests pin it.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    # -- HTTP: the v2 envelope --

    def _params(self, account_id: str, fields: tuple[str, ...]) -> dict[str, Any]:
        params: dict[str, Any] = {"fields": ",".join(fields)}
        if self.prefix:             # the fake API on a bare host: say which demo account the token stands for
            params["fake_account"] = account_id
        return params

    def _request_once(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = super()._request_once(method, path, params=params, body=body)
        error = payload.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            raise MalformedResponseError(
                self.failure(f"response from {method} {path} lacks the v2 'error' envelope"))
        if error["code"] != "ok":
            raise self.classify_error(200, payload, {}) or ConnectorError(
                self.failure(f"{method} {path} answered HTTP 200 with error {error['code']!r}"))
        return payload

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        """The documented v2 error codes (developers.tiktok.com/doc/tiktok-api-v2-error-handling)."""
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            return None
        code = error["code"]
        # failure() caps a message at 300 characters: keep the platform's text short so "where" survives
        said = self.redact(str(error.get("message") or ""), limit=72)
        detail = f"HTTP {status} {code}: {said}" if said else f"HTTP {status} {code}"
        if code in RATE_LIMIT_CODES or status == 429:
            wait = headers.get("Retry-After") if headers else None
            return RateLimitedError(self.failure(f"rate limited ({detail})"),
                                    retry_after=_retry_after_seconds(wait) if wait is not None else None)
        if code in TOKEN_CODES:
            return AuthenticationError(self.failure(
                f"access token invalid or expired ({detail}); check the token, renew it in the Airflow "
                "connection"))
        if code in SCOPE_CODES:
            return PermissionDeniedError(self.failure(
                f"the token lacks a scope ({detail}); re-authorize with user.info.stats and video.list"))
        if code in BAD_PARAMETER_CODES:
            return BadRequestError(self.failure(f"the API rejected a parameter ({detail})"))
        if status >= 500:
            return None                    # the base's ServerError names the call and the retries it made
        if code in SERVER_CODES:
            return ServerError(self.failure(f"TikTok internal error ({detail})"))
        return ConnectorError(self.failure(f"TikTok error ({detail})"))

    # -- entities --

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        # follower_count is a count as of now: it stands for the end of the previous UTC day, the day a daily
        # run pulls right after (the same rule as X); an older window cannot be pulled (no history)
        day = self.now().astimezone(UTC).date() - timedelta(days=1)
        if not since <= day < until:
            log.info("tiktok: account_daily is a snapshot of the end of %s, outside [%s, %s): nothing to pull",
                     day, since, until)
            return []
        payload = self.get(f"{self.prefix}/user/info/", self._params(account_id, USER_FIELDS))
        data = payload.get("data")
        user = self.parse_record(data.get("user") if isinstance(data, dict) else None, "user/info.user",
                                 required={"open_id"}, known=USER_OBJECT_FIELDS)
        problems: list[str] = []
        followers = as_count(user.get("follower_count"), "followers", problems)
        return [{"date": day, "followers": followers, "impressions": None, "views": None, "reach": None,
                 "profile_views": None, "page_views": None, "quarantine_reason": reason(problems)}]

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        body = {"max_count": min(self.policy.page_size, MAX_COUNT), "cursor": epoch_ms(until)}
        paging = VideoListPaging()
        for page in self.pages("POST", f"{self.prefix}/video/list/", paging,
                               params=self._params(account_id, LIST_FIELDS), body=body):
            oldest: date | None = None
            for video in paging.records(page):
                self.parse_record(video, "video/list.videos", required={"id", "create_time"},
                                  known=VIDEO_OBJECT_FIELDS)
                created = self.parse_time(video["create_time"], "video/list.create_time", from_epoch)
                oldest = created.date()
                if since <= created.date() < until:
                    rows.append(self.video_row(video, created))
            if oldest is not None and oldest < since:
                break                      # newest first: every later page is older than the window
        return rows

    @staticmethod
    def video_row(video: dict[str, Any], created: datetime) -> dict[str, Any]:
        description = video.get("video_description")
        utm = utm_from_text(description)
        return {
            "post_id": str(video["id"]),
            "created_at": created,
            "content_type": "video",
            "is_paid": None,               # the Video Object documents no ad / paid flag
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": None,        # nor a branded-content / partnership flag
            "author_type": "brand",        # the token owner's own public videos
            "caption": description if description is not None else video.get("title"),
            "quarantine_reason": None,
        }

    def post_metrics(self, account_id: str, posts: list[PostRef]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(post.post_id for post in posts))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_QUERY_IDS):
            batch = ids[start:start + MAX_QUERY_IDS]
            payload = self.request("POST", f"{self.prefix}/video/query/",
                                   params=self._params(account_id, QUERY_FIELDS),
                                   body={"filters": {"video_ids": batch}})
            try:
                videos = VideoListPaging().records(payload)
            except TypeError as exc:
                raise MalformedResponseError(self.failure(f"video/query answer: {exc}")) from None
            returned = set()
            for video in videos:
                self.parse_record(video, "video/query.videos", required={"id"}, known=VIDEO_OBJECT_FIELDS)
                returned.add(str(video["id"]))
                rows.append(self.lifetime_row(video))
            if missing := [i for i in batch if i not in returned]:
                log.info("tiktok: video/query returned no data for %d of %d videos (deleted, private or not "
                         "the token's): %s", len(missing), len(batch), ", ".join(missing[:5]))
        return rows

    @staticmethod
    def lifetime_row(video: dict[str, Any]) -> dict[str, Any]:
        problems: list[str] = []
        row: dict[str, Any] = {"post_id": str(video["id"]), **dict.fromkeys(NOT_REPORTED)}
        for field, columns in LIFETIME_METRICS.items():
            value = as_count(video.get(field), field, problems)
            row.update(dict.fromkeys(columns, value))
        return {**row, "quarantine_reason": reason(problems)}
