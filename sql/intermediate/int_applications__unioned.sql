-- Job applications and hires per account-day and job, conformed.
-- materialized: view
with unioned as (
    {{ union_staging('applications') }}
),

final as (
    select * from unioned
)

select * from final
