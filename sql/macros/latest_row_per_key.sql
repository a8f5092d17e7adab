{#-
  latest_row_per_key(relation, entity, key): the latest row per key of a lake entity.
  A re-pulled export lands a key twice: keep the newest schema version, then the newest lake partition;
  the hash of every other canonical column (value_columns() reads pipeline.schemas, so a new column is
  compared too) makes the pick deterministic. Macros are Jinja globals of every model (dbt-style).
  Cost: almost every key lands once, so only the keys seen more than once go through the window; the other
  rows pass through an anti join. Repeated keys are found by the 64-bit hash of the key (a fixed-width
  aggregate, ~30 % cheaper than grouping the strings): a hash collision only sends a unique key through the
  window, where it is kept anyway, so the result is exact. NULL key parts hash alike, as they match in the
  window's partition.
-#}
{% macro _key_hash(relation, key) -%}
hash({% for column in key %}{{ relation }}.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#-
  within_partition=true: the entity's key can only repeat inside one lake partition (its date is the partition
  day, e.g. a post's snapshot day), so the window also partitions by partition_date and a view over a subset of
  partitions is exact.
-#}
{% macro latest_row_per_key(relation, entity, key, within_partition=false) -%}
with repeated_keys as materialized (
        select {{ _key_hash(relation, key) }} as key_hash from {{ relation }} group by all having count(*) > 1
    )
    select {{ relation }}.* from {{ relation }} anti join repeated_keys as repeated
        on {{ _key_hash(relation, key) }} = repeated.key_hash
    union all by name
    select * from (
        select {{ relation }}.* from {{ relation }} semi join repeated_keys as repeated
            on {{ _key_hash(relation, key) }} = repeated.key_hash
    )
    qualify {{ _latest_first(entity, key, within_partition) }} = 1
{%- endmacro %}

{% macro _latest_first(entity, key, within_partition) -%}
row_number() over (
        partition by {{ ((['partition_date'] if within_partition else []) + key) | join(', ') }}
        order by schema_version desc, partition_date desc, hash({{ value_columns(entity, key) | join(', ') }}) desc
    )
{%- endmacro %}
