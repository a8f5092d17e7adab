-- Account-days of every platform, conformed; each platform keeps its native day (report_timezone).
-- File drops ('files', account '<network>.<account>') become rows of that network; when an API pull and
-- a file drop both have an account-day, the API row wins. source_platform says where a row came from.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__account_daily
    union all by name
    select * from staging.stg_facebook__account_daily
    union all by name
    select * from staging.stg_tiktok__account_daily
    union all by name
    select * from staging.stg_linkedin__account_daily
    union all by name
    select * from staging.stg_x__account_daily
    union all by name
    select * from staging.stg_ga4__account_daily
    union all by name
    select * from staging.stg_files__account_daily
),

conformed as (
    select
        * replace (
            case when platform = 'files' then split_part(account_id, '.', 1) else platform end as platform,
            case when platform = 'files' then substr(account_id, strpos(account_id, '.') + 1)
                 else account_id end as account_id
        ),
        platform as source_platform,
    from unioned
),

final as (
    select * from conformed
    qualify row_number() over (
        partition by platform, account_id, date
        order by source_platform = 'files'
    ) = 1
)

select * from final
