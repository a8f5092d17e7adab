"""Canonical entities: the one shape every connector lands, whatever the platform.

Each entity has an explicit column list and pyarrow schema (``schema_for``). Connectors map platform payloads onto these
columns; landing refuses a table that does not match (schema drift is an error, not a guess).
``schema_version`` is written into every row so staging can read old and new partitions.

Days: ``date`` columns are the platform's *native* reporting day (Facebook/Instagram insights cut
days in US Pacific time; LinkedIn, X, TikTok and GA4 in UTC). ``report_timezone`` records which,
so cross-platform rollups can say how they align (see DECISIONLOG.md). Timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = 2     # 2: post_metrics (lifetime snapshots) replaced post_daily_metrics; account_daily.views

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


@dataclass(frozen=True)
class Column:
    """One canonical column. ``type`` names an Arrow type (see ``ARROW_TYPES``); plain data, so a process
    that only needs names and types (the DuckDB transform) does not load pyarrow (~70 MB RSS)."""

    name: str
    type: str
    nullable: bool = True


# type name -> (pyarrow type factory, DuckDB type)
ARROW_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "varchar"),
    "int64": ("int64", "bigint"),
    "int16": ("int16", "smallint"),
    "float64": ("float64", "double"),
    "bool": ("bool_", "boolean"),
    "date32": ("date32", "date"),
    "timestamp": ("timestamp", "timestamptz"),        # microseconds, UTC
}

_COMMON = (Column("platform", "string", nullable=False), Column("account_id", "string", nullable=False))
_VERSION = (Column("schema_version", "int16", nullable=False),)


def _schema(*columns: Column) -> tuple[Column, ...]:
    return (*_COMMON, *columns, *_VERSION)


ENTITY_COLUMNS: dict[str, tuple[Column, ...]] = {
    # One row per account per native day.
    "account_daily": _schema(
        Column("date", "date32", nullable=False),
        Column("report_timezone", "string", nullable=False),
        Column("followers", "int64"),                     # followers at end of day
        Column("new_followers", "int64"),                 # follows gained that day (IG follower_count, LinkedIn
                                                          # "Total followers" of its export): gross, not net
        Column("impressions", "int64"),
        Column("views", "int64"),                         # Meta's successor of impressions (Graph v22.0+)
        Column("reach", "int64"),                         # unique accounts reached that day (not additive)
        Column("profile_views", "int64"),
        Column("page_views", "int64"),
    ),
    # One row per post (latest known attributes).
    "post": _schema(
        Column("post_id", "string", nullable=False),
        Column("created_at", "timestamp", nullable=False),
        Column("content_type", "string"),                 # image | video | reel | story | carousel | text | link
        Column("is_paid", "bool"),
        Column("campaign", "string"),                     # utm_campaign / campaign name
        Column("variant", "string"),                      # A/B test variant label, when the post is part of a test
        Column("partner_handle", "string"),               # influencer partnership tag
        Column("author_type", "string"),                  # brand | employee | ugc | partner
        Column("caption", "string"),
    ),
    # Lifetime totals of one post as the platform reported them when pulled: one row per post per pull day
    # (the UTC day of the pull; a second pull the same day replaces the first). Never summed: SQL derives daily
    # increments from consecutive snapshots and post KPIs take the latest (DECISIONLOG "Lifetime snapshots").
    # NULL = the platform does not report that metric (or omitted it), never zero.
    "post_metrics": _schema(
        Column("post_id", "string", nullable=False),
        Column("date", "date32", nullable=False),         # UTC day of the pull
        Column("impressions", "int64"),
        Column("views", "int64"),                         # Meta / TikTok "views" (successor of impressions, plays)
        Column("reach", "int64"),
        Column("likes", "int64"),
        Column("comments", "int64"),
        Column("shares", "int64"),
        Column("saves", "int64"),
        Column("clicks", "int64"),
        Column("video_views", "int64"),
    ),
    # Followers by one demographic dimension on one day.
    "audience_demographics": _schema(
        Column("date", "date32", nullable=False),
        Column("dimension", "string", nullable=False),    # age | gender | country
        Column("value", "string", nullable=False),
        Column("followers", "int64"),
    ),
    # Brand and competitor mentions. account_id = the listening account (our brand's).
    "mentions": _schema(
        Column("mention_id", "string", nullable=False),
        Column("created_at", "timestamp", nullable=False),
        Column("brand", "string", nullable=False),        # the brand mentioned (ours or a competitor)
        Column("is_competitor", "bool", nullable=False),
        Column("author_handle", "string"),
        Column("author_followers", "int64"),
        Column("sentiment", "string"),                    # positive | neutral | negative (from the export)
        Column("is_ugc", "bool"),
        Column("hashtags", "string"),                     # space-separated, lowercase, without '#'
        Column("text", "string"),
    ),
    # Messenger / inbox conversations.
    "support_conversations": _schema(
        Column("conversation_id", "string", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("first_response_at", "timestamp"),
        Column("agent_id", "string"),
        Column("csat_score", "int16"),                    # 1..5 when the customer answered the survey
    ),
    # Web analytics report rows (GA4-style) by day x source/medium/campaign.
    "web_sessions": _schema(
        Column("date", "date32", nullable=False),
        Column("report_timezone", "string", nullable=False),
        Column("source", "string", nullable=False),
        Column("medium", "string", nullable=False),
        Column("campaign", "string"),
        Column("social_platform", "string"),              # network parsed from source/medium (null = not social)
        Column("sessions", "int64"),
        Column("engaged_sessions", "int64"),
        Column("bounces", "int64"),
        Column("conversions", "int64"),
        Column("revenue", "float64"),
        Column("signups", "int64"),
        Column("new_customers", "int64"),
    ),
    "ad_spend": _schema(
        Column("date", "date32", nullable=False),
        Column("campaign", "string", nullable=False),
        Column("spend", "float64"),
        Column("currency", "string"),
        Column("impressions", "int64"),
        Column("clicks", "int64"),
        Column("acquisitions", "int64"),
    ),
    "leads": _schema(
        Column("date", "date32", nullable=False),
        Column("campaign", "string"),
        Column("lead_type", "string", nullable=False),    # lead_form | gated_download | webinar | newsletter | event_registration
        Column("leads", "int64"),
    ),
    "applications": _schema(
        Column("date", "date32", nullable=False),
        Column("job_id", "string", nullable=False),
        Column("applications", "int64"),
        Column("hires", "int64"),
    ),
    # Public counts of the tracked accounts (ours and competitors') seen by one of our accounts (account_id): one
    # row per tracked account per snapshot day. Every row, ours included, is read through the same public endpoint
    # (IG business_discovery, LinkedIn networkSizes) so shares compare like with like (DECISIONLOG "Audience share").
    "competitor_account_daily": _schema(
        Column("date", "date32", nullable=False),         # the day the counts stand for (snapshot_day of the pull)
        Column("report_timezone", "string", nullable=False),
        Column("handle", "string", nullable=False),       # IG username / LinkedIn organization id of the tracked account
        Column("is_own", "bool", nullable=False),         # our brand's account (true) or a competitor (false)
        Column("followers", "int64"),                     # followers as of the pull
        Column("posts", "int64"),                         # published posts in total (IG media_count)
        Column("engagements", "int64"),                   # likes + comments, as of the pull, of the posts published in
                                                          # the 28 days up to `date` (NULL: not reported)
        Column("recent_posts", "int64"),                  # how many posts those engagements are on
    ),
    # GA4 report rows by day x FIRST-user source/medium/campaign (first-touch attribution: the channel that first
    # acquired the user); web_sessions holds the same metrics by session source (last touch). Issue #24.
    "web_first_touch": _schema(
        Column("date", "date32", nullable=False),
        Column("report_timezone", "string", nullable=False),
        Column("source", "string", nullable=False),       # firstUserSource
        Column("medium", "string", nullable=False),       # firstUserMedium
        Column("campaign", "string"),                     # firstUserCampaignName
        Column("social_platform", "string"),              # network parsed from source/medium (null = not social)
        Column("new_users", "int64"),
        Column("total_users", "int64"),                   # distinct users of the day: not additive across days
        Column("conversions", "int64"),                   # keyEvents of users first acquired by this channel
        Column("revenue", "float64"),                     # totalRevenue of those users
    ),
    # GA4 monthly cohorts (users grouped by first session month) by acquisition channel, as of one pull: one row
    # per pull day x cohort x month n x first-user source/medium. Counts of a cohort grow until its months are
    # over, so staging keeps the latest pull (like post_metrics snapshots).
    "web_cohorts": _schema(
        Column("date", "date32", nullable=False),         # the pull's day (last day of the pulled window)
        Column("report_timezone", "string"),              # null: the reply had no metadata.timeZone (see ga4.py)
        Column("cohort_start", "date32", nullable=False),  # first day of the cohort's month (firstSessionDate range)
        Column("month_n", "int64", nullable=False),        # cohortNthMonth: 0 = the acquisition month
        Column("source", "string", nullable=False),       # firstUserSource
        Column("medium", "string", nullable=False),       # firstUserMedium
        Column("social_platform", "string"),
        Column("cohort_users", "int64"),                  # cohortTotalUsers: users of the cohort
        Column("active_users", "int64"),                  # cohortActiveUsers: of them, active in month n
    ),
    # Orders from a shop / CRM export (the inbox, platform=files): one row per order. The customer's first-touch
    # UTM, when the shop records it, says which channel acquired the customer. Issue #24.
    "orders": _schema(
        Column("date", "date32", nullable=False),         # the order's day in the export's time zone
        Column("order_id", "string", nullable=False),
        Column("customer_id", "string", nullable=False),
        Column("revenue", "float64"),                     # order value (net of refunds when the export says so)
        Column("currency", "string"),
        Column("first_touch_source", "string"),           # utm_source of the customer's first visit
        Column("first_touch_medium", "string"),
        Column("first_touch_campaign", "string"),
        Column("social_platform", "string"),              # network parsed from the first-touch UTM (null = not social)
    ),
}

ENTITIES = tuple(ENTITY_COLUMNS)


def columns_for(entity: str) -> tuple[Column, ...]:
    try:
        return ENTITY_COLUMNS[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; known entities: {', '.join(ENTITIES)}") from None


def duckdb_type(column: Column) -> str:
    return ARROW_TYPES[column.type][1]


@cache
def schema_for(entity: str) -> pa.Schema:
    """The entity's pyarrow schema (built on first use)."""
    import pyarrow as pa

    def arrow_type(name: str) -> pa.DataType:
        factory = ARROW_TYPES[name][0]
        return pa.timestamp("us", tz="UTC") if factory == "timestamp" else getattr(pa, factory)()

    return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in columns_for(entity)])


def __getattr__(name: str) -> Any:
    # ENTITY_SCHEMAS (entity -> pyarrow schema) is built when first asked for, not at import
    if name == "ENTITY_SCHEMAS":
        return {entity: schema_for(entity) for entity in ENTITIES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
