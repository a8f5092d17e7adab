"""One probe per connector: an entity with counts, the endpoint it calls, what a fault breaks there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class Probe:
    platform: str
    account: str
    entity: str
    path: str              # regex of the endpoint the fault is injected on
    required_field: str    # the field the missing_field fault removes there
    paged_entity: str      # an entity that needs several pages at page_size
    page_size: int
    since: date = date(2026, 9, 7)
    until: date = date(2026, 9, 10)

    def __str__(self) -> str:
        return self.platform


PROBES = [
    Probe("instagram", "ig_brand", "account_daily", r"/ig_brand/insights", "name", "post", 2,
          until=date(2026, 9, 17)),
    Probe("facebook", "fb_brand", "account_daily", r"/fb_brand/insights", "name", "ad_spend", 1),
    Probe("linkedin", "li_brand", "account_daily", r"organizationalEntityShareStatistics", "timeRange", "post", 25),
    # TikTok and X account_daily are one follower snapshot dated the UTC day before the pull (no history): the
    # window must contain yesterday (UTC)
    Probe("tiktok", "tt_brand", "account_daily", r"/user/info", "open_id", "post", 3,
          until=datetime.now(UTC).date()),
    Probe("x", "x_brand", "account_daily", r"/users/x_brand$", "id", "mentions", 10,
          since=datetime.now(UTC).date() - timedelta(days=1), until=datetime.now(UTC).date()),
    Probe("ga4", "ga4_web", "web_sessions", r":runReport", "dimensionValues", "web_sessions", 5),
]
