-- ga4 post_daily_metrics, one row per account_id, post_id, date: cast, trimmed, re-pulled duplicates removed.
-- Native day: UTC.
-- Engagement mapping (ga4): no engagement metrics (web analytics source).
with source as (
    select * from raw.ga4__post_daily_metrics
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, post_id, date
        order by schema_version desc, partition_date desc, hash(report_timezone, impressions, reach, likes, comments, shares, saves, clicks, video_views) desc
    ) = 1
),

final as (
    select
        'ga4' as platform,
        account_id,
        post_id,
        date,
        coalesce(report_timezone, 'UTC') as report_timezone,
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
