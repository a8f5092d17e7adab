-- {{ platform }} mentions, one row per account_id, mention_id, brand (a post naming two tracked brands is a mention of
-- each): cast, trimmed, re-pulled duplicates removed.
{% if platform == file_drop_platform %}
-- File drops: account_id is '<network>.<account>'; int_* models map it to platform/account.
{% endif %}
-- Native day: {{ timezone }}.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__mentions
),

deduplicated as (
    {{ latest_row_per_key('source', 'mentions', ['account_id', 'mention_id', 'brand']) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        mention_id,
        created_at,
        '{{ timezone }}' as report_timezone,
        cast(created_at at time zone '{{ timezone }}' as date) as created_date,
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
