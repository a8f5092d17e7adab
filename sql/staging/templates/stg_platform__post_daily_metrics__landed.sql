{#- what each platform's native counters become (the connectors map them; documented here for the table comment) -#}
{% set engagement_mapping = {
    'instagram': 'likes = likes, comments = comments, shares = shares, saves = saved.',
    'facebook': 'likes = all reactions, comments = comments, shares = shares, saves = none (null -> 0).',
    'tiktok': 'likes = likes, comments = comments, shares = shares, saves = favourites (collects).',
    'linkedin': 'likes = reactions, comments = comments, shares = reposts, saves = none (null -> 0).',
    'x': 'likes = likes, comments = replies, shares = retweets + quotes, saves = bookmarks.',
    'ga4': 'no engagement metrics (web analytics source).',
} %}
-- {{ platform }} post_daily_metrics as landed: every row of the lake, cast and renamed, re-pulled duplicates
-- still in (staging.stg_{{ platform }}__post_daily_metrics removes them).
-- Native day: {{ timezone }}.
-- Engagement mapping ({{ platform }}): {{ engagement_mapping.get(platform, 'as landed by the connector.') }}
-- A view over the lake (DECISIONLOG "Post-day staging is a view"): the 10 M-row fact is read where it is used,
-- never copied; intermediate.int_post_metrics__summed_as_landed reads it once and finds the repeated keys on the way.
-- materialized: view
with source as (
    select * from raw.{{ platform }}__post_daily_metrics
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
    from source
)

select * from final
