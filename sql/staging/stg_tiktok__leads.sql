-- tiktok leads, one row per account_id, date, campaign, lead_type: cast, trimmed, re-pulled duplicates removed.
-- Native day: UTC.
with source as (
    select * from raw.tiktok__leads
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, date, campaign, lead_type
        order by schema_version desc, partition_date desc, hash(leads) desc
    ) = 1
),

final as (
    select
        'tiktok' as platform,
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
