{#- Lifetime snapshots -> daily increments (DECISIONLOG "Lifetime snapshots").
    previous_value(m): the post's last reported value of m before this snapshot (a snapshot that omitted m is
    skipped, so an omission never counts the whole lifetime twice).
    increment(m): what the post gained since that snapshot; the first snapshot gains its whole value; a
    decrease (platforms revise counts down: removed spam likes, deleted comments) gains 0, never a negative
    engagement, and is listed in decreased_metrics; a snapshot that omitted m gains NULL (unknown), and DuckDB's
    greatest() would read that as 0, hence the case. -#}
{% macro previous_value(metric) -%}
last_value({{ metric }} ignore nulls) over (
            partition by platform, account_id, post_id order by date
            rows between unbounded preceding and 1 preceding)
{%- endmacro %}

{% macro increment(metric) -%}
case when {{ metric }} is not null then greatest({{ metric }} - coalesce(previous_{{ metric }}, 0), 0) end
{%- endmacro %}

{% macro engagements_of(prefix='') -%}
(coalesce({{ prefix }}likes, 0) + coalesce({{ prefix }}comments, 0) + coalesce({{ prefix }}shares, 0)
            + coalesce({{ prefix }}saves, 0))
{%- endmacro %}
