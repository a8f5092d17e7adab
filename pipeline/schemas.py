"""Canonical entities: the one shape every connector lands, whatever the platform.

Each entity has an explicit pyarrow schema. Connectors map platform payloads onto these
columns; landing refuses a table that does not match (schema drift is an error, not a guess).
``schema_version`` is written into every row so staging can read old and new partitions.

Days: ``date`` columns are the platform's *native* reporting day (Facebook/Instagram insights cut
days in US Pacific time; LinkedIn, X, TikTok and GA4 in UTC). ``report_timezone`` records which,
so cross-platform rollups can say how they align (see DECISIONLOG.md). Timestamps are UTC.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

PLATFORMS = ("instagram", "facebook", "tiktok", "linkedin", "x", "ga4")

# Native reporting day per platform (documented in DECISIONLOG.md).
PLATFORM_TIMEZONES = {
    "instagram": "America/Los_Angeles",
    "facebook": "America/Los_Angeles",
    "tiktok": "UTC",
    "linkedin": "UTC",
    "x": "UTC",
    "ga4": "UTC",
    "files": "UTC",
}

_TS = pa.timestamp("us", tz="UTC")

_COMMON = [
    pa.field("platform", pa.string(), nullable=False),
    pa.field("account_id", pa.string(), nullable=False),
]
_VERSION = [pa.field("schema_version", pa.int16(), nullable=False)]


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*_COMMON, *fields, *_VERSION])


ENTITY_SCHEMAS: dict[str, pa.Schema] = {
    # One row per account per native day.
    "account_daily": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("report_timezone", pa.string(), nullable=False),
        pa.field("followers", pa.int64()),          # followers at end of day
        pa.field("impressions", pa.int64()),
        pa.field("reach", pa.int64()),              # unique accounts reached that day (not additive)
        pa.field("profile_views", pa.int64()),
        pa.field("page_views", pa.int64()),
    ),
    # One row per post (latest known attributes).
    "post": _schema(
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("created_at", _TS, nullable=False),
        pa.field("content_type", pa.string()),      # image | video | reel | story | carousel | text | link
        pa.field("is_paid", pa.bool_()),
        pa.field("campaign", pa.string()),          # utm_campaign / campaign name
        pa.field("variant", pa.string()),           # A/B test variant label, when the post is part of a test
        pa.field("partner_handle", pa.string()),    # influencer partnership tag
        pa.field("author_type", pa.string()),       # brand | employee | ugc | partner
        pa.field("caption", pa.string()),
    ),
    # One row per post per native day.
    "post_daily_metrics": _schema(
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("report_timezone", pa.string(), nullable=False),
        pa.field("impressions", pa.int64()),
        pa.field("reach", pa.int64()),
        pa.field("likes", pa.int64()),
        pa.field("comments", pa.int64()),
        pa.field("shares", pa.int64()),
        pa.field("saves", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("video_views", pa.int64()),
    ),
    # Followers by one demographic dimension on one day.
    "audience_demographics": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("dimension", pa.string(), nullable=False),   # age | gender | country
        pa.field("value", pa.string(), nullable=False),
        pa.field("followers", pa.int64()),
    ),
    # Brand and competitor mentions. account_id = the listening account (our brand's).
    "mentions": _schema(
        pa.field("mention_id", pa.string(), nullable=False),
        pa.field("created_at", _TS, nullable=False),
        pa.field("brand", pa.string(), nullable=False),       # the brand mentioned (ours or a competitor)
        pa.field("is_competitor", pa.bool_(), nullable=False),
        pa.field("author_handle", pa.string()),
        pa.field("author_followers", pa.int64()),
        pa.field("sentiment", pa.string()),                   # positive | neutral | negative (from the export)
        pa.field("is_ugc", pa.bool_()),
        pa.field("hashtags", pa.string()),                    # space-separated, lowercase, without '#'
        pa.field("text", pa.string()),
    ),
    # Messenger / inbox conversations.
    "support_conversations": _schema(
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("opened_at", _TS, nullable=False),
        pa.field("first_response_at", _TS),
        pa.field("agent_id", pa.string()),
        pa.field("csat_score", pa.int16()),                   # 1..5 when the customer answered the survey
    ),
    # Web analytics report rows (GA4-style) by day x source/medium/campaign.
    "web_sessions": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("report_timezone", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("medium", pa.string(), nullable=False),
        pa.field("campaign", pa.string()),
        pa.field("social_platform", pa.string()),             # network parsed from source/medium (null = not social)
        pa.field("sessions", pa.int64()),
        pa.field("engaged_sessions", pa.int64()),
        pa.field("bounces", pa.int64()),
        pa.field("conversions", pa.int64()),
        pa.field("revenue", pa.float64()),
        pa.field("signups", pa.int64()),
        pa.field("new_customers", pa.int64()),
    ),
    "ad_spend": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign", pa.string(), nullable=False),
        pa.field("spend", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("acquisitions", pa.int64()),
    ),
    "leads": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign", pa.string()),
        pa.field("lead_type", pa.string(), nullable=False),   # lead_form | gated_download | webinar | newsletter | event_registration
        pa.field("leads", pa.int64()),
    ),
    "applications": _schema(
        pa.field("date", pa.date32(), nullable=False),
        pa.field("job_id", pa.string(), nullable=False),
        pa.field("applications", pa.int64()),
        pa.field("hires", pa.int64()),
    ),
}

ENTITIES = tuple(ENTITY_SCHEMAS)


def schema_for(entity: str) -> pa.Schema:
    try:
        return ENTITY_SCHEMAS[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; known entities: {', '.join(ENTITIES)}") from None
