-- files orders (a shop / CRM export dropped in the inbox), one row per account_id (the shop), date, order_id:
-- cast, trimmed, a re-dropped export's duplicates removed. The order's day is its partition, so a key repeats only
-- inside one partition.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.files__orders
),

deduplicated as (
    {{ latest_row_per_key('source', 'orders', ['account_id', 'date', 'order_id'], within_partition=true) }}
),

final as (
    select
        'files' as platform,
        account_id,
        date,
        trim(order_id) as order_id,
        trim(customer_id) as customer_id,
        revenue,
        upper(nullif(trim(currency), '')) as currency,
        nullif(lower(trim(first_touch_source)), '') as first_touch_source,
        nullif(lower(trim(first_touch_medium)), '') as first_touch_medium,
        nullif(trim(first_touch_campaign), '') as first_touch_campaign,
        social_platform,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
