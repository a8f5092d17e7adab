"""LinkedIn Marketing API connector (Rest.li collections with ``start``/``count`` paging, UTC days).

Entities: account_daily (follower statistics -> followers = organic + paid end-of-day counts;
share statistics -> impressions = ``impressionCount``, reach = ``uniqueImpressionsCount``),
post (``posts?q=author``; a ``urn:li:person`` author is an employee reshare, ``adContext.isDsc``
marks sponsored content), post_daily_metrics (share statistics per share, 20 shares per call),
leads (lead form responses counted per day x campaign x type), applications (job statistics),
ad_spend (``adAnalytics`` pivoted by campaign; ``dateRange`` end is inclusive).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from pipeline.connectors.base import (
    POST_LOOKBACK, Connector, StartCountPaging, as_amount, as_count, from_epoch, reason,
)
from pipeline.connectors.utm import count_leads, lead_type_for_form, utm_from_text

SHARES_PER_CALL = 20


def epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def time_intervals(since: date, until: date) -> str:
    return f"(timeRange:(start:{epoch_ms(since)},end:{epoch_ms(until)}),timeGranularityType:DAY)"


def _ymd(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


class LinkedInConnector(Connector):
    platform = "linkedin"
    ENTITIES = {"account_daily": "account_daily", "post": "posts", "post_daily_metrics": "post_daily_metrics",
                "leads": "leads", "applications": "applications", "ad_spend": "ad_spend"}
    API_PREFIX = "/linkedin/rest"

    def organization(self, account_id: str) -> str:
        return f"urn:li:organization:{account_id}"

    def elements(self, resource: str, where: str, required: set[str], optional: frozenset[str] = frozenset(),
                 **params: Any) -> list[dict[str, Any]]:
        query = {**params, "count": self.policy.page_size}
        return [self.check_fields(element, where, required, optional)
                for element in self.records("GET", f"{self.prefix}/{resource}", StartCountPaging(), params=query)]

    def day_of(self, element: dict[str, Any], where: str) -> date:
        start = (element["timeRange"] or {}).get("start")
        return self.parse_time(start, f"{where}.timeRange", lambda v: from_epoch(v, millis=True)).date()

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        filters = {"q": "organizationalEntity", "organizationalEntity": self.organization(account_id),
                   "timeIntervals": time_intervals(since, until)}
        rows: dict[date, dict[str, Any]] = {}
        for element in self.elements("organizationalEntityFollowerStatistics", "follower statistics",
                                     {"organizationalEntity", "timeRange", "followerGains", "followerCounts"},
                                     **filters):
            problems: list[str] = []
            counts = element["followerCounts"] or {}
            organic = as_count(counts.get("organicFollowerCount"), "followers", problems)
            paid = as_count(counts.get("paidFollowerCount"), "followers", problems)
            followers = organic + paid if organic is not None and paid is not None else None
            problems += [f"negative follower count {n}" for n in (organic, paid) if n is not None and n < 0]
            rows[self.day_of(element, "follower statistics")] = {"followers": followers, "problems": problems}
        for element in self.elements("organizationalEntityShareStatistics", "share statistics",
                                     {"organizationalEntity", "timeRange", "totalShareStatistics"}, **filters):
            row = rows.setdefault(self.day_of(element, "share statistics"), {"followers": None, "problems": []})
            stats = element["totalShareStatistics"] or {}
            row["impressions"] = as_count(stats.get("impressionCount"), "impressions", row["problems"])
            row["reach"] = as_count(stats.get("uniqueImpressionsCount"), "reach", row["problems"])
        return [{"date": day, **{k: v for k, v in row.items() if k != "problems"},
                 "quarantine_reason": reason(row["problems"])}
                for day, row in sorted(rows.items())]

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        for element in self.elements(
                "posts", "posts", {"id", "author", "commentary", "createdAt", "publishedAt", "lifecycleState",
                                   "visibility", "adContext"}, frozenset({"content", "reshareContext"}),
                q="author", author=self.organization(account_id), createdAfter=epoch_ms(since),
                createdBefore=epoch_ms(until)):
            content = element.get("content") or {}
            media_id = (content.get("media") or {}).get("id", "")
            kind = "link" if "article" in content else "video" if ":video:" in media_id else \
                "image" if media_id else "text"
            ad_context = element["adContext"] or {}
            utm = utm_from_text(element["commentary"] or (content.get("article") or {}).get("source"))
            rows.append({
                "post_id": element["id"],
                "created_at": self.parse_time(element["createdAt"], "posts.createdAt",
                                              lambda v: from_epoch(v, millis=True)),
                "content_type": kind,
                "is_paid": bool(ad_context.get("isDsc")),
                "campaign": utm.get("campaign") or ad_context.get("dscName"),
                "variant": utm.get("content"),
                "partner_handle": None,
                "author_type": "employee" if str(element["author"]).startswith("urn:li:person:") else "brand",
                "caption": element["commentary"],
            })
        return rows

    def post_daily_metrics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        post_ids = [post["post_id"] for post in self.posts(account_id, since - POST_LOOKBACK, until)]
        rows = []
        for start in range(0, len(post_ids), SHARES_PER_CALL):
            batch = post_ids[start:start + SHARES_PER_CALL]
            for element in self.elements(
                    "organizationalEntityShareStatistics", "share statistics",
                    {"organizationalEntity", "share", "timeRange", "totalShareStatistics"},
                    q="organizationalEntity", organizationalEntity=self.organization(account_id),
                    shares=f"List({','.join(batch)})", timeIntervals=time_intervals(since, until)):
                stats, problems = element["totalShareStatistics"] or {}, []
                rows.append({
                    "post_id": element["share"],
                    "date": self.day_of(element, "share statistics"),
                    **{column: as_count(stats.get(key), column, problems) for column, key in (
                        ("impressions", "impressionCount"), ("reach", "uniqueImpressionsCount"),
                        ("likes", "likeCount"), ("comments", "commentCount"), ("shares", "shareCount"),
                        ("clicks", "clickCount"))},
                    "quarantine_reason": reason(problems),
                })
        return rows

    def leads(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        submissions = []
        for element in self.elements(
                "leadFormResponses", "lead form responses",
                {"id", "submittedAt", "leadType", "formName", "campaignName"},
                q="owner", owner=f"(organization:{self.organization(account_id)})",
                submittedAtTimeRange=f"(start:{epoch_ms(since)},end:{epoch_ms(until)})"):
            day = self.parse_time(element["submittedAt"], "lead form responses.submittedAt",
                                  lambda v: from_epoch(v, millis=True)).date()
            submissions.append((day, element["campaignName"],
                                lead_type_for_form(element["formName"], is_event=element["leadType"] == "EVENT")))
        return count_leads(submissions)

    def applications(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        for element in self.elements(
                "jobApplicationStatistics", "job application statistics",
                {"job", "timeRange", "applicationCount", "hireCount"},
                q="organization", organization=self.organization(account_id),
                timeIntervals=time_intervals(since, until)):
            problems: list[str] = []
            rows.append({
                "date": self.day_of(element, "job application statistics"),
                "job_id": str(element["job"]).rpartition(":")[2],
                "applications": as_count(element["applicationCount"], "applications", problems),
                "hires": as_count(element["hireCount"], "hires", problems),
                "quarantine_reason": reason(problems),
            })
        return rows

    def ad_spend(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        for element in self.elements(
                "adAnalytics", "ad analytics",
                {"dateRange", "pivotValues", "costInLocalCurrency", "impressions", "clicks",
                 "externalWebsiteConversions"},
                q="analytics", pivot="CAMPAIGN", timeGranularity="DAILY",
                dateRange=f"(start:{_ymd(since)},end:{_ymd(until - timedelta(days=1))})",
                accounts=f"List(urn:li:sponsoredAccount:{account_id})"):
            start = (element["dateRange"] or {}).get("start") or {}
            try:
                day = date(start["year"], start["month"], start["day"])
            except (KeyError, TypeError, ValueError):
                day = self.parse_time(None, "ad analytics.dateRange").date()
            problems: list[str] = []
            rows.append({
                "date": day,
                "campaign": str((element["pivotValues"] or [""])[0]).rpartition(":")[2],
                "spend": as_amount(element["costInLocalCurrency"], "spend", problems),
                "currency": self.options.get("currency"),
                "impressions": as_count(element["impressions"], "impressions", problems),
                "clicks": as_count(element["clicks"], "clicks", problems),
                "acquisitions": as_count(element["externalWebsiteConversions"], "acquisitions", problems),
                "quarantine_reason": reason(problems),
            })
        return rows
