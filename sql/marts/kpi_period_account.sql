-- Weekly (ISO, Monday) and monthly account rollups of kpi_daily_account, on each platform's native days.
-- Period reach: the canonical exports carry no platform period reach, so the sum of daily reach is
-- published as reach_upper_bound (unique reach over a period is at most this; never call it reach).
-- incremental_key: period, period_start, platform
-- affected_keys: {{ replaced_periods('audit.kpi_daily_account', 'date') }}
-- key_filtered_since: period_start >= select min(period_start) from _affected
-- since_filtered_inputs: audit.kpi_daily_account.date
-- column period: week | month
-- column period_start: first native day of the period (weeks start on Monday)
-- column followers_start: followers at the end of the day before the period (first day's value when missing)
-- column followers_end: followers on the last day of the period with data
-- column audience_growth_rate: (followers_end - followers_start) / followers_start x 100
-- column reach_upper_bound: sum of daily reach; an upper bound of the period's unique reach
-- column err: engagements / post_reach x 100 (ratio of sums)
-- column er_by_followers: engagements / followers_end x 100
with daily as (
    select * from audit.kpi_daily_account
),

periods as (
    {{ weekly_and_monthly('daily', 'date') }}
),

rolled as (
    select
        period,
        period_start,
        platform,
        account_id,
        any_value(report_timezone) as report_timezone,
        count(*) as days,
        coalesce(
            first(followers_previous_day order by date),
            first(followers order by date) filter (where followers is not null)
        ) as followers_start,
        last(followers order by date) filter (where followers is not null) as followers_end,
        sum(impressions) as impressions,
        sum(reach) as reach_upper_bound,
        sum(profile_views) as profile_views,
        sum(posts) as posts,
        sum(engagements) as engagements,
        sum(post_reach) as post_reach,
        sum(post_impressions) as post_impressions,
        sum(clicks) as clicks,
    from periods
    group by period, period_start, platform, account_id
),

final as (
    select
        *,
        followers_end - followers_start as net_new_followers,
        (followers_end - followers_start) * 100.0 / nullif(followers_start, 0) as audience_growth_rate,
        engagements * 100.0 / nullif(post_reach, 0) as err,
        engagements * 100.0 / nullif(followers_end, 0) as er_by_followers,
        clicks * 100.0 / nullif(post_impressions, 0) as ctr,
    from rolled
)

select * from final
