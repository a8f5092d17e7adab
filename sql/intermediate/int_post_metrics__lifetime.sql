-- Per-post lifetime sums of the post-day fact, one row per platform, account_id, post_id (DECISIONLOG
-- "Materialisation"): the sums as landed, or, for a post holding a repeated key, the sums of its deduplicated
-- rows. A view over two stored tables (365 k rows and the few repeats), so post marts never re-scan the fact.
-- materialized: view
-- column rows_landed: post-day rows in the lake for the post, re-pulled duplicates included
-- column days_with_metrics: post-day rows of the post once duplicates are removed
-- column first_partition_date: earliest lake partition holding a row of the post
-- column last_partition_date: latest lake partition holding a row of the post
-- column engagements: likes + comments + shares + saves over the post's life
with summed_as_landed as (
    select * from intermediate.int_post_metrics__summed_as_landed
),

repeat_sums as (
    select
        platform,
        account_id,
        post_id,
        count(*) as days_with_metrics,
        {{ post_metric_sums() }}
    from intermediate.int_post_daily_metrics__repeats_deduplicated
    group by platform, account_id, post_id
),

lifetime as (
    select * exclude (days_seen), rows_landed as days_with_metrics
    from summed_as_landed
    anti join repeat_sums using (platform, account_id, post_id)
    union all by name
    select repeat_sums.*, summed_as_landed.rows_landed
    from repeat_sums
    join summed_as_landed using (platform, account_id, post_id)
)

select
    platform,
    account_id,
    post_id,
    report_timezone,
    rows_landed,
    days_with_metrics,
    first_partition_date,
    last_partition_date,
    impressions,
    reach,
    likes,
    comments,
    shares,
    saves,
    clicks,
    video_views,
    engagements,
from lifetime
