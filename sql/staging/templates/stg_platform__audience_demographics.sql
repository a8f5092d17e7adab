-- {{ platform }} audience_demographics, one row per account_id, date, dimension, value: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__audience_demographics
),

deduplicated as (
    {{ latest_row_per_key('source', 'audience_demographics', ['account_id', 'date', 'dimension', 'value']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        lower(trim(dimension)) as dimension,
        value,
        followers,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
