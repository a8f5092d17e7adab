-- Per-post sums of the post-day fact as landed (re-pulled duplicates included), in one scan of the lake: one
-- row per platform, account_id, post_id. Flags the posts that may hold a repeated key (rows_landed > days_seen):
-- only their rows are deduplicated (int_post_daily_metrics__repeats_deduplicated), everything else is exact as it
-- stands (DECISIONLOG "Post-day fact: one scan"). first_partition_date lets an incremental run read only the lake
-- days a post can be in.
-- incremental_key: platform, account_id, post_id
-- affected_keys: select distinct platform, account_id, post_id from intermediate.int_post_daily_metrics__landed
--     where (platform, partition_date) in (select platform, date from _changed)
--     union
--     select stored.platform, stored.account_id, stored.post_id
--     from intermediate.int_post_metrics__summed_as_landed as stored
--     semi join _changed on _changed.platform = stored.platform
--         and _changed.date between stored.first_partition_date and stored.last_partition_date
-- key_filtered_inputs: intermediate.int_post_daily_metrics__landed
-- key_filtered_since: partition_date >= select least(
--         (select min(first_partition_date) from intermediate.int_post_metrics__summed_as_landed as stored
--          semi join _affected on _affected.platform = stored.platform
--              and _affected.account_id = stored.account_id and _affected.post_id = stored.post_id),
--         (select min(date) from _changed))
-- column rows_landed: post-day rows in the lake for the post, re-pulled duplicates included
-- column days_seen: distinct days of those rows as counted by a 64-day mask (macro distinct_days_seen); below rows_landed when the post holds a repeated key (or spans over 64 days)
-- column first_partition_date: earliest lake partition holding a row of the post
-- column last_partition_date: latest lake partition holding a row of the post (re-landing a day in between recomputes it)
-- column engagements: likes + comments + shares + saves over the landed rows
with landed as (
    select * from intermediate.int_post_daily_metrics__landed
),

summed as (
    select
        platform,
        account_id,
        post_id,
        count(*) as rows_landed,
        {{ distinct_days_seen('date') }} as days_seen,
        {{ post_metric_sums() }}
    from landed
    group by platform, account_id, post_id
)

select * from summed
