-- Best time to post: engagement by platform x weekday x hour of creation in the platform's native zone.
-- column weekday: ISO day of week of the native creation time (1 = Monday .. 7 = Sunday)
-- column hour: hour of the native creation time (0-23)
-- column engagements_per_post: engagements / posts
-- column err_ratio_of_sums: engagements / reach x 100
with posts as (
    select * from audit.kpi_post where created_at is not null
),

timed as (
    select
        *,
        created_at at time zone report_timezone as created_local,
    from posts
),

final as (
    select
        platform,
        isodow(created_local) as weekday,
        hour(created_local) as hour,
        count(*) as posts,
        sum(engagements) as engagements,
        sum(reach) as reach,
        sum(engagements) * 1.0 / count(*) as engagements_per_post,
        sum(engagements) * 100.0 / nullif(sum(reach), 0) as err_ratio_of_sums,
    from timed
    group by platform, weekday, hour
)

select * from final
