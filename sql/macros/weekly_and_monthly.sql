{#-
  weekly_and_monthly(relation, day_column): every row of `relation` twice, once in its ISO week and
  once in its calendar month, as (period, period_start, *): the fan-out the kpi_period_* rollups group by.
-#}
{% macro weekly_and_monthly(relation, day_column) -%}
select 'week' as period, date_trunc('week', {{ day_column }})::date as period_start, * from {{ relation }}
    union all
    select 'month' as period, date_trunc('month', {{ day_column }})::date as period_start, * from {{ relation }}
{%- endmacro %}
