-- GA4 user retention by acquisition network (platform = the network of the users' first-user source), GA4
-- property (account_id), cohort month (date = first day of the month the users' first session fell in) and month n
-- (0 = that month). From the newest cohort pull (int_web_cohorts__latest).
-- column retention_rate: active_users / cohort_users x 100 (month n still running: a lower bound)
-- column month_1_cohort_users: cohort_users on the month-1 row when month 1 is complete (0 otherwise)
-- column month_1_active_users: active_users on that row (0 otherwise); likewise month_2_*, month_3_*
with cohorts as (
    select * from intermediate.int_web_cohorts__latest
),

final as (
    select
        network as platform,
        account_id,
        cohort_start as date,
        month_n,
        as_of,
        is_complete,
        cohort_users,
        active_users,
        active_users * 100.0 / nullif(cohort_users, 0) as retention_rate,
        {% for n in [1, 2, 3] %}
        case when month_n = {{ n }} and is_complete then cohort_users else 0 end as month_{{ n }}_cohort_users,
        case when month_n = {{ n }} and is_complete then active_users else 0 end as month_{{ n }}_active_users,
        {% endfor %}
    from cohorts
)

select * from final
