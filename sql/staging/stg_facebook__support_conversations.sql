-- facebook support_conversations, one row per account_id, conversation_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.facebook__support_conversations
),

deduplicated as (
    {{ latest_row_per_key('source', 'support_conversations', ['account_id', 'conversation_id']) }}
),

final as (
    select
        'facebook' as platform,
        account_id,
        conversation_id,
        opened_at,
        'America/Los_Angeles' as report_timezone,
        cast(opened_at at time zone 'America/Los_Angeles' as date) as opened_date,
        first_response_at,
        agent_id,
        csat_score,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
