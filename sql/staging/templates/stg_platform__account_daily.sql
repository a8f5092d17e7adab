-- {{ platform }} account_daily, one row per account_id, date: cast, trimmed, re-pulled duplicates removed.
{% if platform == file_drop_platform %}
-- File drops: account_id is '<network>.<account>'; int_* models map it to platform/account.
{% endif %}
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__account_daily
),

deduplicated as (
    {{ latest_row_per_key('source', 'account_daily', ['account_id', 'date']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        coalesce(report_timezone, '{{ timezone }}') as report_timezone,
        followers,
        new_followers,
        impressions,
        views,
        reach,
        profile_views,
        page_views,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
