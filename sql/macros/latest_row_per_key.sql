{#-
  latest_row_per_key(relation, entity, key): the latest row per key of a lake entity.
  A re-pulled export lands a key twice: keep the newest schema version, then the newest lake partition;
  the hash of every other canonical column (value_columns() reads pipeline.schemas, so a new column is
  compared too) makes the pick deterministic. Macros are Jinja globals of every model (dbt-style).
  Cost: almost every key lands once, so only the keys seen more than once go through the window (a hash
  aggregate finds them); the other rows pass through an anti join. NULL key parts match each other, as
  they do in the window's partition.
-#}
{% macro _same_key(relation, key) -%}
{% for column in key %}{{ relation }}.{{ column }} is not distinct from repeated.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endmacro %}

{% macro latest_row_per_key(relation, entity, key) -%}
with repeated_keys as materialized (
        select {{ key | join(', ') }} from {{ relation }} group by all having count(*) > 1
    )
    select {{ relation }}.* from {{ relation }} anti join repeated_keys as repeated
        on {{ _same_key(relation, key) }}
    union all by name
    select * from (
        select {{ relation }}.* from {{ relation }} semi join repeated_keys as repeated
            on {{ _same_key(relation, key) }}
    )
    qualify row_number() over (
        partition by {{ key | join(', ') }}
        order by schema_version desc, partition_date desc, hash({{ value_columns(entity, key) | join(', ') }}) desc
    ) = 1
{%- endmacro %}
