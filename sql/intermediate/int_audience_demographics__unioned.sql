-- Followers by demographic dimension per account-day, conformed.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__audience_demographics
    union all by name
    select * from staging.stg_facebook__audience_demographics
    union all by name
    select * from staging.stg_tiktok__audience_demographics
    union all by name
    select * from staging.stg_linkedin__audience_demographics
    union all by name
    select * from staging.stg_x__audience_demographics
    union all by name
    select * from staging.stg_ga4__audience_demographics
),

final as (
    select * from unioned
)

select * from final
