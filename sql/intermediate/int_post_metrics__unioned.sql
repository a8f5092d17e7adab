-- Lifetime post-metric snapshots of every platform, conformed: one row per platform, account_id, post_id, date
-- (the UTC pull day, or the export day of a dropped post export). Values are lifetime totals as reported; nothing
-- here is summed across days. An export's snapshot and an API pull of the same post on the same day: the API
-- row wins. source_platform says where a row came from.
-- materialized: view
with unioned as not materialized (
    {{ union_staging('post_metrics') }}
),

-- not materialized: DuckDB would store a CTE read three times (api_rows_first), every row of every platform,
-- before a reader's filters apply; inlined, those filters and columns reach the staging scans (W10M's incremental
-- read of 7 pull days: 1.5 s -> 0.06 s)
conformed as not materialized (
    select
        {{ file_drops_as_networks() }}
    from unioned
),

deduplicated as (
    {{ api_rows_first('conformed', ['platform', 'account_id', 'post_id', 'date']) }}
)

select * from deduplicated
