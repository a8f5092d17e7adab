-- ga4 web_sessions, one row per account_id, date, source, medium, campaign: cast, trimmed, re-pulled duplicates removed.
-- Native day: UTC.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.ga4__web_sessions
),

deduplicated as (
    {{ latest_row_per_key('source', 'web_sessions', ['account_id', 'date', 'source', 'medium', 'campaign']) }}
),

final as (
    select
        'ga4' as platform,
        account_id,
        date,
        coalesce(report_timezone, 'UTC') as report_timezone,
        lower(trim(source)) as source,
        lower(trim(medium)) as medium,
        nullif(trim(campaign), '') as campaign,
        social_platform,
        sessions,
        engaged_sessions,
        bounces,
        conversions,
        revenue,
        signups,
        new_customers,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
