-- instagram audience_demographics, one row per account_id, date, dimension, value: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as (
    select * from raw.instagram__audience_demographics
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, date, dimension, value
        order by schema_version desc, partition_date desc, hash(followers) desc
    ) = 1
),

final as (
    select
        'instagram' as platform,
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
