"""X API v2 connector (``meta.next_token`` paging, ``x-rate-limit-*`` throttling, UTC days).

Entities: account_daily (followers_count, impression_count -> impressions, profile_visits ->
profile_views), post (user timeline; ``promoted_metrics`` present -> is_paid; media -> image, a
link -> link, else text), post_daily_metrics (replies -> comments, retweets -> shares,
bookmarks -> saves, url_link_clicks -> clicks), mentions (recent search for the brand and its
competitors; ``matching_rules[].tag`` names the brand; author followers from ``includes.users``;
UGC = a brand mention with media from someone else). Options: ``brand``, ``competitors``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from pipeline.connectors.base import Connector, NextTokenPaging, as_count, reason
from pipeline.connectors.utm import utm_from_text

TWEET_FIELDS = frozenset({"id", "text", "created_at", "author_id", "public_metrics"})
TWEET_OPTIONAL = frozenset({"attachments", "promoted_metrics", "entities"})
MENTION_FIELDS = frozenset({"id", "text", "created_at", "author_id", "entities", "matching_rules", "sentiment"})
DAILY_METRICS = {"impressions": "impressions", "likes": "likes", "replies": "comments", "retweets": "shares",
                 "bookmarks": "saves", "url_link_clicks": "clicks", "video_views": "video_views"}
ACCOUNT_METRICS = {"followers_count": "followers", "impression_count": "impressions",
                   "profile_visits": "profile_views"}


def rfc3339(day: date) -> str:
    return datetime.combine(day, time(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class XConnector(Connector):
    platform = "x"
    ENTITIES = {"account_daily": "account_daily", "post": "posts", "post_daily_metrics": "post_daily_metrics",
                "mentions": "mentions"}
    API_PREFIX = "/x/2"

    def _window(self, since: date, until: date) -> dict[str, Any]:
        return {"start_time": rfc3339(since), "end_time": rfc3339(until), "max_results": self.policy.page_size}

    def _daily(self, path: str, since: date, until: date, where: str, required: set[str],
               metrics: dict[str, str], key: str) -> list[dict[str, Any]]:
        rows = []
        for record in self.records("GET", path, NextTokenPaging(), params=self._window(since, until)):
            self.check_fields(record, where, required)
            values = self.check_fields(record[key], f"{where}.{key}", set(metrics)) if key else record
            problems: list[str] = []
            row = {"date": date.fromisoformat(record["date"]),
                   **{column: as_count(values[name], column, problems) for name, column in metrics.items()}}
            if "tweet_id" in record:
                row["post_id"] = str(record["tweet_id"])
            rows.append({**row, "quarantine_reason": reason(problems)})
        return rows

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        return self._daily(f"{self.prefix}/users/{account_id}/daily_metrics", since, until, "user daily metrics",
                           {"date", *ACCOUNT_METRICS}, ACCOUNT_METRICS, "")

    def post_daily_metrics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        return self._daily(f"{self.prefix}/users/{account_id}/tweets/daily_metrics", since, until,
                           "tweet daily metrics", {"tweet_id", "date", "metrics"}, DAILY_METRICS, "metrics")

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        params = {**self._window(since, until), "tweet.fields": "created_at,public_metrics,entities,attachments"}
        for tweet in self.records("GET", f"{self.prefix}/users/{account_id}/tweets", NextTokenPaging(), params=params):
            self.check_fields(tweet, "tweets", TWEET_FIELDS, TWEET_OPTIONAL)
            utm = utm_from_text(tweet["text"])
            problems: list[str] = []
            as_count((tweet["public_metrics"] or {}).get("like_count"), "like_count", problems)
            kind = "image" if tweet.get("attachments") else "link" if "http" in (tweet["text"] or "") else "text"
            rows.append({
                "post_id": str(tweet["id"]),
                "created_at": self.parse_time(tweet["created_at"], "tweets.created_at"),
                "content_type": kind,
                "is_paid": "promoted_metrics" in tweet,
                "campaign": utm.get("campaign"),
                "variant": utm.get("content"),
                "partner_handle": None,
                "author_type": "brand",
                "caption": tweet["text"],
                "quarantine_reason": reason(problems),
            })
        return rows

    def mentions(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        brand = self.options.get("brand") or "acme"
        competitors = tuple(self.options.get("competitors") or ("rivalco", "globex"))
        paging = NextTokenPaging(param="next_token")
        params = {**self._window(since, until), "query": f"({' OR '.join((brand, *competitors))})",
                  "expansions": "author_id", "user.fields": "public_metrics",
                  "tweet.fields": "created_at,entities,attachments"}
        rows = []
        for page in self.pages("GET", f"{self.prefix}/tweets/search/recent", paging, params=params):
            followers = {user.get("id"): (user.get("public_metrics") or {}).get("followers_count")
                         for user in (page.get("includes") or {}).get("users", [])}
            for tweet in paging.records(page):
                self.check_fields(tweet, "search/recent", MENTION_FIELDS, frozenset({"attachments"}))
                rules = tweet["matching_rules"] or [{}]
                mentioned = str(rules[0].get("tag") or brand).lower()
                hashtags = [str(h.get("tag", "")).lower() for h in (tweet["entities"] or {}).get("hashtags", [])]
                problems: list[str] = []
                rows.append({
                    "mention_id": str(tweet["id"]),
                    "created_at": self.parse_time(tweet["created_at"], "search/recent.created_at"),
                    "brand": mentioned,
                    "is_competitor": mentioned != brand,
                    "author_handle": tweet["author_id"],
                    "author_followers": as_count(followers.get(tweet["author_id"]), "author_followers", problems),
                    "sentiment": tweet["sentiment"],
                    "is_ugc": mentioned == brand and bool(tweet.get("attachments")),
                    "hashtags": " ".join(hashtags) or None,
                    "text": tweet["text"],
                    "quarantine_reason": reason(problems),
                })
        return rows
