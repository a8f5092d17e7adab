-- {{ platform }} post_daily_metrics, one row per account_id, post_id, date: cast, trimmed, re-pulled duplicates removed.
-- Native day: {{ timezone }}. Columns and engagement mapping: staging.stg_{{ platform }}__post_daily_metrics__landed.
-- A view over the lake (DECISIONLOG "Post-day staging is a view"). A key repeats only inside its lake partition
-- (the row's date is the partition day, one file per account and day), so the dedupe is per partition_date:
-- a view over some partitions is exact. Repeated keys are found per post (365 k groups, not 10 M).
-- materialized: view
with landed as not materialized (
    select * from staging.stg_{{ platform }}__post_daily_metrics__landed
),

deduplicated as (
    {{ latest_row_per_key('landed', 'post_daily_metrics', ['account_id', 'post_id', 'date'],
                          within_partition=true, group_key=['account_id', 'post_id']) }}
)

select * from deduplicated
