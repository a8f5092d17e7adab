"""Platform connectors on one shared base (:mod:`pipeline.connectors.base`).

``get_connector(platform, credentials)`` returns the platform's :class:`Connector`;
``Connector.fetch(entity, account_id, since, until)`` pulls ``[since, until)`` as a canonical table;
``Connector.fetch_post_metrics(account_id, posts, pulled_at)`` the lifetime metrics of given posts as of now.
Each connector follows its platform's recorded contract: tests/fixtures/contracts/<platform>/README.md.

Which platform provides which entity (the SQL layer's staging models follow this):
  instagram  account_daily, post, post_metrics, audience_demographics
             competitor_account_daily (Business Discovery: public counts of ours and tracked competitors, now)
  facebook   account_daily, post, post_metrics, support_conversations, leads, ad_spend
  linkedin   account_daily, post, post_metrics, leads, ad_spend
             competitor_account_daily (networkSizes: followers of ours and tracked organizations, now)
  tiktok     account_daily, post, post_metrics
  x          account_daily, post, post_metrics, mentions
  ga4        web_sessions (by session source: last touch)
             web_first_touch (by first-user source: first touch)
             web_cohorts (monthly cohorts by first-user source, dated by the pull's last day)
  files      (pipeline.filedrop) account_daily, post, post_metrics, mentions, orders, competitor_account_daily
             from dropped exports (pipeline.transform.FILE_DROP_ENTITIES)
"""

from __future__ import annotations

from typing import Any

from pipeline.connectors.base import (
    AccountNotFoundError,
    AuthenticationError,
    Connector,
    ConnectorError,
    HttpPolicy,
    MalformedResponseError,
    PaginationLoopError,
    RateLimitedError,
    SchemaDriftError,
    ServerError,
    UnsupportedEntityError,
)
from pipeline.connectors.facebook import FacebookConnector
from pipeline.connectors.ga4 import GA4Connector
from pipeline.connectors.instagram import InstagramConnector
from pipeline.connectors.linkedin import LinkedInConnector
from pipeline.connectors.tiktok import TikTokConnector
from pipeline.connectors.x import XConnector
from pipeline.credentials import Credentials

CONNECTORS: dict[str, type[Connector]] = {
    cls.platform: cls for cls in (InstagramConnector, FacebookConnector, LinkedInConnector, TikTokConnector,
                                  XConnector, GA4Connector)
}


def get_connector(platform: str, credentials: Credentials, **options: Any) -> Connector:
    """The connector for ``platform``; options: ``policy=HttpPolicy(...)``, ``connection_id``, platform extras."""
    try:
        cls = CONNECTORS[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; known: {', '.join(CONNECTORS)}") from None
    return cls(credentials, **options)


def provided_entities(platform: str) -> tuple[str, ...]:
    return CONNECTORS[platform].entities()


__all__ = [
    "CONNECTORS",
    "AccountNotFoundError",
    "AuthenticationError",
    "Connector",
    "ConnectorError",
    "HttpPolicy",
    "MalformedResponseError",
    "PaginationLoopError",
    "RateLimitedError",
    "SchemaDriftError",
    "ServerError",
    "UnsupportedEntityError",
    "get_connector",
    "provided_entities",
]
