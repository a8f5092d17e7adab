-- Paid-media spend per account-day and campaign, conformed.
-- materialized: view
with unioned as (
    {{ union_staging('ad_spend') }}
),

final as (
    -- money as DECIMAL: sums are exact whatever the order rows are added in
    select * replace (cast(spend as decimal(18, 4)) as spend)
    from unioned
)

select * from final
