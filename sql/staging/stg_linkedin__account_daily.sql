-- linkedin account_daily, one row per account_id, date: cast, trimmed, re-pulled duplicates removed.
-- Native day: UTC.
with source as (
    select * from raw.linkedin__account_daily
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, date
        order by schema_version desc, partition_date desc, hash(report_timezone, followers, impressions, reach, profile_views, page_views) desc
    ) = 1
),

final as (
    select
        'linkedin' as platform,
        account_id,
        date,
        coalesce(report_timezone, 'UTC') as report_timezone,
        followers,
        impressions,
        reach,
        profile_views,
        page_views,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
