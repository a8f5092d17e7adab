-- ga4 web_first_touch, one row per account_id, date, first-user source, medium, campaign: cast, trimmed, re-pulled
-- duplicates removed. The channel is the one that FIRST acquired the user (firstUserSource/Medium/CampaignName).
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.ga4__web_first_touch
),

deduplicated as (
    {{ latest_row_per_key('source', 'web_first_touch', ['account_id', 'date', 'source', 'medium', 'campaign']) }}
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
        new_users,
        total_users,
        conversions,
        revenue,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
