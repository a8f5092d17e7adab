-- Audience share and engagement share of our brand against the tracked competitors, per platform, observing
-- account and day (the snapshot day of the public counts, DECISIONLOG "Audience share").
-- A day counts only when our account and every competitor tracked that day report the count: a missing
-- competitor would inflate our share, so then the day's share, numerator and denominator are NULL.
-- column own_followers: our brand's followers as the public endpoint reports them (NULL: day incomplete)
-- column tracked_followers: our brand's + every tracked competitor's followers (NULL: day incomplete)
-- column audience_share: own_followers / tracked_followers x 100
-- column own_engagements: likes + comments of our posts of the 28 days up to the day (NULL: day incomplete)
-- column tracked_engagements: the same summed over our brand and every tracked competitor (NULL: day incomplete)
-- column engagement_share: own_engagements / tracked_engagements x 100
with accounts as (
    select * from intermediate.int_competitor_account_daily__unioned
),

daily as (
    select
        platform,
        account_id,
        date,
        count(*) filter (where not is_own) as competitors_tracked,
        count(followers) filter (where not is_own) as competitors_with_followers,
        count(engagements) filter (where not is_own) as competitors_with_engagements,
        sum(followers) filter (where is_own) as own_followers_reported,
        sum(engagements) filter (where is_own) as own_engagements_reported,
        sum(followers) as all_followers,
        sum(engagements) as all_engagements,
    from accounts
    group by platform, account_id, date
),

complete as (
    select
        *,
        own_followers_reported is not null and competitors_tracked > 0
            and competitors_with_followers = competitors_tracked as followers_complete,
        own_engagements_reported is not null and competitors_tracked > 0
            and competitors_with_engagements = competitors_tracked as engagements_complete,
    from daily
),

final as (
    select
        platform,
        account_id,
        date,
        competitors_tracked,
        case when followers_complete then own_followers_reported end as own_followers,
        case when followers_complete then all_followers end as tracked_followers,
        case when followers_complete then own_followers_reported * 100.0 / nullif(all_followers, 0) end
            as audience_share,
        case when engagements_complete then own_engagements_reported end as own_engagements,
        case when engagements_complete then all_engagements end as tracked_engagements,
        case when engagements_complete then own_engagements_reported * 100.0 / nullif(all_engagements, 0) end
            as engagement_share,
    from complete
)

select * from final
