-- Customer value of social-acquired customers per acquisition network (platform) and acquisition day (date = the
-- customers' first order day), from mapped order exports, beside the network's ad spend (int_ad_spend__unioned).
-- CLV = revenue of a customer's orders in the 90 days from their first order (days 0-89), counted only for
-- customers whose 90 days had passed by the shop's newest order day (matured); CAC = spend / new customers.
-- Days with spend and no customers have NULL CLV and CAC, never 0. Customers whose first touch is not a social
-- network are left out (DECISIONLOG "Customer value from social").
-- column new_customers: customers whose first order was that day
-- column matured_customers: of them, customers whose 90-day horizon had ended by observed_until
-- column horizon_revenue: revenue of matured customers' orders in their first 90 days
-- column clv_90d: horizon_revenue / matured_customers
-- column spend: ad spend of the network that day (all ad accounts)
-- column matured_spend: spend of days whose 90-day horizon had ended (the spend that bought matured customers)
-- column cac: spend / new_customers
-- column paid_horizon_revenue: horizon_revenue on days within the network's ad spend data (its first to last
--     spend day; 0 elsewhere): the numerator of CLV:CAC, so customers of days or networks without spend data do
--     not inflate it
-- column paid_new_customers: new_customers on days within the network's ad spend data (0 elsewhere): the
--     denominator of CAC, so a network without spend data has no CAC rather than 0
-- column clv_to_cac: horizon_revenue / matured_spend (= clv_90d / CAC of the matured days)
with orders as (
    select * from intermediate.int_orders__customers
    where acquisition_network <> 'non_social'
),

customers as (
    select
        acquisition_network as platform,
        account_id,
        customer_id,
        first_order_date as date,
        max(observed_until) as observed_until,
        coalesce(sum(revenue) filter (where days_since_first_order < 90), 0) as horizon_revenue,
    from orders
    group by acquisition_network, account_id, customer_id, first_order_date
),

acquired as (
    select
        platform,
        date,
        count(*) as new_customers,
        count(*) filter (where date + 89 <= observed_until) as matured_customers,
        coalesce(sum(horizon_revenue) filter (where date + 89 <= observed_until), 0) as horizon_revenue,
    from customers
    group by platform, date
),

observed as (
    -- the days the order exports cover: spend outside them bought customers no export shows
    select min(date) as first_day, max(observed_until) as observed_until from intermediate.int_orders__customers
),

spend as (
    select platform, date, sum(spend) as spend
    from intermediate.int_ad_spend__unioned
    where date between (select first_day from observed) and (select observed_until from observed)
    group by platform, date
),

joined as (
    select
        platform,
        date,
        acquired.new_customers,
        acquired.matured_customers,
        acquired.horizon_revenue,
        spend.spend,
        date + 89 <= observed.observed_until as is_matured_day,
        -- the network's spend data covers this day (a network we buy no ads on has none)
        coalesce(date between min(spend.date) over (partition by platform)
                          and max(spend.date) over (partition by platform), false) as within_spend_data,
    from acquired
    full outer join spend using (platform, date)
    cross join observed
),

final as (
    select
        platform,
        date,
        coalesce(new_customers, 0) as new_customers,
        coalesce(matured_customers, 0) as matured_customers,
        coalesce(horizon_revenue, 0) as horizon_revenue,
        horizon_revenue / nullif(matured_customers, 0) as clv_90d,
        coalesce(spend, 0) as spend,
        case when is_matured_day then coalesce(spend, 0) else 0 end as matured_spend,
        spend / nullif(new_customers, 0) as cac,
        case when within_spend_data then coalesce(new_customers, 0) else 0 end as paid_new_customers,
        case when within_spend_data then coalesce(horizon_revenue, 0) else 0 end as paid_horizon_revenue,
        horizon_revenue / nullif(case when is_matured_day then spend end, 0) as clv_to_cac,
    from joined
)

select * from final
