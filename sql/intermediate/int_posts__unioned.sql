-- Posts of every platform, conformed; created_date is the platform's native day of created_at.
-- File drops ('files', account '<network>.<account>': post exports such as Meta Business Suite's) become posts of
-- their network, dated in that network's native day; when the API and an export both have a post, the API row
-- wins. source_platform says where a row came from.
-- materialized: view
-- not materialized CTEs: read several times by api_rows_first; inlined, a reader's filters reach the staging scans
-- (int_post_metrics__unioned)
with unioned as not materialized (
    {{ union_staging('post') }}
),

conformed as not materialized (
    select
        {{ file_drops_as_networks() }}
    from unioned
),

native_days as not materialized (
    select
        * replace (
            case when source_platform = '{{ file_drop_platform }}' then {{ network_timezone('platform') }}
                 else report_timezone end as report_timezone,
            case when source_platform = '{{ file_drop_platform }}'
                 then cast(created_at at time zone {{ network_timezone('platform') }} as date)
                 else created_date end as created_date
        ),
    from conformed
),

deduplicated as (
    {{ api_rows_first('native_days', ['platform', 'account_id', 'post_id']) }}
),

final as (
    select
        *,
        case when is_paid then 'paid' else 'organic' end as paid_status,
        coalesce(content_type, 'unknown') as content_type_label,
    from deduplicated
)

select * from final
