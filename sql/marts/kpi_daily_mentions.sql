-- Listening KPIs per listening account and native day: share of voice, net sentiment, potential reach,
-- sentiment trend (7-day rolling, week-over-week) and the crisis spike flag.
-- Spike: negative brand mentions above the trailing 28-day mean + 3 standard deviations and at least 5.
-- column brand_mentions: mentions of our brand (is_competitor = false)
-- column competitor_mentions: mentions of competitor brands
-- column share_of_voice: brand_mentions / (brand_mentions + competitor_mentions) x 100
-- column net_positive_mentions: positive - negative brand mentions
-- column net_sentiment: (positive - negative) / brand_mentions, from -1 to 1
-- column potential_reach: sum of the followers of the authors of brand mentions
-- column negative_share: negative / brand_mentions x 100
-- column net_sentiment_7d: (positive - negative) / brand_mentions over this day and the 6 before
-- column net_sentiment_wow_change: net_sentiment_7d minus its value 7 days earlier
-- column negative_baseline_mean: mean daily negative brand mentions over the 28 days before
-- column is_crisis_spike: negative mentions spike above the trailing baseline
with mentions as (
    select * from intermediate.int_mentions__unioned
),

daily as (
    select
        platform,
        account_id,
        created_date as date,
        any_value(report_timezone) as report_timezone,
        count(*) as mentions,
        count(*) filter (where not is_competitor) as brand_mentions,
        count(*) filter (where is_competitor) as competitor_mentions,
        count(*) filter (where not is_competitor and sentiment_label = 'positive') as positive_mentions,
        count(*) filter (where not is_competitor and sentiment_label = 'negative') as negative_mentions,
        count(*) filter (where not is_competitor and sentiment_label = 'neutral') as neutral_mentions,
        coalesce(sum(author_followers) filter (where not is_competitor), 0) as potential_reach,
        count(*) filter (where not is_competitor and is_ugc) as ugc_mentions,
    from mentions
    group by platform, account_id, created_date
),

windowed as (
    select
        *,
        sum(positive_mentions - negative_mentions) over last_7_days as net_7d,
        sum(brand_mentions) over last_7_days as brand_7d,
        avg(negative_mentions) over previous_28_days as negative_baseline_mean,
        stddev_pop(negative_mentions) over previous_28_days as negative_baseline_stddev,
        count(*) over previous_28_days as baseline_days,
    from daily
    window
        last_7_days as (partition by platform, account_id order by date
                        range between interval 6 days preceding and current row),
        previous_28_days as (partition by platform, account_id order by date
                             range between interval 28 days preceding and interval 1 day preceding)
),

with_trend as (
    select
        *,
        net_7d * 1.0 / nullif(brand_7d, 0) as net_sentiment_7d,
    from windowed
),

final as (
    select
        current_day.platform,
        current_day.account_id,
        current_day.date,
        current_day.report_timezone,
        current_day.mentions,
        current_day.brand_mentions,
        current_day.competitor_mentions,
        current_day.brand_mentions * 100.0
            / nullif(current_day.brand_mentions + current_day.competitor_mentions, 0) as share_of_voice,
        current_day.positive_mentions,
        current_day.negative_mentions,
        current_day.neutral_mentions,
        current_day.positive_mentions - current_day.negative_mentions as net_positive_mentions,
        (current_day.positive_mentions - current_day.negative_mentions) * 1.0
            / nullif(current_day.brand_mentions, 0) as net_sentiment,
        current_day.negative_mentions * 100.0 / nullif(current_day.brand_mentions, 0) as negative_share,
        current_day.potential_reach,
        current_day.ugc_mentions,
        round(current_day.net_sentiment_7d, 9) as net_sentiment_7d,
        round(current_day.net_sentiment_7d - week_before.net_sentiment_7d, 9) as net_sentiment_wow_change,
        round(current_day.negative_baseline_mean, 9) as negative_baseline_mean,
        round(current_day.negative_baseline_stddev, 9) as negative_baseline_stddev,
        coalesce(
            current_day.baseline_days >= 7
            and current_day.negative_mentions >= 5
            and current_day.negative_mentions
                > current_day.negative_baseline_mean + 3 * current_day.negative_baseline_stddev,
            false
        ) as is_crisis_spike,
    from with_trend as current_day
    left join with_trend as week_before
        on week_before.platform = current_day.platform
        and week_before.account_id = current_day.account_id
        and week_before.date = current_day.date - 7
)

select * from final
