"""LinkedIn Marketing / Community Management API connector (``/rest``, Rest.li 2.0, version pinned).

Every call sends ``LinkedIn-Version: <api_version>`` (option ``api_version``, default :data:`API_VERSION`) and
``X-Restli-Protocol-Version: 2.0.0``. Rest.li 2.0 values (``List(..)``, ``(key:value)`` records) are written into
the query string as LinkedIn documents them: parentheses, commas and colons literal, URNs inside them
percent-encoded. The contract (recorded responses, docs pages, what is and is not verified) is
``tests/fixtures/contracts/linkedin/README.md``.

Endpoints used:
- ``organizationalEntityFollowerStatistics?q=organizationalEntity&organizationalEntity=<org urn>&timeIntervals=
  (timeRange:(start:<ms>,end:<ms>),timeGranularityType:DAY)``: time-bound elements carry ``followerGains``
  (``organicFollowerGain``/``paidFollowerGain``) per ``timeRange``; no follower totals (lifetime calls return
  demographic facets only and "no longer return totalFollowerCounts").
- ``networkSizes/<org urn>?edgeType=COMPANY_FOLLOWED_BY_MEMBER``: ``firstDegreeSize``, the follower total now.
  account_daily.followers at the end of day D = that total minus the gains reported for the days after D up to
  yesterday; None when any of those days has no reported gain (never guessed).
- ``organizationalEntityShareStatistics`` with ``timeIntervals``: per-day organic aggregate
  (``totalShareStatistics.impressionCount`` -> impressions, ``uniqueImpressionsCount`` -> reach when sent);
  without ``timeIntervals`` and with ``shares=List(..)`` / ``ugcPosts=List(..)``: LIFETIME per-post statistics
  (elements keyed ``share`` / ``ugcPost``) -> post_metrics. Organic only, rolling 12 months.
- ``posts?q=author&author=<org urn>&sortBy=CREATED``: newest first, ``start``/``count`` paging, read until a
  post older than the window; ``adContext.isDsc`` marks sponsored (dark) posts, a ``urn:li:person`` author an
  employee's post.
- ``leadFormResponses?q=owner&owner=(sponsoredAccount:<urn>)&leadType=(leadType:SPONSORED)
  &submittedAtTimeRange=(start:<ms>,end:<ms>)``: one element per submission, counted per day and lead type.
- ``adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(..),end:(..))
  &accounts=List(<sponsoredAccount urn>)&fields=..``: ``dateRange`` end inclusive, cost a decimal string.
- ``networkSizes/<org urn>?edgeType=COMPANY_FOLLOWED_BY_MEMBER`` again for our organization and each
  ``options.competitors`` organization id -> ``competitor_account_daily`` (followers now, dated ``snapshot_day``;
  the docs give no admin role for this call, unlike the statistics finders). No documented endpoint gives another
  organization's posts or engagement: posts and engagements stay None.
Job-application statistics are not a documented organization endpoint: the ``applications`` entity is gone.

Paging: Rest.li ``paging`` is ``{start, count, links[, total]}``; statistics and analytics finders answer one
page without ``total`` (recorded), the posts finder pages by ``start``/``count`` (see :class:`RestliPaging`).
Errors: ``{"status", "serviceErrorCode", "code"?, "message"}`` (``code`` absent in older recorded bodies),
classified by :meth:`LinkedInConnector.classify_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit

from pipeline.connectors.base import (
    AuthenticationError,
    BadRequestError,
    Connector,
    ConnectorError,
    Paging,
    PermissionDeniedError,
    PostRef,
    RateLimitedError,
    _retry_after_seconds,
    as_amount,
    as_count,
    from_epoch,
    reason,
)
from pipeline.connectors.utm import count_leads, utm_from_text

API_VERSION = "202603"          # LinkedIn-Version the contract README was checked against (li-lms-2026-03 docs)
STATS_PER_CALL = 20             # post URNs per share-statistics call
POST_KNOWN = frozenset({"author", "commentary", "publishedAt", "lastModifiedAt", "lifecycleState", "visibility",
                        "distribution", "content", "lifecycleStateInfo", "isReshareDisabledByAuthor", "adContext",
                        "reshareContext", "contentLandingPage", "contentCallToActionLabel"})
SHARE_STAT_KNOWN = frozenset({"organizationalEntity", "share", "ugcPost", "timeRange", "totalShareStatistics"})
FOLLOWER_STAT_KNOWN = frozenset({"organizationalEntity", "timeRange", "followerGains"})
LEAD_KNOWN = frozenset({"leadType", "form", "owner", "formResponse", "versionedLeadGenFormUrn", "testLead",
                        "ownerInfo", "associatedEntityInfo", "leadMetadataInfo", "associatedEntity"})
AD_FIELDS = ("dateRange", "pivotValues", "costInLocalCurrency", "impressions", "clicks", "externalWebsiteConversions")
# LinkedIn's lifetime share statistics -> canonical post_metrics columns; the platform reports no views/saves
# and no video views here (None, never 0).
POST_METRIC_KEYS = (("impressions", "impressionCount"), ("reach", "uniqueImpressionsCount"),
                    ("likes", "likeCount"), ("comments", "commentCount"), ("shares", "shareCount"),
                    ("clicks", "clickCount"))


def epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def urn(value: str) -> str:
    """A URN inside a Rest.li 2.0 value: percent-encoded (``urn%3Ali%3Ashare%3A1``)."""
    return quote(value, safe="")


def time_intervals(since: date, until: date) -> str:
    return f"(timeRange:(start:{epoch_ms(since)},end:{epoch_ms(until)}),timeGranularityType:DAY)"


def _ymd(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def restli_path(path: str, **query: str) -> str:
    """``path?k=v&..`` with Rest.li values kept as written (the caller encodes URNs inside them)."""
    return path + "?" + "&".join(f"{key}={value}" for key, value in query.items())


@dataclass(frozen=True)
class RestliPaging(Paging):
    """Rest.li ``start``/``count``: follow a ``paging.links`` ``rel: next`` when sent, else ``start + count``
    while below ``paging.total``; a page without ``total`` and without a next link is the last (statistics and
    analytics finders answer this way, recorded in follower_statistics_lifetime.json)."""

    records_key: tuple[str, ...] = ("elements",)

    def apply(self, params: dict[str, Any], body: dict[str, Any] | None, cursor: Any) -> None:
        params["start"] = cursor

    def next_cursor(self, page: dict[str, Any], params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        paging = self.paging_object(page)
        if paging is None:
            return None
        for link in paging.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
                start = dict(parse_qsl(urlsplit(str(link["href"])).query)).get("start")
                if start is not None:
                    return int(start)
        if paging.get("total") is None:
            return None
        start, count = int(paging.get("start") or 0), int(paging.get("count") or 0)
        if count <= 0 or not page.get("elements"):
            return None
        following = start + count
        return following if following < int(paging["total"]) else None


class LinkedInConnector(Connector):
    platform = "linkedin"
    ENTITIES: ClassVar[dict[str, str]] = {"account_daily": "account_daily", "post": "posts", "post_metrics": "post_metrics",
                                          "leads": "leads", "ad_spend": "ad_spend",
                                          "competitor_account_daily": "competitor_account_daily"}
    API_PREFIX = "/linkedin/rest"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.api_version = str(self.options.get("api_version") or API_VERSION)
        self.extra_headers = {"LinkedIn-Version": self.api_version, "X-Restli-Protocol-Version": "2.0.0"}

    # -- errors --

    def classify_error(self, status: int, payload: Any, headers: Any) -> ConnectorError | None:
        body = payload if isinstance(payload, dict) else {}
        code = str(body.get("code") or "")
        message = self.redact(str(body.get("message") or "no message"), limit=120)
        said = f"LinkedIn: {message} [{body.get('serviceErrorCode')}{' ' + code if code else ''}]"
        if status == 429:
            wait = headers.get("Retry-After") if headers is not None else None
            return RateLimitedError(self.failure(f"rate limited (429, daily limits reset 00:00 UTC); {said}"),
                                    retry_after=_retry_after_seconds(wait) if wait is not None else None)
        if status == 401:
            return AuthenticationError(self.failure(f"token invalid, expired or revoked (401): renew it; {said}"))
        if status == 403:
            return PermissionDeniedError(self.failure(f"permission denied (403): missing scope or page role; "
                                                      f"{said}"))
        if status in (400, 422):
            return BadRequestError(self.failure(f"parameter rejected ({status}); {said}"))
        if status == 426:
            return BadRequestError(self.failure(f"LinkedIn-Version {self.api_version} not served (426): raise "
                                                f"api_version; {said}"))
        return None                 # 404 and 5xx: the base's generic handling (account not found, retried 5xx)

    # -- helpers --

    def organization(self, account_id: str) -> str:
        return f"urn:li:organization:{account_id}"

    def ad_account(self, account_id: str) -> str:
        return f"urn:li:sponsoredAccount:{self.options.get('ad_account_id', account_id)}"

    def elements(self, resource: str, where: str, *, required: Sequence[str], known: frozenset[str],
                 page_size: bool = False, **query: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"count": self.policy.page_size} if page_size else {}
        return [self.parse_record(element, where, required=required, known=known)
                for element in self.records("GET", restli_path(f"{self.prefix}/{resource}", **query),
                                            RestliPaging(), params=params)]

    def day_of(self, element: dict[str, Any], where: str) -> date:
        start = (element.get("timeRange") or {}).get("start")
        return self.parse_time(start, f"{where}.timeRange", lambda v: from_epoch(v, millis=True)).date()

    # -- entities --

    def network_size(self, organization_id: str) -> Any:
        """``networkSizes/<org urn>?edgeType=COMPANY_FOLLOWED_BY_MEMBER``: the organization's followers now."""
        return self.parse_record(self.get(f"{self.prefix}/networkSizes/{urn(self.organization(organization_id))}",
                                          {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}),
                                 "network sizes", known={"firstDegreeSize"}).get("firstDegreeSize")

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        org = urn(self.organization(account_id))
        today = datetime.now(UTC).date()
        problems_total: list[str] = []
        total = as_count(self.network_size(account_id), "followers", problems_total)
        gains: dict[date, int | None] = {}
        end = max(until, today)
        for element in self.elements("organizationalEntityFollowerStatistics", "follower statistics",
                                     required=("timeRange",), known=FOLLOWER_STAT_KNOWN,
                                     q="organizationalEntity", organizationalEntity=org,
                                     timeIntervals=time_intervals(since, end)):
            day = self.day_of(element, "follower statistics")
            found = element.get("followerGains") or {}
            organic = as_count(found.get("organicFollowerGain"), "follower gain", [])
            paid = as_count(found.get("paidFollowerGain"), "follower gain", [])
            gains[day] = organic + paid if organic is not None and paid is not None else None
        rows: dict[date, dict[str, Any]] = {}
        for day in (since + timedelta(days=n) for n in range((until - since).days)):
            if day >= today:
                break
            later = [gains.get(day + timedelta(days=n)) for n in range(1, (today - day).days)]
            followers = None if total is None or any(g is None for g in later) else total - sum(later)  # type: ignore[arg-type]
            if day in gains or followers is not None:
                rows[day] = {"followers": followers, "problems": list(problems_total)}
        for element in self.elements("organizationalEntityShareStatistics", "share statistics",
                                     required=("timeRange",), known=SHARE_STAT_KNOWN,
                                     q="organizationalEntity", organizationalEntity=org,
                                     timeIntervals=time_intervals(since, until)):
            row = rows.setdefault(self.day_of(element, "share statistics"), {"followers": None, "problems": []})
            stats = element.get("totalShareStatistics") or {}
            for column, key in (("impressions", "impressionCount"), ("reach", "uniqueImpressionsCount")):
                row[column] = as_count(stats.get(key), column, row["problems"])
                if row[column] is not None and row[column] < 0:
                    row["problems"].append(f"negative {column} {row[column]}")
        return [{"date": day, **{k: v for k, v in row.items() if k != "problems"},
                 "quarantine_reason": reason(row["problems"])}
                for day, row in sorted(rows.items())]

    def competitor_account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        """Followers of our organization and of each tracked competitor organization, as of now."""
        day = self.snapshot_day()
        if not since <= day < until:
            return []
        rows = []
        for handle in dict.fromkeys((account_id, *(str(c) for c in self.options.get("competitors") or ()))):
            problems: list[str] = []
            try:
                followers = as_count(self.network_size(handle), "followers", problems)
            except PermissionDeniedError as exc:
                raise PermissionDeniedError(f"{exc}; tracked organization {handle}: drop it from sources.yml "
                                            "options.competitors") from None
            rows.append({"date": day, "handle": handle, "is_own": handle == account_id, "followers": followers,
                         "posts": None, "engagements": None, "recent_posts": None,
                         "quarantine_reason": reason(problems)})
        return rows

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        path = restli_path(f"{self.prefix}/posts", q="author", author=urn(self.organization(account_id)),
                           sortBy="CREATED")
        for page in self.pages("GET", path, RestliPaging(), params={"count": self.policy.page_size}):
            older = False
            for element in page.get("elements") or []:
                element = self.parse_record(element, "posts", required=("id", "createdAt"), known=POST_KNOWN)
                created = self.parse_time(element["createdAt"], "posts.createdAt",
                                          lambda v: from_epoch(v, millis=True))
                if created.date() < since:
                    older = True
                    continue
                if created.date() >= until:
                    continue
                rows.append(self._post_row(element, created))
            if older:
                break
        return rows

    def _post_row(self, element: dict[str, Any], created: datetime) -> dict[str, Any]:
        content = element.get("content") or {}
        media_id = str((content.get("media") or {}).get("id") or "")
        kind = "link" if "article" in content else "carousel" if "multiImage" in content else \
            "video" if ":video:" in media_id else "image" if ":image:" in media_id else "text"
        ad_context = element.get("adContext") or {}
        commentary = element.get("commentary")
        utm = utm_from_text(commentary or (content.get("article") or {}).get("source"))
        return {
            "post_id": element["id"],
            "created_at": created,
            "content_type": kind,
            "is_paid": bool(ad_context.get("isDsc")),
            "campaign": utm.get("campaign"),
            "variant": utm.get("content"),
            "partner_handle": None,
            "author_type": "employee" if str(element.get("author") or "").startswith("urn:li:person:") else "brand",
            "caption": commentary,
        }

    def post_metrics(self, account_id: str, posts: Sequence[PostRef]) -> list[dict[str, Any]]:
        """LIFETIME organic statistics of exactly ``posts`` (no ``timeIntervals``), batched by URN kind."""
        org = urn(self.organization(account_id))
        by_kind: dict[str, list[str]] = {"shares": [], "ugcPosts": []}
        for post in posts:
            by_kind["ugcPosts" if post.post_id.startswith("urn:li:ugcPost:") else "shares"].append(post.post_id)
        found: dict[str, dict[str, Any]] = {}
        for param, ids in by_kind.items():
            for start in range(0, len(ids), STATS_PER_CALL):
                batch = ids[start:start + STATS_PER_CALL]
                for element in self.elements("organizationalEntityShareStatistics", "share statistics",
                                             required=(), known=SHARE_STAT_KNOWN, q="organizationalEntity",
                                             organizationalEntity=org,
                                             **{param: f"List({','.join(urn(i) for i in batch)})"}):
                    post_id = element.get("share") or element.get("ugcPost")
                    if post_id:
                        found[str(post_id)] = element.get("totalShareStatistics") or {}
        rows = []
        for post in posts:
            stats, problems = found.get(post.post_id), []
            values = {column: as_count(stats.get(key), column, problems) if stats is not None else None
                      for column, key in POST_METRIC_KEYS}
            problems += [f"negative {c} {v}" for c, v in values.items() if v is not None and v < 0]
            rows.append({"post_id": post.post_id, **values, "views": None, "saves": None, "video_views": None,
                         "quarantine_reason": reason(problems)})
        return rows

    def leads(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        submissions = []
        for element in self.elements(
                "leadFormResponses", "lead form responses", required=("id", "submittedAt"), known=LEAD_KNOWN,
                page_size=True, q="owner", owner=f"(sponsoredAccount:{urn(self.ad_account(account_id))})",
                leadType="(leadType:SPONSORED)",
                submittedAtTimeRange=f"(start:{epoch_ms(since)},end:{epoch_ms(until)})"):
            if element.get("testLead") is True:
                continue
            day = self.parse_time(element["submittedAt"], "lead form responses.submittedAt",
                                  lambda v: from_epoch(v, millis=True)).date()
            lead_type = "event_registration" if element.get("leadType") == "EVENT" else "lead_form"
            submissions.append((day, None, lead_type))
        return count_leads(submissions)

    def ad_spend(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        for element in self.elements(
                "adAnalytics", "ad analytics", required=("dateRange",), known=frozenset(AD_FIELDS),
                q="analytics", pivot="CAMPAIGN", timeGranularity="DAILY",
                dateRange=f"(start:{_ymd(since)},end:{_ymd(until - timedelta(days=1))})",
                accounts=f"List({urn(self.ad_account(account_id))})", fields=",".join(AD_FIELDS)):
            start = (element.get("dateRange") or {}).get("start") or {}
            try:
                day = date(start["year"], start["month"], start["day"])
            except (KeyError, TypeError, ValueError):
                day = self.parse_time(None, "ad analytics.dateRange").date()
            problems: list[str] = []
            rows.append({
                "date": day,
                "campaign": str((element.get("pivotValues") or [""])[0]).rpartition(":")[2],
                "spend": as_amount(element.get("costInLocalCurrency"), "spend", problems),
                "currency": self.options.get("currency"),
                "impressions": as_count(element.get("impressions"), "impressions", problems),
                "clicks": as_count(element.get("clicks"), "clicks", problems),
                "acquisitions": as_count(element.get("externalWebsiteConversions"), "acquisitions", problems),
                "quarantine_reason": reason(problems),
            })
        return rows
