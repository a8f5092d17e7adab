-- facebook applications, one row per account_id, date, job_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as (
    select * from raw.facebook__applications
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, date, job_id
        order by schema_version desc, partition_date desc, hash(applications, hires) desc
    ) = 1
),

final as (
    select
        'facebook' as platform,
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
