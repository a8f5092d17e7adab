-- Lifetime post-metric snapshots of every platform, conformed: one row per platform, account_id, post_id, date
-- (the UTC pull day). Values are lifetime totals as reported; nothing here is summed across days.
-- materialized: view
with unioned as (
    {{ union_staging('post_metrics') }}
)

select * from unioned
