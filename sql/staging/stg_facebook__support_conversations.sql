-- facebook support_conversations, one row per account_id, conversation_id: cast, trimmed, re-pulled duplicates removed.
-- Native day: America/Los_Angeles.
with source as (
    select * from raw.facebook__support_conversations
),

deduplicated as (
    -- a re-pulled export lands a key twice: keep the newest schema; the row hash makes the pick deterministic
    select * from source
    qualify row_number() over (
        partition by account_id, conversation_id
        order by schema_version desc, partition_date desc, hash(opened_at, first_response_at, agent_id, csat_score) desc
    ) = 1
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
