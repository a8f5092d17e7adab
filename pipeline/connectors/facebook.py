"""Facebook Pages + Messenger + Lead Ads + Marketing API connector (Graph API, pinned v26.0).

Every request, field, paging style and error body below is taken from recorded responses or Meta's
documentation, listed with their provenance in tests/fixtures/contracts/facebook/README.md:

- ``post``: ``GET /{page-id}/posts?fields=id,created_time,message,status_type,permalink_url&since&until&limit``,
  all pages through ``paging.next`` followed whole (recorded: ``until`` + ``__paging_token`` and no ``cursors``;
  also ``cursors`` + ``next``). Graph omits fields without a value; ``id`` + ``created_time`` are the identity.
  ``promotion_status`` exists on PagePost but its values are undocumented, so ``is_paid`` is None.
- ``post_metrics`` (LIFETIME totals of the given posts, as the API reports them now):
  ``GET /?ids=<up to 50 post ids>&fields=id,shares,comments.summary(true).limit(0)`` (multi-id read: one object
  keyed by id) for comments / shares, and per post ``GET /{post-id}/insights?metric=post_media_view,
  post_total_media_view_unique,post_clicks,post_reactions_by_type_total&period=lifetime`` (``values: [{value}]``,
  no ``end_time``) for views, reach, clicks and likes (all reactions: the reactions breakdown summed; breakdowns list
  only non-zero types). ``impressions`` (deprecated 2025-11-15, successor ``post_media_view`` = views, a different
  meaning), ``saves`` and ``video_views`` are not reported: None, never 0. A count Graph omitted is None.
- ``account_daily``: ``GET /{page-id}/insights?metric=page_follows,page_media_view,page_total_media_view_unique,
  page_views_total&period=day&since&until`` (at most 90 days per call); ``end_time`` is the end of the US-Pacific
  day. Insights ``paging.previous/next`` move the time window: they are never followed.
- ``support_conversations``: ``GET /{page-id}/conversations?platform=messenger&fields=id,updated_time,
  messages{id,created_time,from}`` (field expansion of the ``messages`` edge; no time-based paging exists for this
  edge, so every page is read and conversations last updated before the window are skipped); when the expansion
  is missing or has a ``paging.next``, ``GET /{conversation-id}/messages?fields=id,created_time,from`` (all pages).
  ``opened_at`` = the first message; ``first_response_at`` = the first message from the Page after the customer's
  first message. Graph has no agent and no CSAT: both None (CSAT comes from exports).
- ``leads``: ``GET /{page-id}/leadgen_forms?fields=id,name`` then ``GET /{form-id}/leads?fields=id,created_time,
  campaign_name,form_id`` (all pages); counted per UTC day x campaign x lead type (from the form name).
- ``ad_spend``: ``GET /act_{ad-account-id}/insights?level=campaign&time_increment=1&time_range={since,until}
  &fields=campaign_name,spend,impressions,clicks,actions,account_currency`` (``until`` inclusive, numbers are
  strings). Purchases are reported under several equivalent action types with the same value: one is taken,
  never their sum.
Errors are Graph bodies (HTTP 400/403 with ``error.code``) classified by :func:`classify_graph_error`; an object
that does not exist (code 100, subcode 33) is :class:`AccountNotFoundError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from pipeline.connectors.base import (
    AccountNotFoundError,
    ConnectorError,
    GraphNextPaging,
    PostRef,
    as_amount,
    as_count,
    reason,
)
from pipeline.connectors.graph import GraphConnector, classify_graph_error
from pipeline.connectors.graph import current_metrics as graph_current_metrics
from pipeline.connectors.utm import count_leads, lead_type_for_form, utm_from_text

API_VERSION = "v26.0"     # latest Graph version in the changelog (released 2026-07-29)


@dataclass(frozen=True)
class Deprecation:
    successor: str | None      # the metric to ask for instead (None: the data is gone)
    all_versions_from: date    # from this day it is an invalid metric (code 100) on every version
    note: str = ""


# Pages changelog (Nov 15, 2025), deprecated-metrics page (Mar 2, 2026), changelog v25.0: see the fixtures README.
DEPRECATED_METRICS: dict[str, Deprecation] = {
    "page_impressions_unique": Deprecation("page_total_media_view_unique", date(2025, 6, 15)),
    "post_impressions_unique": Deprecation("post_total_media_view_unique", date(2025, 6, 15)),
    "page_impressions": Deprecation("page_media_view", date(2025, 11, 15), "views are not impressions"),
    "post_impressions": Deprecation("post_media_view", date(2025, 11, 15), "views are not impressions"),
    "page_impressions_paid": Deprecation("page_media_view", date(2025, 11, 15), "with the is_from_ads breakdown"),
    "post_impressions_paid": Deprecation("post_media_view", date(2025, 11, 15), "with the is_from_ads breakdown"),
    "post_impressions_organic": Deprecation("post_media_view", date(2025, 11, 15), "with the is_from_ads breakdown"),
    "page_fans": Deprecation("page_follows", date(2025, 11, 15)),
}

def _sum_of_counts(breakdown: dict[str, Any]) -> Any:
    """The total of a reactions breakdown, or the breakdown itself when a value is not a count (quarantined)."""
    counts = list(breakdown.values())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        return sum(counts)
    return next(v for v in counts if not (isinstance(v, int) and not isinstance(v, bool)))


PAGE_METRICS = {"page_follows": "followers", "page_media_view": "views", "page_total_media_view_unique": "reach",
                "page_views_total": "page_views"}
POST_INSIGHTS = {"post_media_view": "views", "post_total_media_view_unique": "reach", "post_clicks": "clicks",
                 "post_reactions_by_type_total": "likes"}
POST_METRIC_COLUMNS = ("impressions", "views", "reach", "likes", "comments", "shares", "saves", "clicks",
                       "video_views")
ACCOUNT_COLUMNS = ("followers", "impressions", "views", "reach", "profile_views", "page_views")
CONTENT_TYPES = {"added_photos": "image", "added_video": "video", "shared_story": "link",
                 "mobile_status_update": "text"}
# one purchase is reported under each of these with the same value (recorded): the first present is taken
PURCHASE_ACTIONS = ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase")
IDS_PER_CALL = 50              # Graph multi-id reads take up to 50 ids
INSIGHTS_MAX_DAYS = 90         # "Only 90 days of insights can be viewed at one time"

INSIGHT_KNOWN = ("name", "period", "values", "title", "description", "id")
VALUE_KNOWN = ("value", "end_time")
ENGAGEMENT_FIELDS = "id,shares,comments.summary(true).limit(0)"
CONVERSATION_KNOWN = ("id", "updated_time")
MESSAGE_KNOWN = ("id", "created_time", "from")
FORM_KNOWN = ("id", "name")
LEAD_KNOWN = ("id", "created_time", "campaign_name", "form_id")
ADS_FIELDS = ("campaign_name", "spend", "impressions", "clicks", "actions", "account_currency")
ADS_KNOWN = (*ADS_FIELDS, "date_start", "date_stop")


def current_metrics(names: dict[str, str]) -> dict[str, str]:
    return graph_current_metrics("facebook", names, DEPRECATED_METRICS)


class FacebookConnector(GraphConnector):
    platform = "facebook"
    ENTITIES: ClassVar[dict[str, str]] = {
        "account_daily": "account_daily", "post": "posts", "post_metrics": "post_metrics",
        "support_conversations": "support_conversations", "leads": "leads", "ad_spend": "ad_spend"}
    API_VERSION = API_VERSION
    FAKE_ROOT = "/facebook"
    API_PREFIX = f"/facebook/{API_VERSION}"
    POSTS_EDGE = "posts"
    POST_FIELDS = ("id", "created_time", "message", "status_type", "permalink_url")
    POST_REQUIRED = ("id", "created_time")

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        if status == 429:       # not a Graph signal (Graph throttles with 400 + code): the transport already retried
            return None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and error.get("code") == 100 and error.get("error_subcode") == 33:
            return AccountNotFoundError(self.failure(
                "object not found or not accessible (Graph error 100/33: "
                f"{self.redact(str(error.get('message') or ''), limit=160)})"))
        return classify_graph_error(self, status, payload)

    # -- helpers --

    def insights_once(self, node: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The insight objects of ONE ``GET /<node>/insights`` answer (its paging moves the time window)."""
        payload = self.get(f"{self.prefix}/{node}/insights", params)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            data = [data] if data is not None else []
        return [self.parse_record(insight, f"{node}/insights", required=("name",), known=INSIGHT_KNOWN)
                for insight in data]

    def listing(self, path: str, where: str, params: dict[str, Any], *, required: tuple[str, ...],
                known: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every record of a Graph list, all pages through ``paging.next``, parsed tolerantly."""
        return [self.parse_record(record, where, required=required, known=known)
                for record in self.records("GET", path, GraphNextPaging(),
                                           params={**params, "limit": self.policy.page_size})]

    # -- post --

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        message = record.get("message")
        utm = utm_from_text(message)
        return {
            "post_id": record["id"],
            "created_at": self.created(record, "created_time"),
            "content_type": CONTENT_TYPES.get(record.get("status_type")),
            "is_paid": None,            # promotion_status values are undocumented
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": None,
            "author_type": "brand",
            "caption": message,
            "quarantine_reason": None,
        }

    # -- post_metrics (lifetime) --

    def post_metrics(self, account_id: str, posts: list[PostRef]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(post.post_id for post in posts))
        engagement: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), IDS_PER_CALL):
            chunk = ids[start:start + IDS_PER_CALL]
            payload = self.get(f"{self.prefix}/", {"ids": ",".join(chunk), "fields": ENGAGEMENT_FIELDS})
            for post_id in chunk:
                node = payload.get(post_id) if isinstance(payload, dict) else None
                if node is not None:
                    engagement[post_id] = self.parse_record(node, "?ids", required=("id",),
                                                            known=("id", "shares", "comments"))
        metrics = current_metrics(POST_INSIGHTS)
        rows = []
        for post_id in ids:
            values: dict[str, Any] = {}
            node = engagement.get(post_id, {})
            values["comments"] = ((node.get("comments") or {}).get("summary") or {}).get("total_count")
            values["shares"] = (node.get("shares") or {}).get("count")
            for insight in self.insights_once(post_id, {"metric": ",".join(metrics), "period": "lifetime"}):
                column = metrics.get(insight["name"])
                points = insight.get("values") or []
                if column is None or not points:
                    continue
                value = self.parse_record(points[-1], f"insights.{insight['name']}.values", known=VALUE_KNOWN) \
                    .get("value")
                if column == "likes":
                    # likes = all reactions (DECISIONLOG engagement mapping): the breakdown's types summed; it lists
                    # only non-zero types, so an empty breakdown is 0
                    value = _sum_of_counts(value) if isinstance(value, dict) else value
                values[column] = value
            rows.append({"post_id": post_id, **self.counted(values, POST_METRIC_COLUMNS)})
        return rows

    # -- account_daily --

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        metrics = current_metrics(PAGE_METRICS)
        by_day: dict[date, dict[str, Any]] = {}
        start = since
        while start < until:
            end = min(until, start + timedelta(days=INSIGHTS_MAX_DAYS))
            params = {"metric": ",".join(metrics), "period": "day", "since": start.isoformat(),
                      "until": end.isoformat()}
            for insight in self.insights_once(account_id, params):
                column = metrics.get(insight["name"])
                if column is None:
                    continue
                where = f"insights.{insight['name']}.values"
                for value in insight.get("values") or []:
                    self.parse_record(value, where, required=("end_time",), known=VALUE_KNOWN)
                    by_day.setdefault(self.native_day(value["end_time"], where), {})[column] = value.get("value")
            start = end
        return [{"date": day, **self.counted(values, ACCOUNT_COLUMNS)} for day, values in sorted(by_day.items())]

    # -- support_conversations (Messenger) --

    def support_conversations(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        fields = f"{','.join(CONVERSATION_KNOWN)},messages{{{','.join(MESSAGE_KNOWN)}}}"
        conversations = self.listing(f"{self.prefix}/{account_id}/conversations", "conversations",
                                     {"platform": "messenger", "fields": fields}, required=("id",),
                                     known=(*CONVERSATION_KNOWN, "messages"))
        for conversation in conversations:
            updated = conversation.get("updated_time")
            if updated is not None and self.parse_time(updated, "conversations.updated_time").date() < since:
                continue                # nothing happened in it since before the window: it was not opened there
            nested = conversation.get("messages")
            if isinstance(nested, dict) and not (nested.get("paging") or {}).get("next"):
                found = [self.parse_record(m, "messages", required=("id", "created_time"), known=MESSAGE_KNOWN)
                         for m in nested.get("data") or []]
            else:                       # not expanded, or more messages than the expansion returned
                found = self.listing(f"{self.prefix}/{conversation['id']}/messages", "messages",
                                     {"fields": ",".join(MESSAGE_KNOWN)}, required=("id", "created_time"),
                                     known=MESSAGE_KNOWN)
            timeline = sorted((self.parse_time(m["created_time"], "messages.created_time"),
                               (m.get("from") or {}).get("id")) for m in found)
            if not timeline:
                continue
            rows.append({
                "conversation_id": conversation["id"],
                "opened_at": timeline[0][0],
                "first_response_at": first_response(timeline, account_id),
                "agent_id": None,       # not in the Conversations API
                "csat_score": None,     # not in Graph: comes from exports
                "quarantine_reason": None,
            })
        return rows

    # -- leads (Lead Ads) --

    def leads(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        submissions = []
        forms = self.listing(f"{self.prefix}/{account_id}/leadgen_forms", "leadgen_forms",
                             {"fields": ",".join(FORM_KNOWN)}, required=("id",), known=FORM_KNOWN)
        for form in forms:
            lead_type = lead_type_for_form(form.get("name"))
            for lead in self.listing(f"{self.prefix}/{form['id']}/leads", "leads", {"fields": ",".join(LEAD_KNOWN)},
                                     required=("id", "created_time"), known=LEAD_KNOWN):
                day = self.parse_time(lead["created_time"], "leads.created_time").date()    # UTC day
                if since <= day < until:
                    submissions.append((day, lead.get("campaign_name"), lead_type))
        return count_leads(submissions)

    # -- ad_spend (Marketing API) --

    def ad_spend(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        params = {"level": "campaign", "time_increment": 1, "fields": ",".join(ADS_FIELDS),
                  "time_range": json.dumps({"since": since.isoformat(),
                                            "until": (until - timedelta(days=1)).isoformat()})}
        rows = []
        for record in self.listing(f"{self.prefix}/act_{account_id}/insights", "ads insights", params,
                                   required=("date_start",), known=ADS_KNOWN):
            problems: list[str] = []
            actions = {a.get("action_type"): a.get("value") for a in record.get("actions") or []
                       if isinstance(a, dict)}
            purchase = next((actions[kind] for kind in PURCHASE_ACTIONS if kind in actions), 0)
            rows.append({
                "date": date.fromisoformat(record["date_start"]),
                "campaign": record.get("campaign_name"),
                "spend": as_amount(record.get("spend"), "spend", problems),
                "currency": record.get("account_currency"),
                "impressions": as_count(record.get("impressions"), "impressions", problems),
                "clicks": as_count(record.get("clicks"), "clicks", problems),
                "acquisitions": as_count(purchase, "acquisitions", problems),
                "quarantine_reason": reason(problems),
            })
        return rows


def first_response(timeline: list[tuple[datetime, str | None]], page_id: str) -> datetime | None:
    """The first message from the Page after the customer's first message (None if the Page never answered)."""
    customer = next((moment for moment, sender in timeline if sender != page_id), None)
    if customer is None:
        return None
    return next((moment for moment, sender in timeline if sender == page_id and moment >= customer), None)
