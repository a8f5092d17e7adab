-- Conversions and revenue by first touch vs last touch per social network (platform), GA4 property (account_id)
-- and day. First touch: the channel that first acquired the user (GA4 firstUserSource/Medium); last touch: the
-- session's source (GA4's last non-direct click, web_sessions). Each key event counts once under each model, so
-- both columns add up to the same day total across networks. NULL when that side was not pulled for the day
-- (unknown is not zero).
-- column first_touch_conversions: key events of users first acquired by this network
-- column last_touch_conversions: key events of sessions this network referred
-- column social_first_touch_conversions: first_touch_conversions on social networks (0 on non_social rows)
-- column social_last_touch_conversions: last_touch_conversions on social networks (0 on non_social rows)
-- column new_users: users first acquired by this network that day (GA4 newUsers by first-user source)
with first_touch as (
    select
        network, account_id, date,
        any_value(report_timezone) as report_timezone,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
        sum(new_users) as new_users,
    from intermediate.int_web_first_touch__unioned
    group by network, account_id, date
),

last_touch as (
    select
        network, account_id, date,
        any_value(report_timezone) as report_timezone,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
    from intermediate.int_web_sessions__unioned
    group by network, account_id, date
),

joined as (
    select
        network,
        account_id,
        date,
        coalesce(first_touch.report_timezone, last_touch.report_timezone) as report_timezone,
        first_touch.conversions as first_conversions,
        first_touch.revenue as first_revenue,
        first_touch.new_users,
        last_touch.conversions as last_conversions,
        last_touch.revenue as last_revenue,
        -- a property-day with rows of one model but not this network's: zero for this network
        bool_or(first_touch.network is not null) over (partition by account_id, date) as has_first_touch,
        bool_or(last_touch.network is not null) over (partition by account_id, date) as has_last_touch,
    from first_touch
    full outer join last_touch using (network, account_id, date)
),

final as (
    select
        network as platform,
        account_id,
        date,
        report_timezone,
        network <> 'non_social' as is_social,
        case when has_first_touch then coalesce(first_conversions, 0) end as first_touch_conversions,
        case when has_last_touch then coalesce(last_conversions, 0) end as last_touch_conversions,
        case when has_first_touch then coalesce(first_revenue, 0) end as first_touch_revenue,
        case when has_last_touch then coalesce(last_revenue, 0) end as last_touch_revenue,
        case when has_first_touch then coalesce(new_users, 0) end as new_users,
        case when has_first_touch then (case when network <> 'non_social' then coalesce(first_conversions, 0)
                                             else 0 end) end as social_first_touch_conversions,
        case when has_last_touch then (case when network <> 'non_social' then coalesce(last_conversions, 0)
                                            else 0 end) end as social_last_touch_conversions,
    from joined
)

select * from final
