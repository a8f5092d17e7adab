-- The post-day rows of the posts int_post_metrics__summed_as_landed flags (rows_landed > days_seen), one row per
-- platform, account_id, post_id, date: re-pulled duplicates removed as in staging. Usually empty, and then the
-- lake is not scanned (an empty semi-join side); small otherwise, so readers of the post-day fact never run the
-- dedupe window themselves. An incremental run recomputes the flagged posts whose days cover a changed partition,
-- flagged before the run or after it (the keys of a query reading a table refreshed in the run are taken both
-- times, so a post whose repeat went away is recomputed too): usually none, and then the model is not touched.
-- incremental_key: platform, account_id, post_id
-- affected_keys: select platform, account_id, post_id from intermediate.int_post_metrics__summed_as_landed as current
--     where rows_landed > days_seen
--         and exists (select 1 from _changed where _changed.platform = current.platform
--                     and _changed.date between current.first_partition_date and current.last_partition_date)
-- key_filtered_inputs: intermediate.int_post_daily_metrics__landed
-- key_filtered_since: partition_date >= select least(
--         (select min(first_partition_date) from intermediate.int_post_metrics__summed_as_landed as stored
--          semi join _affected on _affected.platform = stored.platform
--              and _affected.account_id = stored.account_id and _affected.post_id = stored.post_id),
--         (select min(date) from _changed))
with landed as (
    select * from intermediate.int_post_daily_metrics__landed
),

flagged_posts as (
    select platform, account_id, post_id
    from intermediate.int_post_metrics__summed_as_landed
    where rows_landed > days_seen
),

deduplicated as (
    {{ repeated_rows_deduplicated('landed', 'post_daily_metrics', ['platform', 'account_id', 'post_id', 'date'],
                                  'flagged_posts', ['platform', 'account_id', 'post_id'], within_partition=true) }}
)

select * from deduplicated
