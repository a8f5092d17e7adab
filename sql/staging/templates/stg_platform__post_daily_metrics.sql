{#- `source` is `not materialized`: the dedupe reads it three times and DuckDB would otherwise materialise it
    whole (2 M rows per platform: ~1.2 GB peak RSS at W10M, vs ~0.8 GB re-scanning the Parquet) -#}
{#- what each platform's native counters become (the connectors map them; documented here for the table comment) -#}
{% set engagement_mapping = {
    'instagram': 'likes = likes, comments = comments, shares = shares, saves = saved.',
    'facebook': 'likes = all reactions, comments = comments, shares = shares, saves = none (null -> 0).',
    'tiktok': 'likes = likes, comments = comments, shares = shares, saves = favourites (collects).',
    'linkedin': 'likes = reactions, comments = comments, shares = reposts, saves = none (null -> 0).',
    'x': 'likes = likes, comments = replies, shares = retweets + quotes, saves = bookmarks.',
    'ga4': 'no engagement metrics (web analytics source).',
} %}
-- {{ platform }} post_daily_metrics, one row per account_id, post_id, date: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
-- Engagement mapping ({{ platform }}): {{ engagement_mapping.get(platform, 'as landed by the connector.') }}
-- A view over the lake (DECISIONLOG "Post-day staging is a view"): the fact is read where it is used, never
-- copied. A key repeats only inside its lake partition (the row's date is the partition day, one file per
-- account and day), so the dedupe is per partition_date: incremental runs read only the files they need.
-- materialized: view
with source as not materialized (
    select * from raw.{{ platform }}__post_daily_metrics
),

deduplicated as (
    {{ latest_row_per_key('source', 'post_daily_metrics', ['account_id', 'post_id', 'date'], within_partition=true) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        post_id,
        date,
        coalesce(report_timezone, '{{ timezone }}') as report_timezone,
        impressions,
        reach,
        likes,
        comments,
        shares,
        saves,
        clicks,
        video_views,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
