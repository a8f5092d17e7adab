-- {{ platform }} applications, one row per account_id, date, job_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__applications
),

deduplicated as (
    {{ latest_row_per_key('source', 'applications', ['account_id', 'date', 'job_id']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        date,
        job_id,
        applications,
        hires,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
