-- facebook mentions, one row per account_id, mention_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as (
    select * from raw.facebook__mentions
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, mention_id
        order by schema_version desc, partition_date desc, hash(created_at, brand, is_competitor, author_handle, author_followers, sentiment, is_ugc, hashtags, text) desc
    ) = 1
),

final as (
    select
        'facebook' as platform,
        account_id,
        mention_id,
        created_at,
        'America/Los_Angeles' as report_timezone,
        cast(created_at at time zone 'America/Los_Angeles' as date) as created_date,
        brand,
        is_competitor,
        author_handle,
        author_followers,
        lower(trim(sentiment)) as sentiment,
        is_ugc,
        hashtags,
        text,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
