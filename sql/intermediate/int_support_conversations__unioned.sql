-- Support conversations with first-response time in minutes.
-- materialized: view
with unioned as (
    {{ union_staging('support_conversations') }}
),

final as (
    select
        *,
        date_diff('second', opened_at, first_response_at) as first_response_seconds,
        date_diff('second', opened_at, first_response_at) / 60.0 as first_response_minutes,
    from unioned
)

select * from final
