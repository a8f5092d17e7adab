-- Paid-media spend per account-day and campaign, conformed.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__ad_spend
    union all by name
    select * from staging.stg_facebook__ad_spend
    union all by name
    select * from staging.stg_tiktok__ad_spend
    union all by name
    select * from staging.stg_linkedin__ad_spend
    union all by name
    select * from staging.stg_x__ad_spend
    union all by name
    select * from staging.stg_ga4__ad_spend
),

final as (
    -- money as DECIMAL: sums are exact whatever the order rows are added in
    select * replace (cast(spend as decimal(18, 4)) as spend)
    from unioned
)

select * from final
