"""Shared Meta Graph API (v21.0) client logic for the Instagram and Facebook connectors.

Insights come as ``{"name", "period", "values": [{"value", "end_time"}]}``; ``end_time`` is the end
of the native (US Pacific) day, so the row's ``date`` is the Pacific date one second before it.
Lists use ``data[]`` + ``paging.cursors.after``/``paging.next``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pipeline.connectors.base import (POST_LOOKBACK, Connector, GraphCursorPaging, as_count,
                                      native_day_spill, reason)
from pipeline.schemas import PLATFORM_TIMEZONES

INSIGHT_FIELDS = frozenset({"name", "period", "values"})
INSIGHT_OPTIONAL = frozenset({"title", "description", "id"})
VALUE_FIELDS = frozenset({"value", "end_time"})


class GraphConnector(Connector):
    """Subclasses set the metric -> column maps, the post edge and ``post_row``."""

    ACCOUNT_METRICS: ClassVar[dict[str, str]]
    POST_METRICS: ClassVar[dict[str, str]]
    POSTS_EDGE: ClassVar[str]
    POST_FIELDS: ClassVar[frozenset[str]]
    POST_OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(PLATFORM_TIMEZONES[self.platform])

    def native_day(self, end_time: Any, where: str) -> date:
        moment = self.parse_time(end_time, where)
        return (moment - timedelta(seconds=1)).astimezone(self.zone).date()

    def insights(self, node: str, metrics: dict[str, str], since: date, until: date,
                 period: str = "day") -> dict[date, dict[str, Any]]:
        """``{native day: {column: raw value}}`` for the requested metrics."""
        payload = self.get(f"{self.prefix}/{node}/insights", {
            "metric": ",".join(metrics), "period": period, "since": since.isoformat(), "until": until.isoformat()})
        by_day: dict[date, dict[str, Any]] = {}
        for insight in GraphCursorPaging().records(payload):
            self.check_fields(insight, "insights", INSIGHT_FIELDS, INSIGHT_OPTIONAL)
            column = metrics.get(insight["name"])
            if column is None:
                continue
            for value in insight["values"]:
                self.check_fields(value, f"insights.{insight['name']}.values", VALUE_FIELDS)
                day = self.native_day(value["end_time"], f"insights.{insight['name']}")
                by_day.setdefault(day, {})[column] = value["value"]
        return by_day

    @staticmethod
    def counted(values: dict[str, Any]) -> dict[str, Any]:
        problems: list[str] = []
        row = {column: as_count(value, column, problems) for column, value in values.items()}
        return {**row, "quarantine_reason": reason(problems)}

    def account_daily(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        by_day = self.insights(account_id, self.ACCOUNT_METRICS, since, until)
        return [{"date": day, **self.counted(values)} for day, values in sorted(by_day.items())]

    def post_list(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        """Canonical post rows created in ``[since, until)`` (UTC days)."""
        rows = []
        params = {"since": since.isoformat(), "until": until.isoformat(), "limit": self.policy.page_size,
                  "fields": ",".join(sorted(self.POST_FIELDS | self.POST_OPTIONAL))}
        for record in self.records("GET", f"{self.prefix}/{account_id}/{self.POSTS_EDGE}", GraphCursorPaging(),
                                   params=params):
            self.check_fields(record, self.POSTS_EDGE, self.POST_FIELDS, self.POST_OPTIONAL)
            rows.append(self.post_row(record))
        return rows

    def post_row(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def posts(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        return self.post_list(account_id, since, until)

    def post_daily_metrics(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        rows = []
        # a post created early on UTC day `until` may have metrics on native day `until - 1`
        for post in self.post_list(account_id, since - POST_LOOKBACK, until + native_day_spill(self.platform)):
            by_day = self.insights(post["post_id"], self.POST_METRICS, since, until)
            rows.extend({"post_id": post["post_id"], "date": day, **self.counted(values)}
                        for day, values in sorted(by_day.items()))
        return rows

    def created(self, record: dict[str, Any], key: str) -> datetime:
        return self.parse_time(record[key], f"{self.POSTS_EDGE}.{key}")
