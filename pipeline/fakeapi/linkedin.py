"""LinkedIn Marketing API (``/rest``, Rest.li 2.0 query syntax) emulation.

Collections answer ``{"elements": [...], "paging": {"start", "count", "total"}}``; time-bound
statistics take ``timeIntervals=(timeRange:(start:<ms>,end:<ms>),timeGranularityType:DAY)``
(UTC days, end exclusive). Endpoints under ``/linkedin/rest``:
- ``organizationalEntityFollowerStatistics?q=organizationalEntity&organizationalEntity=urn:li:organization:<id>``
  (daily ``followerGains``; the emulation also returns end-of-day ``followerCounts`` so totals are
  reproducible for any past day)
- ``organizationalEntityShareStatistics`` (same filters; add ``shares=List(urn:li:share:..,..)`` for per-post days)
- ``posts?q=author&author=urn:li:organization:<id>`` with emulated ``createdAfter``/``createdBefore`` (ms);
  employee reshares appear with a ``urn:li:person:`` author
- ``leadFormResponses?q=owner&owner=(organization:urn:li:organization:<id>)&submittedAtTimeRange=(start:<ms>,end:<ms>)``
- ``jobApplicationStatistics?q=organization&organization=urn:li:organization:<id>&timeIntervals=(..)`` (emulated)
- ``adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(year:,month:,day:),end:(..))
  &accounts=List(urn:li:sponsoredAccount:<id>)`` (end inclusive, cost as a string, as the real API)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pipeline.fakeapi import data
from pipeline.fakeapi.server import ApiError, PlatformStyle, Reply, Request, Route, int_arg, slice_page

_URN = re.compile(r"urn:li:(?:organization|sponsoredAccount):([A-Za-z0-9_\-]+)")
_RANGE = re.compile(r"start:(\d+),end:(\d+)")
_DATE_RANGE = re.compile(r"start:\(year:(\d+),month:(\d+),day:(\d+)\),end:\(year:(\d+),month:(\d+),day:(\d+)\)")
_SHARE = re.compile(r"urn:li:share:([A-Za-z0-9_\-]+)")
LEAD_TYPES = {"Event RSVP": "EVENT", "Webinar registration": "EVENT"}


def error_body(status: int, message: str) -> dict[str, Any]:
    code = {401: "INVALID_ACCESS_TOKEN", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS", 400: "ILLEGAL_ARGUMENT"}
    return {"status": status, "serviceErrorCode": 65600 if status == 401 else 100,
            "code": code.get(status, "INTERNAL_SERVER_ERROR"), "message": message}


STYLE = PlatformStyle(error_body=error_body)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def day_ms(day: date) -> int:
    return ms(datetime(day.year, day.month, day.day, tzinfo=data.UTC))


def _from_ms(value: str) -> date:
    return datetime.fromtimestamp(int(value) / 1000, data.UTC).date()


def _account(request: Request, param: str) -> str:
    found = _URN.search(unquote(request.require(param)))
    if not found or not data.is_demo_account("linkedin", found[1]):
        raise ApiError(404, f"Organization {request.arg(param)} not found")
    return found[1]


def _days(request: Request, param: str) -> list[date]:
    found = _RANGE.search(unquote(request.require(param)))
    if not found:
        raise ApiError(400, f"{param} must be (timeRange:(start:<ms>,end:<ms>),...)")
    return data.days(_from_ms(found[1]), _from_ms(found[2]))


def _time_range(day: date) -> dict[str, int]:
    return {"start": day_ms(day), "end": day_ms(day + timedelta(1))}


def _paged(request: Request, items: list[dict[str, Any]], **reply: Any) -> Reply:
    start = int(request.cursor("start") or 0)
    count = int_arg(request, "count", 10, 1000)
    page, _ = slice_page(items, start, count)
    return Reply({"elements": page, "paging": {"start": start, "count": count, "total": len(items)}},
                 records=page, **reply)


def follower_statistics(request: Request) -> Reply:
    account = _account(request, "organizationalEntity")
    items = []
    for day in _days(request, "timeIntervals"):
        total, before = (data.followers("linkedin", account, d) for d in (day, day - timedelta(1)))
        organic = int(total * 0.9)
        items.append({
            "organizationalEntity": f"urn:li:organization:{account}",
            "timeRange": _time_range(day),
            "followerGains": {"organicFollowerGain": organic - int(before * 0.9),
                              "paidFollowerGain": (total - organic) - (before - int(before * 0.9))},
            "followerCounts": {"organicFollowerCount": organic, "paidFollowerCount": total - organic},
        })
    return _paged(request, items, count_path=("followerCounts", "organicFollowerCount"), required_key="timeRange")


def _share_stats(values: dict[str, int]) -> dict[str, Any]:
    engaged = values["likes"] + values["comments"] + values["shares"] + values["clicks"]
    return {"impressionCount": values["impressions"], "uniqueImpressionsCount": values["reach"],
            "clickCount": values["clicks"], "likeCount": values["likes"], "commentCount": values["comments"],
            "shareCount": values["shares"],
            "engagement": round(engaged / values["impressions"], 6) if values["impressions"] else 0.0}


def share_statistics(request: Request) -> Reply:
    account = _account(request, "organizationalEntity")
    days = _days(request, "timeIntervals")
    items = []
    shares = request.arg("shares")
    if shares:
        for post_id in _SHARE.findall(unquote(shares)):
            post = data.find_post("linkedin", post_id)
            for day in days:
                values = data.post_day_metrics(post, day) if post else None
                if values:
                    items.append({"organizationalEntity": f"urn:li:organization:{account}",
                                  "share": f"urn:li:share:{post_id}", "timeRange": _time_range(day),
                                  "totalShareStatistics": _share_stats(values)})
    else:
        for day in days:
            values = data.account_day("linkedin", account, day)
            items.append({"organizationalEntity": f"urn:li:organization:{account}", "timeRange": _time_range(day),
                          "totalShareStatistics": _share_stats({**values, "likes": values["impressions"] // 40,
                                                                "comments": values["impressions"] // 400,
                                                                "shares": values["impressions"] // 300,
                                                                "clicks": values["impressions"] // 90})})
    return _paged(request, items, count_path=("totalShareStatistics", "impressionCount"), required_key="timeRange")


def _content(post: data.Post) -> dict[str, Any] | None:
    if post.content_type in ("image", "video"):
        return {"media": {"id": f"urn:li:{post.content_type}:{post.post_id}", "title": post.caption}}
    if post.content_type == "link":
        return {"article": {"source": post.tracked_link or f"{data.SITE}/blog", "title": post.caption}}
    return None


def posts(request: Request) -> Reply:
    account = _account(request, "author")
    since = _from_ms(request.require("createdAfter"))
    until = _from_ms(request.require("createdBefore"))
    items = []
    for post in sorted(data.posts_between("linkedin", account, since, until), key=lambda p: p.created_at,
                       reverse=True):
        author = f"urn:li:person:emp{post.post_id[-6:]}" if post.author_type == "employee" \
            else f"urn:li:organization:{account}"
        element: dict[str, Any] = {
            "id": f"urn:li:share:{post.post_id}",
            "author": author,
            "commentary": post.caption + (f" {post.tracked_link}" if post.tracked_link else ""),
            "createdAt": ms(post.created_at),
            "publishedAt": ms(post.created_at),
            "lifecycleState": "PUBLISHED",
            "visibility": "PUBLIC",
            "adContext": {"isDsc": post.is_paid, "dscName": post.campaign if post.is_paid else None},
        }
        if (content := _content(post)) is not None:
            element["content"] = content
        items.append(element)
    return _paged(request, items, required_key="createdAt")


def lead_responses(request: Request) -> Reply:
    account = _account(request, "owner")
    found = _RANGE.search(unquote(request.require("submittedAtTimeRange")))
    if not found:
        raise ApiError(400, "submittedAtTimeRange must be (start:<ms>,end:<ms>)")
    items = [{
        "id": lead["id"],
        "submittedAt": ms(lead["submitted_at"]),
        "leadType": LEAD_TYPES.get(lead["form_name"], "SPONSORED"),
        "formName": lead["form_name"],
        "campaignName": lead["campaign"],
    } for day in data.days(_from_ms(found[1]), _from_ms(found[2])) for lead in data.leads_on("linkedin", account, day)]
    return _paged(request, items, required_key="submittedAt")


def job_application_statistics(request: Request) -> Reply:
    account = _account(request, "organization")
    items = [{"job": f"urn:li:jobPosting:{row['job_id']}", "timeRange": _time_range(day),
              "applicationCount": row["applications"], "hireCount": row["hires"]}
             for day in _days(request, "timeIntervals") for row in data.application_rows(account, day)]
    return _paged(request, items, count_path=("applicationCount",), required_key="timeRange")


def _ymd(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def ad_analytics(request: Request) -> Reply:
    account = _account(request, "accounts")
    found = _DATE_RANGE.search(unquote(request.require("dateRange")))
    if not found:
        raise ApiError(400, "dateRange must be (start:(year:,month:,day:),end:(year:,month:,day:))")
    first = date(int(found[1]), int(found[2]), int(found[3]))
    last = date(int(found[4]), int(found[5]), int(found[6]))
    items = [{
        "dateRange": {"start": _ymd(day), "end": _ymd(day)},
        "pivotValues": [f"urn:li:sponsoredCampaign:{row['campaign']}"],
        "costInLocalCurrency": f"{row['spend']:.2f}",
        "impressions": row["impressions"],
        "clicks": row["clicks"],
        "externalWebsiteConversions": row["acquisitions"],
    } for day in data.days(first, last + timedelta(1)) for row in data.ad_spend_rows("linkedin", account, day)]
    return _paged(request, items, count_path=("impressions",), required_key="dateRange")


def _route(name: str, handler: Any) -> Route:
    return Route("linkedin", "GET", re.compile(rf"/linkedin/rest/{name}"), handler)


ROUTES = [
    _route("organizationalEntityFollowerStatistics", follower_statistics),
    _route("organizationalEntityShareStatistics", share_statistics),
    _route("posts", posts),
    _route("leadFormResponses", lead_responses),
    _route("jobApplicationStatistics", job_application_statistics),
    _route("adAnalytics", ad_analytics),
]
STYLES = {"linkedin": STYLE}
