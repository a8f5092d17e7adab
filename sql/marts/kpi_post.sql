-- Lifetime KPIs per post: sums of its post-day metrics, with ERR (by reach) and post ER (by followers).
-- incremental_key: platform, account_id, post_id
-- affected_keys: select platform, account_id, post_id from replaced_rows(intermediate.int_post_metrics__summed_as_landed)
--     union
--     select platform, account_id, post_id from intermediate.int_posts__unioned
--     where (platform, partition_date) in (select platform, date from _changed)
--        or (platform, created_date) in (select platform, date from _changed)
--        or (platform, created_date) in (select platform, date from intermediate.int_account_daily__unioned
--                                        where (source_platform, partition_date) in (select * from _changed))
-- key_filtered_inputs: intermediate.int_posts__unioned, intermediate.int_post_metrics__lifetime
-- column reach: sum of the post's daily reach (connectors land the daily increment of lifetime reach)
-- column engagements: likes + comments + shares + saves over the post's life
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

-- sums over the post's days, pre-aggregated once per post (the mart never re-scans the post-day fact)
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
        coalesce(posts.report_timezone, lifetime.report_timezone) as report_timezone,
        coalesce(posts.content_type, 'unknown') as content_type,
        coalesce(posts.is_paid, false) as is_paid,
        case when posts.is_paid then 'paid' else 'organic' end as paid_status,
        posts.campaign,
        posts.variant,
        posts.partner_handle,
        coalesce(posts.author_type, 'brand') as author_type,
        coalesce(lifetime.days_with_metrics, 0) as days_with_metrics,
        coalesce(lifetime.impressions, 0) as impressions,
        coalesce(lifetime.reach, 0) as reach,
        coalesce(lifetime.likes, 0) as likes,
        coalesce(lifetime.comments, 0) as comments,
        coalesce(lifetime.shares, 0) as shares,
        coalesce(lifetime.saves, 0) as saves,
        coalesce(lifetime.clicks, 0) as clicks,
        coalesce(lifetime.video_views, 0) as video_views,
        coalesce(lifetime.engagements, 0) as engagements,
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
