-- ga4 web_cohorts: every pull's monthly cohort rows, one per account_id, pull day (date), cohort_start, month_n,
-- first-user source, medium. A pull lands in its own day's partition, so a key repeats only inside one partition;
-- int_web_cohorts__latest keeps the newest pull of each cohort cell.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.ga4__web_cohorts
),

deduplicated as (
    {{ latest_row_per_key('source', 'web_cohorts', ['account_id', 'date', 'cohort_start', 'month_n', 'source',
                                                    'medium'], within_partition=true) }}
),

final as (
    select
        'ga4' as platform,
        account_id,
        date,
        report_timezone,  -- null when GA4's cohort reply did not name it (connector logs it)
        cohort_start,
        month_n,
        lower(trim(source)) as source,
        lower(trim(medium)) as medium,
        social_platform,
        cohort_users,
        active_users,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
