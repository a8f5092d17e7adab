"""Instagram Graph API connector (Instagram API with Facebook Login; business/creator accounts), Graph v25.0.

Every request, field and shape below is verified against tests/fixtures/contracts/instagram/README.md:
- ``GET /{ig-user-id}/media?fields=id,caption,media_type,media_product_type,timestamp,permalink,like_count,
  comments_count&since&until&limit`` -> ``post`` (all pages through ``paging.next``). Graph omits fields without a
  value (a media without caption has no ``caption``). ``promotion_status`` is not an IG Media field and
  ``collaborators`` is an edge, so ``is_paid`` and ``partner_handle`` stay None; the caption's UTM link gives
  campaign / variant (``utm_content``).
- ``GET /{ig-media-id}/insights?metric=views,reach,likes,comments,shares,saved`` (one call per post) ->
  ``post_metrics``: LIFETIME totals (``period: lifetime``, ``values: [{"value"}]``); ``views`` -> ``views``,
  ``saved`` -> ``saves``; impressions, clicks and video_views are not reported by Instagram (None).
- ``GET /{ig-user-id}/insights?metric=follower_count,reach&period=day`` (time series, ``end_time`` = end of the
  Pacific day) and ``metric=views,profile_views&metric_type=total_value&period=day`` asked one Pacific day at a
  time (a total_value answer is one total for the whole window) -> ``account_daily``.
- ``GET /{ig-user-id}/insights?metric=follower_demographics&period=lifetime&metric_type=total_value&breakdown=
  age|gender|country`` -> ``audience_demographics`` (a snapshot, dated the last day of the window).
- ``GET /{ig-user-id}?fields=username`` (our own username) then, for it and each ``options.competitors`` username,
  ``GET /{ig-user-id}?fields=business_discovery.username(<name>){followers_count,media_count,media.limit(50)
  {like_count,comments_count,timestamp}}`` (older media: ``media.after(<cursor>).limit(50)``, read until a media
  published before the 28-day engagement window) -> ``competitor_account_daily``: the public counts of every
  tracked account as of now, dated ``snapshot_day``; our own account is read the same way (like for like).
Deprecated metric names are kept as data (:data:`DEPRECATED_METRICS`) and never requested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from pipeline.connectors.base import (
    AccountNotFoundError,
    ConnectorError,
    Paging,
    PermissionDeniedError,
    PostRef,
    as_count,
    reason,
)
from pipeline.connectors.graph import GraphConnector, classify_graph_error
from pipeline.connectors.graph import current_metrics as graph_current_metrics
from pipeline.connectors.utm import utm_from_text

API_VERSION = "v25.0"   # Graph API version pinned (released 2026-02-18, available until 2028-07-29)


@dataclass(frozen=True)
class Deprecation:
    successor: str | None      # the metric to ask for instead (None: no successor, the data is gone)
    since_version: str         # the Graph version that dropped it first
    all_versions_from: date    # from this day it is gone on every version


# Changelog v18.0, v21.0, v22.0 (see the fixtures README, "Deprecations").
DEPRECATED_METRICS: dict[str, Deprecation] = {
    "impressions": Deprecation("views", "v22.0", date(2025, 4, 21)),             # media and user insights
    "plays": Deprecation("views", "v22.0", date(2025, 4, 21)),
    "clips_replays_count": Deprecation("views", "v22.0", date(2025, 4, 21)),
    "ig_reels_aggregated_all_plays_count": Deprecation("views", "v22.0", date(2025, 4, 21)),
    "video_views": Deprecation("views", "v21.0", date(2025, 1, 8)),
    "profile_views@time_series": Deprecation("profile_views@total_value", "v21.0", date(2025, 1, 8)),
    "audience_gender_age": Deprecation("follower_demographics", "v18.0", date(2023, 12, 11)),
    "audience_country": Deprecation("follower_demographics", "v18.0", date(2023, 12, 11)),
}

MEDIA_METRICS = {"views": "views", "reach": "reach", "likes": "likes", "comments": "comments", "shares": "shares",
                 "saved": "saves"}
POST_METRIC_COLUMNS = ("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
                       "video_views")
# follower_count is "total number of NEW followers each day" (Meta's metric table), not the total: it lands as
# new_followers; followers (the total) come from the IG User node's followers_count (a count as of now).
ACCOUNT_TIME_SERIES = {"follower_count": "new_followers", "reach": "reach"}
ACCOUNT_TOTAL_VALUE = {"views": "views", "profile_views": "profile_views"}
USER_FIELDS = ("followers_count", "media_count", "username", "name", "biography", "profile_picture_url", "website",
               "follows_count", "ig_id")
ACCOUNT_COLUMNS = ("followers", "new_followers", "impressions", "views", "reach", "profile_views", "page_views")
DEMOGRAPHIC_BREAKDOWNS = ("age", "gender", "country")
CONTENT_TYPES = {("IMAGE", "FEED"): "image", ("VIDEO", "REELS"): "reel", ("VIDEO", "FEED"): "video",
                 ("CAROUSEL_ALBUM", "FEED"): "carousel", ("IMAGE", "STORY"): "story", ("VIDEO", "STORY"): "story"}
MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "CAROUSEL_ALBUM": "carousel"}
NOT_ENOUGH_VIEWERS = "not enough viewers"    # documented (#10) answer for media with too few viewers
# Business Discovery (tests/fixtures/contracts/instagram/README.md, "Competitors"): public fields of another
# professional account; its media edge pages by field expansion (``media.after(<cursor>)``), not by a next URL.
DISCOVERY_FIELDS = ("id", "username", "name", "followers_count", "follows_count", "media_count", "media")
DISCOVERY_MEDIA_FIELDS = ("like_count", "comments_count", "timestamp")
DISCOVERY_PAGE_SIZE = 50
ENGAGEMENT_WINDOW_DAYS = 28     # engagements: posts published in the 28 native days up to the snapshot day


def current_metrics(names: dict[str, str]) -> dict[str, str]:
    return graph_current_metrics("instagram", names, DEPRECATED_METRICS)


class InstagramConnector(GraphConnector):
    platform = "instagram"
    ENTITIES: ClassVar[dict[str, str]] = {"account_daily": "account_daily", "post": "posts",
                                          "post_metrics": "post_metrics",
                                          "audience_demographics": "audience_demographics",
                                          "competitor_account_daily": "competitor_account_daily"}
    API_VERSION = API_VERSION
    FAKE_ROOT = "/instagram"
    API_PREFIX = f"/instagram/{API_VERSION}"
    POSTS_EDGE = "media"
    POST_FIELDS = ("id", "caption", "media_type", "media_product_type", "timestamp", "permalink", "like_count",
                   "comments_count")
    POST_REQUIRED = ("id", "timestamp")

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        error = payload.get("error") if isinstance(payload, dict) else None
        if status == 429 or status >= 500:   # HTTP-level 429/5xx: already retried by the transport
            return None
        if isinstance(error, dict) and error.get("code") == 100 and error.get("error_subcode") == 33:
            # "Unsupported get request. Object with ID ... does not exist" (recorded: error_bad_parameter_code100)
            return AccountNotFoundError(self.failure(
                f"object not found or not accessible (Graph error 100/33: "
                f"{self.redact(str(error.get('message') or ''), limit=160)})"))
        return classify_graph_error(self, status, payload)

    # -- post --

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        caption = record.get("caption")
        utm = utm_from_text(caption or "")
        media_type, product = record.get("media_type"), record.get("media_product_type")
        problems: list[str] = []
        for count in ("like_count", "comments_count"):
            as_count(record.get(count), count, problems)
        return {
            "post_id": record["id"],
            "created_at": self.created(record, "timestamp"),
            "content_type": CONTENT_TYPES.get((media_type, product)) or MEDIA_TYPES.get(media_type),
            "is_paid": None,                # not an IG Media field
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": None,         # collaborators is an edge, not requested
            "author_type": "brand",
            "caption": caption,
            "quarantine_reason": reason(problems),
        }

    # -- post_metrics (lifetime) --

    def post_metrics(self, account_id: str, posts: list[PostRef]) -> list[dict[str, Any]]:
        metrics = current_metrics(MEDIA_METRICS)
        rows = []
        for post in posts:
            try:
                values = self.lifetime_values(post.post_id, metrics)
            except PermissionDeniedError as exc:
                if NOT_ENOUGH_VIEWERS not in str(exc).lower():
                    raise
                values = {}             # documented: no insights below a viewer threshold -> unknown, not 0
            rows.append({"post_id": post.post_id, **self.counted(values, POST_METRIC_COLUMNS)})
        return rows

    # -- account_daily --

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        by_day = self.time_series(account_id, current_metrics(ACCOUNT_TIME_SERIES), since, until)
        totals = current_metrics(ACCOUNT_TOTAL_VALUE)
        day = since
        while day < until:
            by_day.setdefault(day, {}).update(self.total_values(account_id, totals, day, day + timedelta(days=1)))
            day += timedelta(days=1)
        if since <= (followers_day := self.snapshot_day()) < until:
            by_day.setdefault(followers_day, {})["followers"] = self.followers_count(account_id)
        return [{"date": d, **self.counted(values, ACCOUNT_COLUMNS)} for d, values in sorted(by_day.items())]

    def followers_count(self, account_id: str) -> Any:
        """``GET /{ig-user-id}?fields=followers_count``: the followers now (no history; dated by snapshot_day)."""
        node = self.parse_record(self.get(f"{self.prefix}/{account_id}", {"fields": "followers_count"}),
                                 "ig user", required=("id",), known=USER_FIELDS)
        return node.get("followers_count")

    # -- audience_demographics --

    def audience_demographics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        snapshot_day = self.snapshot_day()        # follower_demographics is "as of now", not a day series
        if not since <= snapshot_day < until:
            return []
        rows = []
        for breakdown in DEMOGRAPHIC_BREAKDOWNS:
            params = {"metric": "follower_demographics", "period": "lifetime", "metric_type": "total_value",
                      "breakdown": breakdown}
            totals: dict[str, Any] = {}
            for insight in self.insight_records(account_id, params):
                if insight["name"] != "follower_demographics":
                    continue
                for group in (insight.get("total_value") or {}).get("breakdowns") or []:
                    keys = list(group.get("dimension_keys") or [])
                    for result in group.get("results") or []:
                        result = self.parse_record(result, "follower_demographics.results",
                                                   required=("dimension_values",), known=("value",))
                        label = dict(zip(keys, result["dimension_values"])).get(breakdown)
                        if label is None:
                            continue
                        value, current = result.get("value"), totals.get(str(label), 0)
                        both = isinstance(value, int) and isinstance(current, int)
                        totals[str(label)] = current + value if both else value   # several keys: sum one out
            for label, followers in sorted(totals.items()):
                problems: list[str] = []
                rows.append({"date": snapshot_day, "dimension": breakdown, "value": label,
                             "followers": as_count(followers, "followers", problems),
                             "quarantine_reason": reason(problems)})
        return rows

    # -- competitor_account_daily --

    def competitor_account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        """Followers, posts and recent engagements of our account and each tracked competitor, as of now."""
        day = self.snapshot_day()                # public counts are "now": no history, like followers_count
        if not since <= day < until:
            return []
        own = self.parse_record(self.get(f"{self.prefix}/{account_id}", {"fields": "username"}), "ig user",
                                required=("id", "username"), known=USER_FIELDS)["username"]
        competitors = [str(name).lstrip("@") for name in self.options.get("competitors") or ()]
        rows = []
        for handle in dict.fromkeys((own, *competitors)):
            try:
                rows.append(self._discovered(account_id, handle, handle == own, day))
            except (PermissionDeniedError, AccountNotFoundError) as exc:    # e.g. a personal or age-gated account
                raise type(exc)(f"{exc}; tracked account @{handle}: Business Discovery reads professional "
                                "accounts only: drop it from sources.yml options.competitors") from None
        return rows

    def _discovered(self, account_id: str, handle: str, is_own: bool, day: date) -> dict[str, Any]:
        first = day - timedelta(days=ENGAGEMENT_WINDOW_DAYS - 1)
        paging = DiscoveryMediaPaging(handle=handle)
        problems: list[str] = []
        engagements, recent_posts, account = 0, 0, None
        for page in self.pages("GET", f"{self.prefix}/{account_id}", paging, params=paging.first_params()):
            found = self.parse_record(page.get("business_discovery"), "business discovery",
                                      known=DISCOVERY_FIELDS)
            account = account or found
            older = False
            for item in paging.records(page):
                item = self.parse_record(item, "business discovery media", required=("timestamp",),
                                         known=(*DISCOVERY_MEDIA_FIELDS, "id"))
                published = self.created(item, "timestamp").astimezone(self.zone).date()
                if published < first:
                    older = True            # newest first: the rest of the media is older still
                    continue
                if published > day:
                    continue
                likes = as_count(item.get("like_count"), "like_count", problems)
                comments = as_count(item.get("comments_count"), "comments_count", problems)
                recent_posts += 1
                engagements += (likes or 0) + (comments or 0)
            if older:
                break
        account = account or {}
        return {"date": day, "handle": handle, "is_own": is_own,
                "followers": as_count(account.get("followers_count"), "followers", problems),
                "posts": as_count(account.get("media_count"), "posts", problems),
                "engagements": engagements, "recent_posts": recent_posts, "quarantine_reason": reason(problems)}


@dataclass(frozen=True)
class DiscoveryMediaPaging(Paging):
    """Business Discovery's media edge pages inside the ``fields`` expansion: the ``paging.cursors.after`` of
    ``business_discovery.media`` goes back as ``media.after(<cursor>)`` (the account's counts only on page one)."""

    handle: str = ""
    records_key: tuple[str, ...] = ("business_discovery", "media", "data")

    def fields(self, cursor: str | None) -> str:
        after = f".after({cursor})" if cursor else ""
        media = f"media{after}.limit({DISCOVERY_PAGE_SIZE}){{{','.join(DISCOVERY_MEDIA_FIELDS)}}}"
        counts = "" if cursor else "followers_count,media_count,"
        return f"business_discovery.username({self.handle}){{{counts}{media}}}"

    def first_params(self) -> dict[str, Any]:
        return {"fields": self.fields(None)}

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        params["fields"] = self.fields(str(cursor))

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        media = (page.get("business_discovery") or {}).get("media") or {}
        if not media.get("data"):
            return None
        return ((media.get("paging") or {}).get("cursors") or {}).get("after")
