-- Post-day metrics of every platform as landed (re-pulled duplicates still in), conformed; engagements = likes
-- + comments + shares + saves (missing counters count as 0; per-platform mapping in the staging files and
-- DECISIONLOG.md). Read once by int_post_metrics__summed_as_landed, which also finds the posts holding a repeated key.
-- materialized: view
with unioned as (
    {{ union_staging('post_daily_metrics', 'landed') }}
),

final as (
    select
        *,
        coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0) + coalesce(saves, 0) as engagements,
    from unioned
)

select * from final
