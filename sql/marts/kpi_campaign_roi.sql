-- Campaign ROI per platform x campaign over all time: spend (ad_spend) vs revenue of the sessions that
-- platform referred with the same utm_campaign (GA4's last non-direct click: last-touch attribution).
-- Last touch only here: first-touch conversions (GA4's first-user source, web_first_touch) are in
-- kpi_daily_attribution, and customers' first-touch value in kpi_customer_value.
-- column net_return: attributed_revenue - spend
-- column roi: (attributed_revenue - spend) / spend x 100
-- column revenue_per_new_customer: attributed_revenue / new_customers (a first-order CLV proxy)
with spend as (
    select platform, campaign, sum(spend) as spend, sum(acquisitions) as acquisitions,
           min(date) as first_day, max(date) as last_day
    from intermediate.int_ad_spend__unioned
    group by platform, campaign
),

attributed as (
    select network as platform, campaign, sum(sessions) as sessions, sum(conversions) as conversions,
           sum(revenue) as attributed_revenue, sum(new_customers) as new_customers
    from intermediate.int_web_sessions__unioned
    where campaign is not null
    group by network, campaign
),

final as (
    select
        spend.platform,
        spend.campaign,
        spend.first_day,
        spend.last_day,
        spend.spend,
        spend.acquisitions,
        coalesce(attributed.sessions, 0) as sessions,
        coalesce(attributed.conversions, 0) as conversions,
        coalesce(attributed.attributed_revenue, 0) as attributed_revenue,
        coalesce(attributed.new_customers, 0) as new_customers,
        coalesce(attributed.attributed_revenue, 0) - spend.spend as net_return,
        spend.spend / nullif(spend.acquisitions, 0) as cpa,
        (coalesce(attributed.attributed_revenue, 0) - spend.spend) * 100.0 / nullif(spend.spend, 0) as roi,
        attributed.attributed_revenue / nullif(attributed.new_customers, 0) as revenue_per_new_customer,
    from spend
    left join attributed
        on attributed.platform = spend.platform
        and attributed.campaign = spend.campaign
)

select * from final
