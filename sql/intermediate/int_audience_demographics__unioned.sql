-- Followers by demographic dimension per account-day, conformed.
-- materialized: view
with unioned as (
    {{ union_staging('audience_demographics') }}
),

final as (
    select * from unioned
)

select * from final
