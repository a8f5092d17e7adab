-- Every lifetime snapshot of every post with what the post gained since its previous snapshot: one row per
-- platform, account_id, post_id, date (the UTC pull day). The lifetime columns are as reported; the new_* columns
-- are the daily increments SQL derives (DECISIONLOG "Lifetime snapshots"): the first snapshot gains its whole
-- value, a decrease gains 0 and is listed in decreased_metrics. Sum new_* over days, never the lifetime columns.
-- incremental_key: platform, account_id, post_id
-- affected_keys: select distinct platform, account_id, post_id from intermediate.int_post_metrics__unioned
--     where (source_platform, partition_date) in (select platform, date from _changed)
--     union
--     select {{ network_of('platform', 'account_id') }}, {{ account_of('platform', 'account_id') }}, post_id from ({% for snapshots in staging_relations('post_metrics') %}select platform, account_id, post_id from replaced_rows({{ snapshots }}){{ ' union all ' if not loop.last }}{% endfor %})
-- key_filtered_inputs: intermediate.int_post_metrics__unioned
-- column impressions: lifetime impressions (or views where the platform reports no impressions) as of this pull
-- column engagements: lifetime likes + comments + shares + saves as of this pull (a missing counter as 0)
-- column new_impressions: impressions gained since the post's previous snapshot (the whole value on the first)
-- column new_engagements: engagements gained since the previous snapshot (sum of the four gains)
-- column decreased_metrics: lifetime metrics that went down since the previous snapshot (recorded, gained 0)
-- column snapshot_number: 1 for the post's first snapshot, counting up
-- column is_latest: the post's newest snapshot (what post KPIs report)
{% set lifetime_metrics = ['impressions', 'views', 'reach', 'likes', 'comments', 'shares', 'saves', 'clicks',
                           'video_views'] %}
with snapshots as (
    select * from intermediate.int_post_metrics__unioned
),

with_previous as (
    select
        *,
        {% for metric in lifetime_metrics %}
        {{ previous_value(metric) }} as previous_{{ metric }},
        {% endfor %}
        row_number() over by_post as snapshot_number,
        lead(date) over by_post is null as is_latest,
    from snapshots
    window by_post as (partition by platform, account_id, post_id order by date)
),

final as (
    select
        platform,
        account_id,
        post_id,
        date,
        impressions_metric,
        {% for metric in lifetime_metrics %}
        {{ metric }},
        {% endfor %}
        {{ engagements_of() }} as engagements,
        {% for metric in lifetime_metrics %}
        {{ increment(metric) }} as new_{{ metric }},
        {% endfor %}
        (coalesce({{ increment('likes') }}, 0) + coalesce({{ increment('comments') }}, 0)
            + coalesce({{ increment('shares') }}, 0) + coalesce({{ increment('saves') }}, 0))
            as new_engagements,
        nullif(concat_ws(', ', {% for metric in lifetime_metrics %}case when {{ metric }} < previous_{{ metric }} then '{{ metric }}' end{{ ', ' if not loop.last }}{% endfor %}), '') as decreased_metrics,
        snapshot_number,
        is_latest,
        partition_date,
    from with_previous
)

select * from final
