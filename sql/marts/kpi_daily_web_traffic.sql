-- Web sessions from social per referring network (platform), GA4 property (account_id) and day.
-- platform is the referring network derived from source/medium (other_social, non_social otherwise),
-- so a goal scoped to linkedin reads LinkedIn-referred traffic.
-- column social_sessions: sessions referred by a social network (0 on non_social rows)
-- column social_conversions: conversions of social sessions (0 on non_social rows)
-- column conversion_rate: conversions / sessions x 100
-- column bounce_rate: bounces / sessions x 100
-- column social_conversion_share: social_conversions / conversions x 100 (meaningful over all platforms)
with sessions as (
    select * from intermediate.int_web_sessions__unioned
),

final as (
    select
        network as platform,
        account_id,
        date,
        any_value(report_timezone) as report_timezone,
        network not in ('non_social') as is_social,
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(engaged_sessions), 0) as engaged_sessions,
        coalesce(sum(bounces), 0) as bounces,
        coalesce(sum(conversions), 0) as conversions,
        coalesce(sum(revenue), 0) as revenue,
        coalesce(sum(signups), 0) as signups,
        coalesce(sum(new_customers), 0) as new_customers,
        case when network <> 'non_social' then coalesce(sum(sessions), 0) else 0 end as social_sessions,
        case when network <> 'non_social' then coalesce(sum(conversions), 0) else 0 end as social_conversions,
        sum(conversions) * 100.0 / nullif(sum(sessions), 0) as conversion_rate,
        sum(bounces) * 100.0 / nullif(sum(sessions), 0) as bounce_rate,
        case when network <> 'non_social' then 100.0 else 0.0 end as social_conversion_share,
    from sessions
    group by network, account_id, date
)

select * from final
