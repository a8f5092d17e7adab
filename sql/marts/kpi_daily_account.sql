-- Daily account KPIs: one row per platform, account and the platform's native day (report_timezone).
-- Rates are NULL when their denominator is zero or unknown, never a division error.
-- A run recomputes the changed native days, the days around them (followers_previous_day) and the creation
-- days a re-landed post had and has (replaced_rows of the post staging tables).
-- incremental_key: platform, date
-- affected_keys: select distinct platform, date + cast(shift as integer) as date
--     from (select platform, date from _changed
--           union
--           select platform, date from intermediate.int_account_daily__unioned
--           where (source_platform, partition_date) in (select platform, date from _changed)
--           union
--           select {{ network_of('platform', 'account_id') }}, created_date from ({% for posts in staging_relations('post') %}select platform, account_id, created_date from replaced_rows({{ posts }}){{ ' union all ' if not loop.last }}{% endfor %}))
--     cross join range(-1, 2) as shifts(shift)
--     union
--     select distinct platform, date from replaced_rows(intermediate.int_post_metrics__snapshots)
-- key_filtered_inputs: intermediate.int_post_metrics__snapshots
-- key_filtered_since: partition_date >= select min(date) from _affected
-- since_filtered_inputs: intermediate.int_account_daily__unioned.date - 1, intermediate.int_posts__unioned.created_date
-- column followers: followers at the end of the native day
-- column new_followers: follows gained that day as the platform reports them (gross: unfollows not subtracted)
-- column followers_previous_day: followers at the end of the previous native day (NULL when that day is missing)
-- column net_new_followers: followers - followers_previous_day
-- column audience_growth_rate: net_new_followers / followers_previous_day x 100
-- column views: times the account's content was displayed or played that day (Meta's successor of impressions)
-- column reach: unique accounts reached that day as the platform reports it (not additive across days)
-- column posts: posts created on this native day
-- column engagements: likes + comments + shares + saves the account's posts gained by the pull on this UTC day (the
--     new_engagements of that day's lifetime snapshots; a post pulled first long after publication brings its
--     whole lifetime on its first pull day: DECISIONLOG "Lifetime snapshots")
-- column post_impressions: impressions the account's posts gained by the pull on this UTC day
-- column post_reach: reach the account's posts gained by the pull on this day (ERR denominator; an upper bound of
--     unique reach)
-- column daily_er: engagements / followers x 100
-- column err: engagements / post_reach x 100 (ratio of sums)
-- column ctr: clicks / post_impressions x 100
with account_days as (
    select * from intermediate.int_account_daily__unioned
),

post_snapshots as (
    select * from intermediate.int_post_metrics__snapshots
),

posts as (
    select * from intermediate.int_posts__unioned
),

posts_per_day as (
    select
        platform,
        account_id,
        created_date as date,
        any_value(report_timezone) as report_timezone,
        count(*) as posts,
    from posts
    group by platform, account_id, created_date
),

-- what the posts gained between pulls, dated by the (UTC) pull day that observed it
activity_per_day as (
    select
        platform,
        account_id,
        date,
        'UTC' as report_timezone,
        cast(sum(new_impressions) as bigint) as post_impressions,
        cast(sum(new_reach) as bigint) as post_reach,
        cast(sum(new_engagements) as bigint) as engagements,
        cast(sum(new_clicks) as bigint) as clicks,
        cast(sum(new_video_views) as bigint) as video_views,
    from post_snapshots
    group by platform, account_id, date
),

spine as (
    select platform, account_id, date from account_days
    union
    select platform, account_id, date from activity_per_day
    union
    select platform, account_id, date from posts_per_day
),

joined as (
    select
        spine.platform,
        spine.account_id,
        spine.date,
        coalesce(account_days.report_timezone, activity_per_day.report_timezone,
                 posts_per_day.report_timezone) as report_timezone,
        account_days.followers,
        account_days.new_followers,
        previous_day.followers as followers_previous_day,
        account_days.impressions,
        account_days.views,
        account_days.reach,
        account_days.profile_views,
        account_days.page_views,
        coalesce(posts_per_day.posts, 0) as posts,
        coalesce(activity_per_day.engagements, 0) as engagements,
        coalesce(activity_per_day.post_impressions, 0) as post_impressions,
        coalesce(activity_per_day.post_reach, 0) as post_reach,
        coalesce(activity_per_day.clicks, 0) as clicks,
        coalesce(activity_per_day.video_views, 0) as video_views,
    from spine
    left join account_days
        on account_days.platform = spine.platform
        and account_days.account_id = spine.account_id
        and account_days.date = spine.date
    left join account_days as previous_day
        on previous_day.platform = spine.platform
        and previous_day.account_id = spine.account_id
        and previous_day.date = spine.date - 1
    left join activity_per_day
        on activity_per_day.platform = spine.platform
        and activity_per_day.account_id = spine.account_id
        and activity_per_day.date = spine.date
    left join posts_per_day
        on posts_per_day.platform = spine.platform
        and posts_per_day.account_id = spine.account_id
        and posts_per_day.date = spine.date
),

final as (
    select
        platform,
        account_id,
        date,
        report_timezone,
        followers,
        new_followers,
        followers_previous_day,
        followers - followers_previous_day as net_new_followers,
        (followers - followers_previous_day) * 100.0 / nullif(followers_previous_day, 0) as audience_growth_rate,
        impressions,
        views,
        reach,
        profile_views,
        page_views,
        posts,
        engagements,
        post_impressions,
        post_reach,
        clicks,
        video_views,
        engagements * 100.0 / nullif(followers, 0) as daily_er,
        engagements * 100.0 / nullif(post_reach, 0) as err,
        clicks * 100.0 / nullif(post_impressions, 0) as ctr,
    from joined
)

select * from final
