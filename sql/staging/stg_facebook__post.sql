-- facebook post, one row per account_id, post_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as (
    select * from raw.facebook__post
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, post_id
        order by schema_version desc, partition_date desc, hash(created_at, content_type, is_paid, campaign, variant, partner_handle, author_type, caption) desc
    ) = 1
),

final as (
    select
        'facebook' as platform,
        account_id,
        post_id,
        created_at,
        'America/Los_Angeles' as report_timezone,
        cast(created_at at time zone 'America/Los_Angeles' as date) as created_date,
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
