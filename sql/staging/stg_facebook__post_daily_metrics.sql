-- facebook post_daily_metrics, one row per account_id, post_id, date: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
-- Engagement mapping (facebook): likes = all reactions, comments = comments, shares = shares, saves = none (null -> 0).
with source as (
    select * from raw.facebook__post_daily_metrics
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
        'facebook' as platform,
        account_id,
        post_id,
        date,
        coalesce(report_timezone, 'America/Los_Angeles') as report_timezone,
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
