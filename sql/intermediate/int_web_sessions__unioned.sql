-- GA4 session rows with the referring social network (platform) derived from source/medium.
-- materialized: view
with unioned as (
    {{ union_staging('web_sessions') }}
),

final as (
    select
        * replace (cast(revenue as decimal(18, 4)) as revenue),
        -- the GA4 connector parses the network (social_platform); older rows fall back to source/medium
        coalesce(social_platform, case
            when source in ('facebook', 'facebook.com', 'm.facebook.com', 'l.facebook.com', 'fb') then 'facebook'
            when source in ('instagram', 'instagram.com', 'l.instagram.com', 'ig') then 'instagram'
            when source in ('linkedin', 'linkedin.com', 'lnkd.in') then 'linkedin'
            when source in ('x', 'x.com', 'twitter', 'twitter.com', 't.co') then 'x'
            when source in ('tiktok', 'tiktok.com') then 'tiktok'
            when medium in ('social', 'paid_social', 'social-network', 'sm') then 'other_social'
            else 'non_social'
        end) as network,
    from unioned
)

select * from final
