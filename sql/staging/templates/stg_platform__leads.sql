-- {{ platform }} leads, one row per account_id, date, campaign, lead_type: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__leads
),

deduplicated as (
    {{ latest_row_per_key('source', 'leads', ['account_id', 'date', 'campaign', 'lead_type']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        nullif(trim(campaign), '') as campaign,
        lower(trim(lead_type)) as lead_type,
        leads,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
