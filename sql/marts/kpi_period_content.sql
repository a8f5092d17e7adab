-- Weekly and monthly post rollups by platform x content type x organic/paid (posts by native creation day).
-- ERR two ways: err_mean_of_posts = mean of each post's ERR (every post weighs the same; posts with zero
-- reach are left out), err_ratio_of_sums = sum of engagements / sum of reach x 100 (big posts weigh more).
-- incremental_key: period, period_start, platform
-- affected_keys: {{ replaced_periods('audit.kpi_post', 'created_date') }}
-- key_filtered_since: period_start >= select min(period_start) from _affected
-- since_filtered_inputs: audit.kpi_post.created_date
-- column reach_upper_bound: sum of the posts' reach (people reached by two posts count twice)
-- column err_mean_of_posts: mean over posts of engagements / reach x 100
-- column err_ratio_of_sums: sum(engagements) / sum(reach) x 100
-- column post_er_mean: mean over posts of engagements / followers x 100
with posts as (
    select * from audit.kpi_post where created_date is not null
),

periods as (
    {{ weekly_and_monthly('posts', 'created_date') }}
),

final as (
    select
        period,
        period_start,
        platform,
        content_type,
        paid_status,
        count(*) as posts,
        {{ post_rollup_sums() }}
        cast(avg(cast(post_er as decimal(38, 10))) as double) as post_er_mean,
        sum(clicks) * 100.0 / nullif(sum(impressions), 0) as ctr,
    from periods
    group by period, period_start, platform, content_type, paid_status
)

select * from final
