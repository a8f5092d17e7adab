-- {{ platform }} competitor_account_daily, one row per account_id, date, handle: cast, trimmed, re-pulled duplicates
-- removed. account_id is our account that observed; handle the tracked account (ours when is_own).
{% if platform == file_drop_platform %}
-- File drops: account_id is '<network>.<account>'; int_* models map it to platform/account.
{% endif %}
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__competitor_account_daily
),

deduplicated as (
    {{ latest_row_per_key('source', 'competitor_account_daily', ['account_id', 'date', 'handle']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        coalesce(report_timezone, '{{ timezone }}') as report_timezone,
        lower(trim(handle)) as handle,
        is_own,
        followers,
        posts,
        engagements,
        recent_posts,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
