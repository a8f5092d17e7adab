-- Post-day metrics of every platform, conformed; engagements = likes + comments + shares + saves
-- materialized: view
-- (missing counters count as 0; per-platform mapping in the staging files and DECISIONLOG.md).
with unioned as (
    {{ union_staging('post_daily_metrics') }}
),

final as (
    select
        *,
        coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0) + coalesce(saves, 0) as engagements,
    from unioned
)

select * from final
