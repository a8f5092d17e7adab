-- Lifetime post-metric snapshots of every platform, conformed: one row per platform, account_id, post_id, date
-- (the UTC pull day, or the export day of a dropped post export). Values are lifetime totals as reported; nothing
-- here is summed across days. An export's snapshot and an API pull of the same post on the same day: the API
-- row wins. source_platform says where a row came from.
-- materialized: view
with unioned as (
    {{ union_staging('post_metrics') }}
),

conformed as (
    select
        {{ file_drops_as_networks() }}
    from unioned
),

deduplicated as (
    {{ api_rows_first('conformed', ['platform', 'account_id', 'post_id', 'date']) }}
)

select * from deduplicated
