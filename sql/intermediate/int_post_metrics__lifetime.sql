-- Per-post partial aggregates of the post-day fact: one row per platform, account_id, post_id with the sums
-- over the post's life, stored once so post marts never re-scan the 10 M-row fact (DECISIONLOG 2026-11-25,
-- "Materialisation"). first_partition_date lets an incremental run read only the lake days a post can be in.
-- incremental_key: platform, account_id, post_id
-- affected_keys: select distinct platform, account_id, post_id from intermediate.int_post_daily_metrics__unioned
--     where (platform, partition_date) in (select platform, date from _changed)
--     union
--     select stored.platform, stored.account_id, stored.post_id from intermediate.int_post_metrics__lifetime as stored
--     semi join _changed on _changed.platform = stored.platform
--         and _changed.date between stored.first_partition_date and stored.last_partition_date
-- key_filtered_inputs: intermediate.int_post_daily_metrics__unioned
-- key_filtered_since: partition_date >= select least(
--         (select min(first_partition_date) from intermediate.int_post_metrics__lifetime as stored
--          semi join _affected on _affected.platform = stored.platform
--              and _affected.account_id = stored.account_id and _affected.post_id = stored.post_id),
--         (select min(date) from _changed))
-- column days_with_metrics: post-day rows landed for the post
-- column first_partition_date: earliest lake partition holding a row of the post
-- column last_partition_date: latest lake partition holding a row of the post (re-landing a day in between recomputes it)
-- column engagements: likes + comments + shares + saves over the post's life
with post_days as (
    select * from intermediate.int_post_daily_metrics__unioned
),

lifetime as (
    select
        platform,
        account_id,
        post_id,
        any_value(report_timezone) as report_timezone,
        count(*) as days_with_metrics,
        min(partition_date) as first_partition_date,
        max(partition_date) as last_partition_date,
        sum(impressions) as impressions,
        sum(reach) as reach,
        sum(likes) as likes,
        sum(comments) as comments,
        sum(shares) as shares,
        sum(saves) as saves,
        sum(clicks) as clicks,
        sum(video_views) as video_views,
        sum(engagements) as engagements,
    from post_days
    group by platform, account_id, post_id
)

select * from lifetime
