{#- post_metric_sums(): the per-post aggregates of the post-day fact, the same wherever a post's days are summed
    (as landed, and over the deduplicated rows of a post with a repeated key). -#}
{% macro post_metric_sums() -%}
any_value(report_timezone) as report_timezone,
        min(partition_date) as first_partition_date,
        max(partition_date) as last_partition_date,
        sum(impressions) as impressions,
        sum(reach) as reach,
        sum(likes) as likes,
        sum(comments) as comments,
        sum(shares) as shares,
        sum(saves) as saves,
        sum(clicks) as clicks,
        sum(video_views) as video_views,
        sum(engagements) as engagements,
{%- endmacro %}
