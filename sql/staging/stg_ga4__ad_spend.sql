-- ga4 ad_spend, one row per account_id, date, campaign: cast, trimmed, re-pulled duplicates removed.
-- Native day: UTC.
with source as (
    select * from raw.ga4__ad_spend
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, date, campaign
        order by schema_version desc, partition_date desc, hash(spend, currency, impressions, clicks, acquisitions) desc
    ) = 1
),

final as (
    select
        'ga4' as platform,
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
