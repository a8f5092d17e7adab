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
