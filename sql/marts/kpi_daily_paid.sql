-- Paid media per platform, account and native day: spend, acquisitions and CPA (one currency per account).
-- column cpa: spend / acquisitions
-- column cpc: spend / paid_clicks
with spend as (
    select * from intermediate.int_ad_spend__unioned
),

final as (
    select
        platform,
        account_id,
        date,
        min(currency) as currency,
        count(distinct currency) as currencies,
        coalesce(sum(spend), 0) as spend,
        coalesce(sum(impressions), 0) as paid_impressions,
        coalesce(sum(clicks), 0) as paid_clicks,
        coalesce(sum(acquisitions), 0) as acquisitions,
        sum(spend) / nullif(sum(acquisitions), 0) as cpa,
        sum(spend) / nullif(sum(clicks), 0) as cpc,
        sum(clicks) * 100.0 / nullif(sum(impressions), 0) as paid_ctr,
    from spend
    group by platform, account_id, date
)

select * from final
