{#- post_metric_sums(): the per-post aggregates of the post-day fact, the same wherever a post's days are summed
    (as landed, and over the deduplicated rows of a post with a repeated key).
    Counts stay BIGINT: DuckDB widens sum(bigint) to HUGEINT (int128), which many BI drivers and pandas read as a
    float, and which it accumulates slower; the cast keeps int64 (an overflow is an error, never a wrap). -#}
{% macro post_metric_sums() -%}
any_value(report_timezone) as report_timezone,
        min(partition_date) as first_partition_date,
        max(partition_date) as last_partition_date,
        cast(sum(impressions) as bigint) as impressions,
        cast(sum(reach) as bigint) as reach,
        cast(sum(likes) as bigint) as likes,
        cast(sum(comments) as bigint) as comments,
        cast(sum(shares) as bigint) as shares,
        cast(sum(saves) as bigint) as saves,
        cast(sum(clicks) as bigint) as clicks,
        cast(sum(video_views) as bigint) as video_views,
        {{ engagements_of_sums() }} as engagements,
{%- endmacro %}

{#- engagements_of_sums(): the sum of the rows' engagements (likes + comments + shares + saves, a missing
    counter as 0) taken from the four sums: the same number, one aggregate and a 10 M-row expression fewer. -#}
{% macro engagements_of_sums() -%}
(coalesce(cast(sum(likes) as bigint), 0) + coalesce(cast(sum(comments) as bigint), 0)
            + coalesce(cast(sum(shares) as bigint), 0) + coalesce(cast(sum(saves) as bigint), 0))
{%- endmacro %}
