-- Recruiting per platform, account and native day: applications and hires over all job posts.
with applications as (
    select * from intermediate.int_applications__unioned
),

final as (
    select
        platform,
        account_id,
        date,
        count(distinct job_id) as jobs,
        coalesce(sum(applications), 0) as applications,
        coalesce(sum(hires), 0) as hires,
        sum(hires) * 100.0 / nullif(sum(applications), 0) as hire_rate,
    from applications
    group by platform, account_id, date
)

select * from final
