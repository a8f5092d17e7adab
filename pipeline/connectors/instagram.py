"""Instagram Graph API connector (business account insights, media, media insights, audience).

Entities: account_daily, post, post_daily_metrics, audience_demographics. Days are US Pacific.
Mapping: ``follower_count``/``impressions``/``reach``/``profile_views`` -> account_daily;
media ``timestamp`` -> created_at, ``media_type``+``media_product_type`` -> content_type,
``promotion_status == "active"`` -> is_paid, ``collaborators`` -> partner post, the caption's UTM
link -> campaign / variant (``utm_content``); ``saved`` -> saves, ``link_clicks`` -> clicks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.connectors.base import SchemaDriftError, as_count, reason
from pipeline.connectors.graph import GraphConnector
from pipeline.connectors.utm import utm_from_text

CONTENT_TYPES = {("IMAGE", "FEED"): "image", ("VIDEO", "REELS"): "reel", ("VIDEO", "FEED"): "video",
                 ("CAROUSEL_ALBUM", "FEED"): "carousel", ("IMAGE", "STORY"): "story", ("VIDEO", "STORY"): "story"}
AUDIENCE_METRICS = {"audience_gender_age": "gender_age", "audience_country": "country"}


class InstagramConnector(GraphConnector):
    platform = "instagram"
    ENTITIES = {"account_daily": "account_daily", "post": "posts", "post_daily_metrics": "post_daily_metrics",
                "audience_demographics": "audience_demographics"}
    ACCOUNT_METRICS = {"follower_count": "followers", "impressions": "impressions", "reach": "reach",
                       "profile_views": "profile_views"}
    POST_METRICS = {"impressions": "impressions", "reach": "reach", "likes": "likes", "comments": "comments",
                    "shares": "shares", "saved": "saves", "link_clicks": "clicks", "video_views": "video_views"}
    API_PREFIX = "/instagram/v21.0"
    POSTS_EDGE = "media"
    POST_FIELDS = frozenset({"id", "caption", "media_type", "media_product_type", "timestamp", "permalink",
                             "like_count", "promotion_status"})
    POST_OPTIONAL = frozenset({"collaborators"})

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        utm = utm_from_text(record["caption"])
        collaborators = (record.get("collaborators") or {}).get("data") or []
        partner = collaborators[0].get("username") if collaborators else None
        problems: list[str] = []
        as_count(record["like_count"], "like_count", problems)
        return {
            "post_id": record["id"],
            "created_at": self.created(record, "timestamp"),
            "content_type": CONTENT_TYPES.get((record["media_type"], record["media_product_type"]), "image"),
            "is_paid": record["promotion_status"] == "active",
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": partner,
            "author_type": "partner" if partner else "brand",
            "caption": record["caption"],
            "quarantine_reason": reason(problems),
        }

    def audience_demographics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        by_day = self.insights(account_id, AUDIENCE_METRICS, since, until, period="lifetime")
        for day, values in sorted(by_day.items()):
            for metric, split in values.items():
                if not isinstance(split, dict):
                    raise SchemaDriftError(f"instagram: schema drift in insights.{metric}: expected an object of "
                                           f"counts, got {type(split).__name__}")
                totals: dict[tuple[str, str], Any] = {}
                for key, followers in split.items():
                    if metric == "country":
                        totals[("country", key)] = followers
                        continue
                    gender, _, age = key.partition(".")
                    for dimension, value in (("gender", gender), ("age", age)):
                        current = totals.get((dimension, value), 0)
                        both_numbers = isinstance(current, int) and isinstance(followers, int)
                        totals[(dimension, value)] = current + followers if both_numbers else followers
                for (dimension, value), followers in sorted(totals.items()):
                    problems: list[str] = []
                    rows.append({"date": day, "dimension": dimension, "value": value,
                                 "followers": as_count(followers, "followers", problems),
                                 "quarantine_reason": reason(problems)})
        return rows
