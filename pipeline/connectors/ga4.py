"""Google Analytics 4 Data API connector: ``runReport`` rows -> web_sessions (UTC days).

One report per window: dimensions date, sessionSource, sessionMedium, sessionCampaignName; metrics
sessions, engagedSessions, keyEvents (-> conversions), totalRevenue, ``keyEvents:sign_up``
(-> signups), firstTimePurchasers (-> new_customers). GA4 counts a bounce as a session that was not
engaged, so bounces = sessions - engaged_sessions. ``social_platform`` is parsed from the
source/medium (``l.instagram.com`` -> instagram, ``lnkd.in`` -> linkedin, ``t.co`` -> x, ...);
``(not set)`` campaigns land as null. Paging: ``offset``/``limit`` against ``rowCount``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pipeline.connectors.base import Connector, OffsetPaging, SchemaDriftError, as_amount, as_count, reason
from pipeline.connectors.utm import platform_from_source

DIMENSIONS = {"date": "date", "sessionSource": "source", "sessionMedium": "medium", "sessionCampaignName": "campaign"}
METRICS = {"sessions": "sessions", "engagedSessions": "engaged_sessions", "keyEvents": "conversions",
           "totalRevenue": "revenue", "keyEvents:sign_up": "signups", "firstTimePurchasers": "new_customers"}
NOT_SET = ("(not set)", "")


class GA4Connector(Connector):
    platform = "ga4"
    ENTITIES = {"web_sessions": "web_sessions"}
    API_PREFIX = "/ga4/v1beta"

    def web_sessions(self, account_id: str, since: date, until: date) -> list[dict[str, Any]]:
        body = {
            "dateRanges": [{"startDate": since.isoformat(), "endDate": (until - timedelta(days=1)).isoformat()}],
            "dimensions": [{"name": name} for name in DIMENSIONS],
            "metrics": [{"name": name} for name in METRICS],
            "limit": self.policy.page_size, "offset": 0,
        }
        paging = OffsetPaging()
        rows = []
        for page in self.pages("POST", f"{self.prefix}/properties/{account_id}:runReport", paging, body=body):
            self.check_headers(page)
            for record in paging.records(page):
                rows.append(self.session_row(record))
        return rows

    def check_headers(self, page: dict[str, Any]) -> None:
        dimensions = [h.get("name") for h in page.get("dimensionHeaders") or []]
        metrics = [h.get("name") for h in page.get("metricHeaders") or []]
        if page.get("rows") and (dimensions != list(DIMENSIONS) or metrics != list(METRICS)):
            raise SchemaDriftError(f"ga4: schema drift in report headers: expected {list(DIMENSIONS)} + "
                                   f"{list(METRICS)}, got {dimensions} + {metrics}")

    def session_row(self, record: Any) -> dict[str, Any]:
        self.check_fields(record, "rows", {"dimensionValues", "metricValues"})
        dimension_values = [self.check_fields(v, "rows.dimensionValues", {"value"})["value"]
                            for v in record["dimensionValues"]]
        metric_values = [self.check_fields(v, "rows.metricValues", {"value"})["value"] for v in record["metricValues"]]
        if len(dimension_values) != len(DIMENSIONS) or len(metric_values) != len(METRICS):
            raise SchemaDriftError("ga4: schema drift in rows: value count does not match the headers")
        dims = dict(zip(DIMENSIONS.values(), dimension_values))
        problems: list[str] = []
        values = {column: (as_amount if column == "revenue" else as_count)(raw, column, problems)
                  for column, raw in zip(METRICS.values(), metric_values)}
        try:
            day = datetime.strptime(dims["date"], "%Y%m%d").date()
        except (TypeError, ValueError):
            raise SchemaDriftError(f"ga4: schema drift in rows: bad date {dims['date']!r}") from None
        sessions, engaged = values["sessions"], values["engaged_sessions"]
        campaign = None if dims["campaign"] in NOT_SET else dims["campaign"]
        return {
            "date": day,
            "source": dims["source"],
            "medium": dims["medium"],
            "campaign": campaign,
            "social_platform": platform_from_source(dims["source"], dims["medium"], campaign),
            **values,
            "bounces": sessions - engaged if sessions is not None and engaged is not None else None,
            "quarantine_reason": reason(problems),
        }
