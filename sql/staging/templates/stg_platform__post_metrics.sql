-- {{ platform }} post_metrics: each post's lifetime totals as the platform reported them on a pull day, one row
-- per account_id, post_id, date (date = the UTC day of the pull); cast, re-pulled duplicates removed (a key
-- repeats only inside its pull day's partition). NULL = the platform did not report the metric, never 0.
-- impressions: the platform's impressions where it reports them, else its views (Meta's declared successor of
-- impressions from Graph v22.0; DECISIONLOG "Meta views replace impressions"); impressions_metric says which.
with source as materialized (  -- read three times by the dedupe; small, so kept in memory once
    select * from raw.{{ platform }}__post_metrics
),

deduplicated as (
    {{ latest_row_per_key('source', 'post_metrics', ['account_id', 'post_id', 'date'], within_partition=true) }}
),

final as (
    select
        '{{ platform }}' as platform,
        account_id,
        post_id,
        date,
        coalesce(impressions, views) as impressions,
        case when impressions is not null then 'impressions'
             when views is not null then 'views' end as impressions_metric,
        views,
        reach,
        likes,
        comments,
        shares,
        saves,
        clicks,
        video_views,
        schema_version,
        partition_date,
    from deduplicated
)

select * from final
