-- Account-days of every platform, conformed; each platform keeps its native day (report_timezone).
-- File drops ('files', account '<network>.<account>') become rows of that network; when an API pull and
-- a file drop both have an account-day, the API row wins. source_platform says where a row came from.
-- materialized: view
with unioned as (
    {{ union_staging('account_daily') }}
),

conformed as (
    select
        {{ file_drops_as_networks() }}
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
