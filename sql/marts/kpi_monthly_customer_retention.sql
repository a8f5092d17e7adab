-- Customer retention from mapped order exports, by acquisition network (platform = the network of the customer's
-- first-touch UTM, 'non_social' when none), shop (account_id), cohort month (date = first day of the month of the
-- customers' first order) and month n (0 = that month; n = calendar months later). A customer is retained in month
-- n when they order in it. Months run up to the shop's newest order day (observed_until).
-- column cohort_customers: customers whose first order fell in the cohort month
-- column active_customers: of them, customers with an order in month n
-- column retention_rate: active_customers / cohort_customers x 100 (month n still running: a lower bound)
-- column is_complete: month n had ended by observed_until
-- column month_1_cohort_customers: cohort_customers on the month-1 row when month 1 is complete (0 otherwise)
-- column month_1_active_customers: active_customers on that row (0 otherwise); likewise month_2_*, month_3_*
with orders as (
    select * from intermediate.int_orders__customers
),

customers as (
    select
        account_id,
        acquisition_network,
        customer_id,
        cast(date_trunc('month', first_order_date) as date) as cohort_month,
        max(observed_until) as observed_until,
    from orders
    group by account_id, acquisition_network, customer_id, first_order_date
),

cohorts as (
    select
        account_id, acquisition_network, cohort_month,
        count(*) as cohort_customers,
        max(observed_until) as observed_until,
    from customers
    group by account_id, acquisition_network, cohort_month
),

cohort_months as (
    select *, unnest(range(0, datediff('month', cohort_month, observed_until) + 1)) as month_n
    from cohorts
),

active as (
    select
        account_id, acquisition_network,
        cast(date_trunc('month', first_order_date) as date) as cohort_month,
        months_since_first_order as month_n,
        count(distinct customer_id) as active_customers,
    from orders
    group by all
),

final as (
    select
        cohort_months.acquisition_network as platform,
        cohort_months.account_id,
        cohort_months.cohort_month as date,
        cohort_months.month_n,
        cohort_months.observed_until,
        cohort_months.cohort_month + to_months(cohort_months.month_n + 1)
            <= cohort_months.observed_until + 1 as is_complete,
        cohort_months.cohort_customers,
        coalesce(active.active_customers, 0) as active_customers,
        coalesce(active.active_customers, 0) * 100.0 / cohort_months.cohort_customers as retention_rate,
        {% for n in [1, 2, 3] %}
        case when cohort_months.month_n = {{ n }} and is_complete then cohort_months.cohort_customers else 0 end
            as month_{{ n }}_cohort_customers,
        case when cohort_months.month_n = {{ n }} and is_complete then coalesce(active.active_customers, 0) else 0
            end as month_{{ n }}_active_customers,
        {% endfor %}
    from cohort_months
    left join active using (account_id, acquisition_network, cohort_month, month_n)
)

select * from final
