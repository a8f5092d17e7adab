-- Orders with their customer's acquisition: one row per shop (account_id) and order. A customer is acquired by
-- their first order; the acquisition network is the first-touch UTM of that order (else of their earliest order
-- that has one: CRMs fill it in later), 'non_social' when none says a network. observed_until is the newest order
-- day of the shop's exports: the day horizons and cohort months are measured against.
-- materialized: view
-- column first_order_date: day of the customer's first order
-- column days_since_first_order: order day - first_order_date
-- column months_since_first_order: calendar months between the first order's month and this order's month
with orders as (
    {{ union_staging('orders') }}
),

customers as (
    select
        account_id,
        customer_id,
        min(date) as first_order_date,
        arg_min(first_touch_source, date) filter (where first_touch_source is not null) as first_touch_source,
        arg_min(first_touch_medium, date) filter (where first_touch_medium is not null) as first_touch_medium,
        arg_min(social_platform, date) filter (where social_platform is not null) as social_platform,
    from orders
    group by account_id, customer_id
),

final as (
    select
        orders.account_id,
        orders.order_id,
        orders.customer_id,
        orders.date,
        cast(orders.revenue as decimal(18, 4)) as revenue,
        orders.currency,
        customers.first_order_date,
        {{ acquisition_network('customers.social_platform', 'customers.first_touch_source',
                               'customers.first_touch_medium') }} as acquisition_network,
        orders.date - customers.first_order_date as days_since_first_order,
        datediff('month', customers.first_order_date, orders.date) as months_since_first_order,
        max(orders.date) over (partition by orders.account_id) as observed_until,
        orders.partition_date,
    from orders
    join customers using (account_id, customer_id)
)

select * from final
