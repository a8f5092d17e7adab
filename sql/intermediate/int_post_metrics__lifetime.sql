-- Each post's latest lifetime values: one row per platform, account_id, post_id. Post KPIs report these
-- ("latest lifetime value per post", as Fivetran's social packages do), never a sum of snapshots. A metric the
-- latest pull omitted keeps the value the post's last snapshot that reported it gave (unknown is not zero).
-- incremental_key: platform, account_id, post_id
-- affected_keys: select distinct platform, account_id, post_id from replaced_rows(intermediate.int_post_metrics__snapshots)
-- key_filtered_inputs: intermediate.int_post_metrics__snapshots
-- column snapshots: how many pull days have a snapshot of the post
-- column metrics_as_of: UTC day of the post's latest snapshot
-- column engagements: lifetime likes + comments + shares + saves (each counter's latest reported value)
-- column decreased_metrics: lifetime metrics the latest pull reported below the post's previous value
{% set lifetime_metrics = ['impressions', 'views', 'reach', 'likes', 'comments', 'shares', 'saves', 'clicks',
                           'video_views'] %}
-- a table, not a view: an incremental run aggregates only the snapshots of the posts whose snapshots were replaced
-- (a view aggregated all of W10M's 10 M for each reader before its key filter applied, and ran out of 256 MB)
with snapshots as (
    select * from intermediate.int_post_metrics__snapshots
),

latest as (
    select
        platform,
        account_id,
        post_id,
        count(*) as snapshots,
        max(date) as metrics_as_of,
        arg_max(impressions_metric, date) filter (where impressions_metric is not null) as impressions_metric,
        {% for metric in lifetime_metrics %}
        arg_max({{ metric }}, date) filter (where {{ metric }} is not null) as {{ metric }},
        {% endfor %}
        arg_max_null(decreased_metrics, date) as decreased_metrics,   -- the latest pull's, NULL included
    from snapshots
    group by platform, account_id, post_id
),

final as (
    select
        * exclude (decreased_metrics),
        {{ engagements_of() }} as engagements,
        decreased_metrics,
    from latest
)

select * from final
