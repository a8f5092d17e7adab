-- Every lifetime snapshot of every post with what the post gained since its previous snapshot: one row per
-- platform, account_id, post_id, date (the UTC pull day). The lifetime columns are as reported; the new_* columns
-- are the daily increments SQL derives (DECISIONLOG "Lifetime snapshots"): the first snapshot gains its whole
-- value, a decrease gains 0 and is listed in decreased_metrics. Sum new_* over days, never the lifetime columns.
-- An incremental run recomputes a post's snapshots only from the first changed pull day on (and the snapshot
-- before it, whose is_latest may flip): the gains of the later snapshots start from the values the post's kept
-- snapshots last reported, read from this table (is_incremental(), as in dbt), not from the post's whole history.
-- incremental_key: platform, account_id, post_id, date
-- affected_keys: with changed_snapshots as (select {{ network_of('platform', 'account_id') }} as platform, {{ account_of('platform', 'account_id') }} as account_id, post_id, date from ({% for snapshots in staging_relations('post_metrics') %}select platform, account_id, post_id, date from replaced_rows({{ snapshots }}){{ ' union all ' if not loop.last }}{% endfor %})),
--     changed_posts as (select platform, account_id, post_id, min(date) as changed_from from changed_snapshots group by all),
--     recompute_from as (select changed_posts.platform, changed_posts.account_id, changed_posts.post_id,
--                               coalesce(max(kept.date), min(changed_posts.changed_from)) as first_date
--         from changed_posts left join {{ this }} as kept
--             on kept.platform = changed_posts.platform and kept.account_id = changed_posts.account_id
--             and kept.post_id = changed_posts.post_id and kept.date < changed_posts.changed_from
--         group by all)
--     select kept.platform, kept.account_id, kept.post_id, kept.date from {{ this }} as kept
--         join recompute_from using (platform, account_id, post_id) where kept.date >= recompute_from.first_date
--     union
--     select platform, account_id, post_id, date from changed_snapshots
-- key_filtered_inputs: intermediate.int_post_metrics__unioned
-- key_filtered_since: date >= select min(date) from _affected
-- column impressions: lifetime impressions (or views where the platform reports no impressions) as of this pull
-- column engagements: lifetime likes + comments + shares + saves as of this pull (a missing counter as 0)
-- column new_impressions: impressions gained since the post's previous snapshot (the whole value on the first)
-- column new_engagements: engagements gained since the previous snapshot (sum of the four gains)
-- column decreased_metrics: lifetime metrics that went down since the previous snapshot (recorded, gained 0)
-- column snapshot_number: 1 for the post's first snapshot, counting up
-- column is_latest: the post's newest snapshot (what post KPIs report)
{% set lifetime_metrics = ['impressions', 'views', 'reach', 'likes', 'comments', 'shares', 'saves', 'clicks',
                           'video_views'] %}
with snapshots as not materialized (    -- read three times by a full build: inlined, not stored
    select * from intermediate.int_post_metrics__unioned
),
{% if is_incremental() %}

-- the recomputed posts' state before their first recomputed snapshot: the snapshots this run keeps
kept_state as (
    select
        platform,
        account_id,
        post_id,
        count(*) as kept_snapshots,
        {% for metric in lifetime_metrics %}
        arg_max({{ metric }}, date) filter (where {{ metric }} is not null) as kept_{{ metric }},
        {% endfor %}
    from {{ this }}
    semi join (select distinct platform, account_id, post_id from snapshots) as recomputed
        using (platform, account_id, post_id)
    group by platform, account_id, post_id
),

with_previous as (
    select
        snapshots.*,
        {% for metric in lifetime_metrics %}
        coalesce({{ previous_value(metric) }}, kept_state.kept_{{ metric }}) as previous_{{ metric }},
        {% endfor %}
        coalesce(kept_state.kept_snapshots, 0) + row_number() over by_post as snapshot_number,
        lead(date) over by_post is null as is_latest,
    from snapshots
    left join kept_state using (platform, account_id, post_id)
    window by_post as (partition by platform, account_id, post_id order by date)
),
{% else %}

-- posts with a metric some pulls reported and others omitted (4 % of W10M's): only there can the last reported
-- value differ from the previous pull's, so only they need the framed last_value (ignore nulls); the others take
-- lag, which costs a quarter as much on 10 M rows (bench/RESULTS.md)
posts_with_omissions as (
    select platform, account_id, post_id
    from snapshots
    group by platform, account_id, post_id
    having {% for metric in lifetime_metrics %}count({{ metric }}) not in (0, count(*)){{ ' or ' if not loop.last }}{% endfor %}

),

with_previous as (
    select
        *,
        {% for metric in lifetime_metrics %}
        lag({{ metric }}) over by_post as previous_{{ metric }},
        {% endfor %}
        row_number() over by_post as snapshot_number,
        lead(date) over by_post is null as is_latest,
    from (select * from snapshots anti join posts_with_omissions using (platform, account_id, post_id))
    window by_post as (partition by platform, account_id, post_id order by date)
    union all
    select
        *,
        {% for metric in lifetime_metrics %}
        {{ previous_value(metric) }} as previous_{{ metric }},
        {% endfor %}
        row_number() over by_post as snapshot_number,
        lead(date) over by_post is null as is_latest,
    from (select * from snapshots semi join posts_with_omissions using (platform, account_id, post_id))
    window by_post as (partition by platform, account_id, post_id order by date)
),
{% endif %}

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
