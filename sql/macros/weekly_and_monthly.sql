{#-
  weekly_and_monthly(relation, day_column): every row of `relation` twice, once in its ISO week and
  once in its calendar month, as (period, period_start, *): the fan-out the kpi_period_* rollups group by.
-#}
{% macro weekly_and_monthly(relation, day_column) -%}
select 'week' as period, date_trunc('week', {{ day_column }})::date as period_start, * from {{ relation }}
    union all
    select 'month' as period, date_trunc('month', {{ day_column }})::date as period_start, * from {{ relation }}
{%- endmacro %}

{#-
  replaced_periods(relation, day_column): the (period, period_start, platform) keys of a kpi_period_* rollup
  that an incremental run must recompute: the weeks and months of the rows `relation` replaced this run
  (before and after), fanned out exactly as the rollup does. One line, for an affected_keys header.
-#}
{% macro replaced_periods(relation, day_column) -%}
select distinct period, period_start, platform from ({{ weekly_and_monthly('replaced_rows(' ~ relation ~ ')', day_column) | replace('\n', ' ') }}) where {{ day_column }} is not null
{%- endmacro %}

{#-
  post_rollup_sums(): the sums and ERRs every kpi_period_* rollup of kpi_post rows reports, in this column
  order; ERR both ways (mean of the posts' ERR, and the ratio of sums).
-#}
{% macro post_rollup_sums() -%}
sum(impressions) as impressions,
        sum(reach) as reach_upper_bound,
        sum(engagements) as engagements,
        sum(clicks) as clicks,
        -- decimal sums are exact, so the mean does not depend on summation order
        cast(avg(cast(err as decimal(38, 10))) as double) as err_mean_of_posts,
        sum(engagements) * 100.0 / nullif(sum(reach), 0) as err_ratio_of_sums,
{%- endmacro %}
