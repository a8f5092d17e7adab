-- Weekly and monthly post rollups by platform x campaign (utm_campaign; '(none)' when untagged).
-- incremental_key: period, period_start, platform
-- affected_keys: {{ replaced_periods('audit.kpi_post', 'created_date') }}
-- key_filtered_since: period_start >= select min(period_start) from _affected
-- since_filtered_inputs: audit.kpi_post.created_date
-- column reach_upper_bound: sum of the posts' reach (people reached by two posts count twice)
-- column err_mean_of_posts: mean over posts of engagements / reach x 100
-- column err_ratio_of_sums: sum(engagements) / sum(reach) x 100
with posts as (
    select * exclude (campaign), coalesce(campaign, '(none)') as campaign
    from audit.kpi_post
    where created_date is not null
),

periods as (
    {{ weekly_and_monthly('posts', 'created_date') }}
),

final as (
    select
        period,
        period_start,
        platform,
        campaign,
        count(*) as posts,
        count(*) filter (where is_paid) as paid_posts,
        {{ post_rollup_sums() }}
        sum(clicks) * 100.0 / nullif(sum(impressions), 0) as ctr,
    from periods
    group by period, period_start, platform, campaign
)

select * from final
