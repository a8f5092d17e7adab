-- Job applications and hires per account-day and job, conformed.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__applications
    union all by name
    select * from staging.stg_facebook__applications
    union all by name
    select * from staging.stg_tiktok__applications
    union all by name
    select * from staging.stg_linkedin__applications
    union all by name
    select * from staging.stg_x__applications
    union all by name
    select * from staging.stg_ga4__applications
),

final as (
    select * from unioned
)

select * from final
