-- {{ platform }} post, one row per account_id, post_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__post
),

deduplicated as (
    {{ latest_row_per_key('source', 'post', ['account_id', 'post_id']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        post_id,
        created_at,
        '{{ timezone }}' as report_timezone,
        cast(created_at at time zone '{{ timezone }}' as date) as created_date,
        lower(trim(content_type)) as content_type,
        is_paid,
        nullif(trim(campaign), '') as campaign,
        variant,
        partner_handle,
        lower(trim(author_type)) as author_type,
        caption,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
