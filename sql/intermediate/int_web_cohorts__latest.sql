-- GA4 monthly cohorts by acquisition network as of the newest pull: one row per platform, account_id,
-- cohort_start, month_n, network. A cohort's counts grow until its months are over, so the newest pull of each
-- cohort is taken (never a sum of pulls); its source/medium rows are added up per network.
-- materialized: view
-- column as_of: day of the pull the cohort's counts come from
-- column is_complete: month n of the cohort had ended by that pull (a month still running is a lower bound)
with pulls as (
    {{ union_staging('web_cohorts') }}
),

newest as (
    select
        *,
        {{ acquisition_network('social_platform', 'source', 'medium') }} as network,
    from pulls
    qualify date = max(date) over (partition by platform, account_id, cohort_start)
),

final as (
    select
        platform,
        account_id,
        cohort_start,
        month_n,
        network,
        max(date) as as_of,
        sum(cohort_users) as cohort_users,
        sum(active_users) as active_users,
        cohort_start + to_months(month_n + 1) <= max(date) + 1 as is_complete,
    from newest
    group by platform, account_id, cohort_start, month_n, network
)

select * from final
