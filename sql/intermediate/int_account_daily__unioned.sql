-- Account-days of every platform, conformed; each platform keeps its native day (report_timezone).
-- File drops ('files', account '<network>.<account>') become rows of that network; when an API pull and
-- a file drop both have an account-day, the API row wins. source_platform says where a row came from.
-- A table, not a view: kpi_post, kpi_daily_account (twice) and their affected-keys queries read it, and the
-- API-vs-file-drop pick is a window over every account-day.
-- incremental_key: platform, date
-- affected_keys: select platform, date from _changed where platform <> '{{ file_drop_platform }}'
--     union
--     select split_part(account_id, '.', 1) as platform, date from staging.stg_{{ file_drop_platform }}__account_daily
--     where ('{{ file_drop_platform }}', partition_date) in (select platform, date from _changed)
--     union
--     select platform, date from intermediate.int_account_daily__unioned
--     where (source_platform, partition_date) in (select platform, date from _changed)
-- key_filtered_since: date >= select min(date) from _affected
-- since_filtered_inputs: {{ staging_relations('account_daily') | join('.date, ') }}.date
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
