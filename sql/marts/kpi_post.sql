-- Lifetime KPIs per post: its latest lifetime snapshot (never a sum of snapshots), with ERR (by reach) and post
-- ER (by followers).
-- incremental_key: platform, account_id, post_id
-- affected_keys: select platform, account_id, post_id from replaced_rows(intermediate.int_post_metrics__lifetime)
--     union
--     select platform, account_id, post_id from intermediate.int_posts__unioned
--     where (source_platform, partition_date) in (select platform, date from _changed)
--        or (platform, created_date) in (select platform, date from _changed)
--        or (platform, created_date) in (select platform, date from intermediate.int_account_daily__unioned
--                                        where (source_platform, partition_date) in (select * from _changed))
-- key_filtered_inputs: intermediate.int_posts__unioned, intermediate.int_post_metrics__lifetime
-- column snapshots: pull days with a lifetime snapshot of the post (0: no metrics pulled yet)
-- column metrics_as_of: UTC day of the snapshot these values come from (the post's latest pull)
-- column impressions: lifetime impressions as of metrics_as_of (views where the platform reports no impressions)
-- column impressions_metric: which platform metric impressions holds: impressions | views
-- column reach: lifetime unique reach as of metrics_as_of
-- column engagements: lifetime likes + comments + shares + saves as of metrics_as_of
-- column decreased_metrics: lifetime metrics the platform revised down at the latest pull (recorded, not negative)
-- column followers_at_post: account followers at the end of the post's native creation day
-- column err: engagements / reach x 100
-- column post_er: engagements / followers_at_post x 100
-- column ctr: clicks / impressions x 100
with posts as (
    select * from intermediate.int_posts__unioned
),

account_days as (
    select * from intermediate.int_account_daily__unioned
),

-- the latest snapshot per post
lifetime as (
    select * from intermediate.int_post_metrics__lifetime
),

joined as (
    select
        coalesce(posts.platform, lifetime.platform) as platform,
        coalesce(posts.account_id, lifetime.account_id) as account_id,
        coalesce(posts.post_id, lifetime.post_id) as post_id,
        posts.created_at,
        posts.created_date,
        posts.report_timezone,
        coalesce(posts.content_type, 'unknown') as content_type,
        coalesce(posts.is_paid, false) as is_paid,
        case when posts.is_paid then 'paid' else 'organic' end as paid_status,
        posts.campaign,
        posts.variant,
        posts.partner_handle,
        coalesce(posts.author_type, 'brand') as author_type,
        coalesce(lifetime.snapshots, 0) as snapshots,
        lifetime.metrics_as_of,
        lifetime.impressions_metric,
        coalesce(lifetime.impressions, 0) as impressions,
        coalesce(lifetime.reach, 0) as reach,
        coalesce(lifetime.likes, 0) as likes,
        coalesce(lifetime.comments, 0) as comments,
        coalesce(lifetime.shares, 0) as shares,
        coalesce(lifetime.saves, 0) as saves,
        coalesce(lifetime.clicks, 0) as clicks,
        coalesce(lifetime.video_views, 0) as video_views,
        coalesce(lifetime.engagements, 0) as engagements,
        lifetime.decreased_metrics,
    from posts
    full outer join lifetime
        on lifetime.platform = posts.platform
        and lifetime.account_id = posts.account_id
        and lifetime.post_id = posts.post_id
),

final as (
    select
        joined.*,
        account_days.followers as followers_at_post,
        joined.engagements * 100.0 / nullif(joined.reach, 0) as err,
        joined.engagements * 100.0 / nullif(account_days.followers, 0) as post_er,
        joined.clicks * 100.0 / nullif(joined.impressions, 0) as ctr,
    from joined
    left join account_days
        on account_days.platform = joined.platform
        and account_days.account_id = joined.account_id
        and account_days.date = joined.created_date
)

select * from final
