"""TikTok API v2 connector (display-API envelope, ``cursor`` + ``has_more`` paging, UTC days).

Entities: account_daily (``business/get``: followers_count, profile_views, video_views ->
impressions, reached_audience -> reach), post (``video/list`` walks back from ``until`` with the
create-time cursor and stops at ``since``; ``is_ad`` -> is_paid, ``brand_content_toggle`` + an
``@handle`` in the description -> partner post), post_daily_metrics (``video/daily_metrics``;
favorites -> saves, website_clicks -> clicks). Date ranges in TikTok requests are inclusive.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from pipeline.connectors.base import (
    BodyCursorPaging, Connector, ConnectorError, as_count, from_epoch, reason,
)
from pipeline.connectors.linkedin import epoch_ms
from pipeline.connectors.utm import utm_from_text

VIDEO_FIELDS = frozenset({"id", "create_time", "title", "video_description", "duration", "share_url", "like_count",
                          "comment_count", "share_count", "view_count", "is_ad", "brand_content_toggle"})
DAILY_METRICS = {"impressions": "impressions", "reach": "reach", "likes": "likes", "comments": "comments",
                 "shares": "shares", "favorites": "saves", "website_clicks": "clicks", "video_views": "video_views"}
ACCOUNT_METRICS = {"followers_count": "followers", "profile_views": "profile_views", "video_views": "impressions",
                   "reached_audience": "reach"}
_HANDLE = re.compile(r"@([\w.]+)")


class TikTokConnector(Connector):
    platform = "tiktok"
    ENTITIES = {"account_daily": "account_daily", "post": "posts", "post_daily_metrics": "post_daily_metrics"}
    API_PREFIX = "/tiktok/v2"

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        payload = super().request(method, path, **kwargs)
        error = payload.get("error") or {}
        if error.get("code", "ok") != "ok":
            raise ConnectorError(f"tiktok: {method} {path} answered error {error.get('code')!r}: "
                                 f"{error.get('message', '')}")
        return payload

    def _window(self, since: date, until: date) -> dict[str, str]:
        return {"start_date": since.isoformat(), "end_date": (until - timedelta(days=1)).isoformat()}

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        payload = self.get(f"{self.prefix}/business/get/", {"business_id": account_id, **self._window(since, until),
                                                         "fields": ",".join(ACCOUNT_METRICS)})
        rows = []
        for record in BodyCursorPaging(records_key=("data", "metrics")).records(payload):
            self.check_fields(record, "business metrics", {"date", *ACCOUNT_METRICS})
            problems: list[str] = []
            rows.append({"date": date.fromisoformat(record["date"]),
                         **{column: as_count(record[key], column, problems) for key, column in ACCOUNT_METRICS.items()},
                         "quarantine_reason": reason(problems)})
        return rows

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        body = {"cursor": epoch_ms(until), "max_count": min(self.policy.page_size, 20)}
        paging = BodyCursorPaging()
        for page in self.pages("POST", f"{self.prefix}/video/list/", paging,
                               params={"business_id": account_id, "fields": ",".join(sorted(VIDEO_FIELDS))},
                               body=body):
            videos = paging.records(page)
            for video in videos:
                self.check_fields(video, "video/list", VIDEO_FIELDS)
                created = self.parse_time(video["create_time"], "video/list.create_time", from_epoch)
                if created.date() >= since:
                    rows.append(self.video_row(video, created))
            if videos and created.date() < since:
                break                      # newest first: everything after this is older than the window
        return rows

    def video_row(self, video: dict[str, Any], created: Any) -> dict[str, Any]:
        utm = utm_from_text(video["video_description"])
        partner = _HANDLE.search(video["video_description"] or "") if video["brand_content_toggle"] else None
        problems: list[str] = []
        as_count(video["like_count"], "like_count", problems)
        return {
            "post_id": str(video["id"]),
            "created_at": created,
            "content_type": "video",
            "is_paid": bool(video["is_ad"]),
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": partner[1] if partner else None,
            "author_type": "partner" if partner else "brand",
            "caption": video["title"],
            "quarantine_reason": reason(problems),
        }

    def post_daily_metrics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        body = {**self._window(since, until), "cursor": 0, "max_count": self.policy.page_size}
        for record in self.records("POST", f"{self.prefix}/video/daily_metrics/", BodyCursorPaging(),
                                   params={"business_id": account_id}, body=body):
            self.check_fields(record, "video daily metrics", {"item_id", "date", "metrics"})
            metrics = self.check_fields(record["metrics"], "video daily metrics.metrics", set(DAILY_METRICS))
            problems: list[str] = []
            rows.append({"post_id": str(record["item_id"]), "date": date.fromisoformat(record["date"]),
                         **{column: as_count(metrics[key], column, problems) for key, column in DAILY_METRICS.items()},
                         "quarantine_reason": reason(problems)})
        return rows
