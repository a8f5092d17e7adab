-- {{ platform }} ad_spend, one row per account_id, date, campaign: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__ad_spend
),

deduplicated as (
    {{ latest_row_per_key('source', 'ad_spend', ['account_id', 'date', 'campaign']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        campaign,
        spend,
        currency,
        impressions,
        clicks,
        acquisitions,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
