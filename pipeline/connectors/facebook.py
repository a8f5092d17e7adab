"""Facebook Pages + Messenger + Lead Ads + Marketing API connector.

Entities: account_daily, post, post_daily_metrics (page and post insights, US Pacific days),
support_conversations (Messenger: ``created_time``, ``first_response_time``, agent, CSAT),
leads (Lead Ads submissions counted per UTC day x campaign x lead type, the form name decides
the type) and ad_spend (campaign-level Marketing API insights; ``time_range.until`` is inclusive there,
numbers arrive as strings; acquisitions = ``offsite_conversion.fb_pixel_purchase`` actions).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from pipeline.connectors.base import GraphCursorPaging, as_amount, as_count, reason
from pipeline.connectors.graph import GraphConnector
from pipeline.connectors.utm import count_leads, lead_type_for_form, utm_from_text

CONTENT_TYPES = {"added_photos": "image", "added_video": "video", "shared_story": "link",
                 "mobile_status_update": "text"}
PURCHASE_ACTIONS = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")


class FacebookConnector(GraphConnector):
    platform = "facebook"
    ENTITIES = {"account_daily": "account_daily", "post": "posts", "post_daily_metrics": "post_daily_metrics",
                "support_conversations": "support_conversations", "leads": "leads", "ad_spend": "ad_spend"}
    ACCOUNT_METRICS = {"page_follows": "followers", "page_impressions": "impressions",
                       "page_impressions_unique": "reach", "page_views_total": "page_views"}
    POST_METRICS = {"post_impressions": "impressions", "post_impressions_unique": "reach",
                    "post_reactions_like_total": "likes", "post_comments": "comments", "post_shares": "shares",
                    "post_clicks": "clicks", "post_video_views": "video_views"}
    API_PREFIX = "/facebook/v21.0"
    POSTS_EDGE = "posts"
    POST_FIELDS = frozenset({"id", "message", "created_time", "status_type", "permalink_url", "promotion_status",
                             "shares"})

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        utm = utm_from_text(record["message"])
        problems: list[str] = []
        as_count((record["shares"] or {}).get("count"), "shares", problems)
        return {
            "post_id": record["id"],
            "created_at": self.created(record, "created_time"),
            "content_type": CONTENT_TYPES.get(record["status_type"], "text"),
            "is_paid": record["promotion_status"] == "active",
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": None,
            "author_type": "brand",
            "caption": record["message"],
            "quarantine_reason": reason(problems),
        }

    def _listing(self, account_id: str, edge: str, since: date, until: date, **params: Any) -> Any:
        query = {"since": since.isoformat(), "until": until.isoformat(), "limit": self.policy.page_size, **params}
        return self.records("GET", f"{self.prefix}/{account_id}/{edge}", GraphCursorPaging(), params=query)

    def support_conversations(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        for record in self._listing(account_id, "conversations", since, until, platform="messenger"):
            self.check_fields(record, "conversations", {"id", "created_time", "first_response_time", "agent",
                                                        "feedback"})
            problems: list[str] = []
            responded = record["first_response_time"]
            score = as_count((record["feedback"] or {}).get("csat_score"), "csat_score", problems)
            rows.append({
                "conversation_id": record["id"],
                "opened_at": self.parse_time(record["created_time"], "conversations.created_time"),
                "first_response_at": self.parse_time(responded, "conversations.first_response_time")
                if responded else None,
                "agent_id": (record["agent"] or {}).get("id"),
                "csat_score": score if score is None or -32768 <= score <= 32767 else None,
                "quarantine_reason": reason(problems),
            })
        return rows

    def leads(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        submissions = []
        for record in self._listing(account_id, "leads", since, until):
            self.check_fields(record, "leads", {"id", "created_time", "form_name", "campaign_name"})
            day = self.parse_time(record["created_time"], "leads.created_time").date()   # leads count by UTC day
            submissions.append((day, record["campaign_name"], lead_type_for_form(record["form_name"])))
        return count_leads(submissions)

    def ad_spend(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        params = {"level": "campaign", "time_increment": 1, "limit": self.policy.page_size,
                  "fields": "campaign_name,spend,impressions,clicks,actions,account_currency",
                  "time_range": json.dumps({"since": since.isoformat(),
                                            "until": (until - timedelta(days=1)).isoformat()})}
        rows = []
        for record in self.records("GET", f"{self.prefix}/act_{account_id}/insights", GraphCursorPaging(),
                                   params=params):
            self.check_fields(record, "ads insights", {"campaign_name", "date_start", "date_stop", "spend",
                                                       "impressions", "clicks", "account_currency"}, {"actions"})
            problems: list[str] = []
            purchases = [a.get("value") for a in record.get("actions") or [] if a.get("action_type") in PURCHASE_ACTIONS]
            rows.append({
                "date": date.fromisoformat(record["date_start"]),
                "campaign": record["campaign_name"],
                "spend": as_amount(record["spend"], "spend", problems),
                "currency": record["account_currency"],
                "impressions": as_count(record["impressions"], "impressions", problems),
                "clicks": as_count(record["clicks"], "clicks", problems),
                "acquisitions": sum(as_count(v, "acquisitions", problems) or 0 for v in purchases),
                "quarantine_reason": reason(problems),
            })
        return rows
