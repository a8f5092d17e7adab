"""LinkedIn Marketing / Community Management API (``/rest``, Rest.li 2.0) emulation under ``/linkedin/rest``.

Serves the shapes of the recorded contract, ``tests/fixtures/contracts/linkedin/README.md``:
- envelopes ``{"paging": {"start", "count", "links"[, "total"]}, "elements": [...]}``; statistics and analytics
  finders answer one page without ``total`` (as recorded); the posts finder pages by ``start``/``count`` with
  ``total``;
- ``organizationalEntityFollowerStatistics``: with ``timeIntervals`` one element per day
  ``{organizationalEntity, timeRange, followerGains: {organicFollowerGain, paidFollowerGain}}`` (no totals); without
  it the lifetime demographic facets (empty lists, as recorded);
- ``networkSizes/<org urn>?edgeType=COMPANY_FOLLOWED_BY_MEMBER``: ``{"firstDegreeSize": n}``, the follower total at
  the end of the fake clock's yesterday (also for the demo competitors ``rivalco`` and ``globex``);
- ``organizationalEntityShareStatistics``: with ``timeIntervals`` per-day organic aggregates; with
  ``shares=List(..)``/``ugcPosts=List(..)`` and no ``timeIntervals`` LIFETIME per-post totals as of the fake
  clock (``data.post_lifetime_metrics(post, request.today)``), keyed ``share``; posts not found are omitted;
- ``posts?q=author&author=<org urn>[&sortBy=CREATED]``: newest first; ``adContext`` only on sponsored posts;
- ``leadFormResponses?q=owner&owner=(sponsoredAccount:<urn>)&leadType=(leadType:SPONSORED)
  &submittedAtTimeRange=(start:<ms>,end:<ms>)``;
- ``adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(..)&accounts=List(..)`` (end inclusive,
  cost a decimal string, only the requested ``fields`` plus ``dateRange``/``pivotValues``).
Errors: ``{"serviceErrorCode", "message", "status"}`` (+ ``"code"`` where LinkedIn sends one, e.g. ACCESS_DENIED).
Not emulated: the LinkedIn-Version header check (the shared server does not hand headers to handlers).
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
_POST_URN = re.compile(r"urn:li:(?:share|ugcPost):([A-Za-z0-9_\-]+)")
_CODES = {403: (100, "ACCESS_DENIED")}      # recorded: error_403_access_denied.json


def error_body(status: int, message: str) -> dict[str, Any]:
    """As recorded: 401 ``serviceErrorCode`` 65600, 429 101, 403 100 + ``code`` ACCESS_DENIED, 400 0."""
    service_code, code = _CODES.get(status, ({401: 65600, 429: 101}.get(status, 0), None))
    body: dict[str, Any] = {"serviceErrorCode": service_code, "message": message, "status": status}
    if code:
        body["code"] = code
    return body


STYLE = PlatformStyle(error_body=error_body)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def day_ms(day: date) -> int:
    return ms(datetime(day.year, day.month, day.day, tzinfo=data.UTC))


def _from_ms(value: str) -> date:
    return datetime.fromtimestamp(int(value) / 1000, data.UTC).date()


def _account_of(value: str) -> str:
    found = _URN.search(unquote(value))
    if not found or not data.is_demo_account("linkedin", found[1]):
        raise ApiError(404, f"Organization {value} not found")
    return found[1]


def _account(request: Request, param: str) -> str:
    return _account_of(request.require(param))


def _days(request: Request) -> list[date] | None:
    value = request.arg("timeIntervals")
    if not value:
        return None
    found = _RANGE.search(unquote(value))
    if not found or "timeGranularityType:DAY" not in value:
        raise ApiError(400, "Invalid query parameters passed to request")
    return data.days(_from_ms(found[1]), _from_ms(found[2]))


def _time_range(day: date) -> dict[str, int]:
    return {"start": day_ms(day), "end": day_ms(day + timedelta(1))}


def _one_page(items: list[dict[str, Any]], **reply: Any) -> Reply:
    """Statistics / analytics finders: everything in one page, paging without ``total`` (recorded)."""
    return Reply({"paging": {"start": 0, "count": 10, "links": []}, "elements": items}, records=items, **reply)


def _paged(request: Request, items: list[dict[str, Any]], **reply: Any) -> Reply:
    start = int(request.cursor("start") or 0)
    count = int_arg(request, "count", 10, 1000)
    page, _ = slice_page(items, start, count)
    return Reply({"paging": {"start": start, "count": count, "links": [], "total": len(items)}, "elements": page},
                 records=page, **reply)


def network_sizes(request: Request) -> Reply:
    """Our organizations and the demo competitors' (``data.COMPETITORS`` as organization ids) alike."""
    found = _URN.search(unquote(request.match[1]))
    account = found[1] if found and data.is_tracked_competitor(found[1]) else _account_of(request.match[1])
    if request.arg("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
        raise ApiError(400, "Invalid query parameters passed to request")
    return Reply({"firstDegreeSize": data.followers("linkedin", account, request.today - timedelta(1))})


def follower_statistics(request: Request) -> Reply:
    account = _account(request, "organizationalEntity")
    org = f"urn:li:organization:{account}"
    days = _days(request)
    if days is None:
        facets = ("AssociationType", "Seniority", "Industry", "Function", "StaffCountRange", "GeoCountry", "Geo")
        return _one_page([{**{f"followerCountsBy{facet}": [] for facet in facets}, "organizationalEntity": org}])
    items = []
    for day in days:
        if day >= request.today:
            break
        total, before = (data.followers("linkedin", account, d) for d in (day, day - timedelta(1)))
        organic, organic_before = int(total * 0.9), int(before * 0.9)
        items.append({"organizationalEntity": org, "timeRange": _time_range(day),
                      "followerGains": {"organicFollowerGain": organic - organic_before,
                                        "paidFollowerGain": (total - organic) - (before - organic_before)}})
    return _one_page(items, count_path=("followerGains", "organicFollowerGain"), required_key="timeRange")


def _share_stats(values: dict[str, int], *, unique: bool = True) -> dict[str, Any]:
    engaged = values["likes"] + values["comments"] + values["shares"] + values["clicks"]
    stats: dict[str, Any] = {"uniqueImpressionsCount": values["reach"]} if unique else {}
    stats.update({"shareCount": values["shares"], "engagement": round(engaged / values["impressions"], 6)
                  if values["impressions"] else 0.0, "clickCount": values["clicks"], "likeCount": values["likes"],
                  "impressionCount": values["impressions"], "commentCount": values["comments"]})
    return stats


def share_statistics(request: Request) -> Reply:
    account = _account(request, "organizationalEntity")
    org = f"urn:li:organization:{account}"
    posts = [*_POST_URN.findall(unquote(request.arg("shares") or "")),
             *_POST_URN.findall(unquote(request.arg("ugcPosts") or ""))]
    days = _days(request)
    if posts:
        if days is not None:
            raise ApiError(400, "Invalid query parameters passed to request")
        items = []
        for post_id in posts:
            post = data.find_post("linkedin", post_id)
            values = data.post_lifetime_metrics(post, request.today) if post else None
            if values:
                items.append({"totalShareStatistics": _share_stats(values), "share": f"urn:li:share:{post_id}",
                              "organizationalEntity": org})
        return _one_page(items, count_path=("totalShareStatistics", "impressionCount"))
    if days is None:
        raise ApiError(400, "Invalid query parameters passed to request")
    items = []
    for day in days:
        values = data.account_day("linkedin", account, day)
        items.append({"totalShareStatistics": _share_stats({**values, "likes": values["impressions"] // 40,
                                                            "comments": values["impressions"] // 400,
                                                            "shares": values["impressions"] // 300,
                                                            "clicks": values["impressions"] // 90}),
                      "timeRange": _time_range(day), "organizationalEntity": org})
    return _one_page(items, count_path=("totalShareStatistics", "impressionCount"), required_key="timeRange")


def _content(post: data.Post) -> dict[str, Any] | None:
    if post.content_type in ("image", "video"):
        return {"media": {"id": f"urn:li:{post.content_type}:{post.post_id}"}}
    if post.content_type == "link":
        return {"article": {"source": post.tracked_link or f"{data.SITE}/blog", "title": post.caption}}
    return None


def posts(request: Request) -> Reply:
    account = _account(request, "author")
    if request.require("q") != "author":
        raise ApiError(400, "Invalid query parameters passed to request")
    newest = min(request.today, data.DATA_END)
    items = []
    for post in sorted(data.posts_between("linkedin", account, data.DATA_START, newest + timedelta(1)),
                       key=lambda p: p.created_at, reverse=True):
        author = f"urn:li:person:emp{post.post_id[-6:]}" if post.author_type == "employee" \
            else f"urn:li:organization:{account}"
        element: dict[str, Any] = {
            "lifecycleState": "PUBLISHED",
            "lastModifiedAt": ms(post.created_at),
            "visibility": "PUBLIC",
            "publishedAt": ms(post.created_at),
            "author": author,
            "distribution": {"feedDistribution": "NONE" if post.is_paid else "MAIN_FEED",
                             "thirdPartyDistributionChannels": []},
        }
        if (content := _content(post)) is not None:
            element["content"] = content
        element.update({
            "lifecycleStateInfo": {"isEditedByAuthor": False},
            "isReshareDisabledByAuthor": False,
            "createdAt": ms(post.created_at),
            "id": f"urn:li:share:{post.post_id}",
            "commentary": post.caption + (f" {post.tracked_link}" if post.tracked_link else ""),
        })
        if post.is_paid:
            element["adContext"] = {"dscStatus": "ACTIVE", "dscAdType": "VIDEO" if post.content_type == "video"
                                    else "STANDARD", "isDsc": True,
                                    "dscAdAccount": f"urn:li:sponsoredAccount:{account}"}
        items.append(element)
    return _paged(request, items, required_key="createdAt")


def lead_responses(request: Request) -> Reply:
    account = _account(request, "owner")
    if unquote(request.require("leadType")) != "(leadType:SPONSORED)":
        raise ApiError(400, "Invalid query parameters passed to request")
    found = _RANGE.search(unquote(request.require("submittedAtTimeRange")))
    if not found:
        raise ApiError(400, "Invalid query parameters passed to request")
    start, end = int(found[1]), int(found[2])
    items = [{
        "id": lead["id"],
        "leadType": "SPONSORED",
        "form": {"leadGenFormUrn": f"urn:li:leadGenForm:{data.LEAD_FORMS.index(lead['form_name']) + 1}"},
        "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{account}"},
        "submittedAt": ms(lead["submitted_at"]),
        "formResponse": {"answers": []},
    } for day in data.days(_from_ms(found[1]), _from_ms(found[2]) + timedelta(1))
        for lead in data.leads_on("linkedin", account, day) if start <= ms(lead["submitted_at"]) < end]
    return _paged(request, items, required_key="submittedAt")


def _ymd(day: date) -> dict[str, int]:
    return {"month": day.month, "day": day.day, "year": day.year}


def ad_analytics(request: Request) -> Reply:
    account = _account(request, "accounts")
    if request.require("q") != "analytics":
        raise ApiError(400, "Invalid query parameters passed to request")
    found = _DATE_RANGE.search(unquote(request.require("dateRange")))
    if not found:
        raise ApiError(400, "Invalid query parameters passed to request")
    first = date(int(found[1]), int(found[2]), int(found[3]))
    last = date(int(found[4]), int(found[5]), int(found[6]))
    fields = set((request.arg("fields") or "").split(","))
    items = []
    for day in data.days(first, last + timedelta(1)):
        for row in data.ad_spend_rows("linkedin", account, day):
            element = {"externalWebsiteConversions": row["acquisitions"], "clicks": row["clicks"],
                       "impressions": row["impressions"], "costInLocalCurrency": f"{row['spend']:.2f}"}
            items.append({**{k: v for k, v in element.items() if k in fields},
                          "pivotValues": [f"urn:li:sponsoredCampaign:{row['campaign']}"],
                          "dateRange": {"start": _ymd(day), "end": _ymd(day)}})
    return _one_page(items, count_path=("impressions",) if "impressions" in fields else (), required_key="dateRange")


def _route(name: str, handler: Any) -> Route:
    return Route("linkedin", "GET", re.compile(rf"/linkedin/rest/{name}"), handler)


ROUTES = [
    _route("organizationalEntityFollowerStatistics", follower_statistics),
    _route("organizationalEntityShareStatistics", share_statistics),
    _route(r"networkSizes/([^/]+)", network_sizes),
    _route("posts", posts),
    _route("leadFormResponses", lead_responses),
    _route("adAnalytics", ad_analytics),
]
STYLES = {"linkedin": STYLE}
