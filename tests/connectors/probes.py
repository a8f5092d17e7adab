"""One probe per connector: an entity with counts, the endpoint it calls, what a fault breaks there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
    Probe("instagram", "ig_brand", "account_daily", r"/ig_brand/insights", "values", "post", 2,
          until=date(2026, 9, 17)),
    Probe("facebook", "fb_brand", "account_daily", r"/fb_brand/insights", "values", "support_conversations", 10),
    Probe("linkedin", "li_brand", "account_daily", r"organizationalEntityFollowerStatistics", "timeRange",
          "account_daily", 1),
    Probe("tiktok", "tt_brand", "post_daily_metrics", r"/video/daily_metrics", "date", "post_daily_metrics", 3),
    Probe("x", "x_brand", "post_daily_metrics", r"/tweets/daily_metrics", "date", "post_daily_metrics", 3),
    Probe("ga4", "ga4_web", "web_sessions", r":runReport", "dimensionValues", "web_sessions", 5),
]
