-- Influencer, UGC and employee advocacy per month, platform and author type (brand | employee | ugc | partner)
-- of the posts we track, with partner handles; brand posts are the comparison baseline.
-- Partner spend comes from ad_spend rows whose campaign equals the post's campaign.
-- column reshares: shares of these posts (for employee posts: reshares gained through advocacy)
-- column err_ratio_of_sums: engagements / reach x 100
-- column cost_per_engagement: spend of the posts' campaigns / engagements (where spend is known)
with posts as (
    select * from audit.kpi_post where created_date is not null
),

campaign_spend as (
    select platform, campaign, sum(spend) as spend
    from intermediate.int_ad_spend__unioned
    group by platform, campaign
),

monthly as (
    select
        date_trunc('month', created_date)::date as month_start,
        platform,
        author_type,
        coalesce(partner_handle, '') as partner_handle,
        count(*) as posts,
        sum(impressions) as impressions,
        sum(reach) as reach_upper_bound,
        sum(engagements) as engagements,
        sum(shares) as reshares,
        sum(clicks) as clicks,
        list(distinct campaign) filter (where campaign is not null) as campaigns,
    from posts
    group by month_start, platform, author_type, partner_handle
),

with_spend as (
    select
        monthly.month_start,
        monthly.platform,
        monthly.author_type,
        monthly.partner_handle,
        any_value(monthly.posts) as posts,
        any_value(monthly.impressions) as impressions,
        any_value(monthly.reach_upper_bound) as reach_upper_bound,
        any_value(monthly.engagements) as engagements,
        any_value(monthly.reshares) as reshares,
        any_value(monthly.clicks) as clicks,
        sum(campaign_spend.spend) as campaign_spend,
    from monthly
    left join campaign_spend
        on campaign_spend.platform = monthly.platform
        and list_contains(monthly.campaigns, campaign_spend.campaign)
        and monthly.author_type = 'partner'
    group by monthly.month_start, monthly.platform, monthly.author_type, monthly.partner_handle
),

final as (
    select
        *,
        engagements * 100.0 / nullif(reach_upper_bound, 0) as err_ratio_of_sums,
        clicks * 100.0 / nullif(impressions, 0) as ctr,
        campaign_spend / nullif(engagements, 0) as cost_per_engagement,
    from with_spend
)

select * from final
