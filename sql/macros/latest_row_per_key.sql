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
  group_key (the key but its last column, a date; e.g. the post of a post-day key): find the groups that may
  hold a repeated key instead, 365 k posts rather than 10 M post-days: a group whose row count exceeds
  distinct_days_seen(date) sends every row through the window. Exact the same way.
-#}
{% macro _key_hash(relation, key) -%}
hash({% for column in key %}{{ relation }}.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#-
  within_partition=true: the entity's key can only repeat inside one lake partition (its date is the partition
  day), so the window also partitions by partition_date and a view over a subset of partitions is exact.
-#}
{% macro latest_row_per_key(relation, entity, key, within_partition=false, group_key=none) -%}
{% if group_key -%}
{% set rest = key | reject('in', group_key) | list -%}
with repeated_groups as materialized (
        select {{ group_key | join(', ') }} from {{ relation }} group by all
        having count(*) > {{ distinct_days_seen(rest[0]) }}
    )
    {{ rows_deduplicated(relation, entity, key, 'repeated_groups', group_key, within_partition) }}
{%- else -%}
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
{%- endif %}
{%- endmacro %}

{#-
  distinct_days_seen(day): a lower bound of the distinct days in a group, as a fixed-width aggregate (a 64-bit
  mask of day mod 64; ~free, where count(distinct) triples a GROUP BY and list_unique(list()) adds 40 %).
  Exact while a group's days fit in 64 consecutive days; beyond, a group may be counted short, which only sends
  it through the dedupe window: count(*) > distinct_days_seen is true for every group with a repeated day.
-#}
{% macro distinct_days_seen(day) -%}
bit_count(bit_or(1::ubigint << ((date_diff('day', date '1970-01-01', {{ day }}) % 64 + 64) % 64)::ubigint))
{%- endmacro %}

{% macro _latest_first(entity, key, within_partition) -%}
row_number() over (
        partition by {{ ((['partition_date'] if within_partition else []) + key) | join(', ') }}
        order by schema_version desc, partition_date desc, hash({{ value_columns(entity, key) | join(', ') }}) desc
    )
{%- endmacro %}

{#-
  rows_deduplicated(relation, entity, key, repeated, on, within_partition): the rows of `relation` with one row
  per key, when `repeated` (columns `on`, a prefix of key) already names every group that holds a repeated key
  (e.g. a set of posts flagged upstream): the other rows pass through an anti join.
  repeated_rows_deduplicated(...): only the deduplicated rows of those groups; when `repeated` is empty, DuckDB
  skips the scan of `relation` (an empty semi-join build side).
-#}
{% macro rows_deduplicated(relation, entity, key, repeated, on, within_partition=false) -%}
select {{ relation }}.* from {{ relation }} anti join {{ repeated }} as repeated
        on {{ _on_repeated(relation, on) }}
    union all by name
    {{ repeated_rows_deduplicated(relation, entity, key, repeated, on, within_partition) }}
{%- endmacro %}

{% macro repeated_rows_deduplicated(relation, entity, key, repeated, on, within_partition=false) -%}
select * from (
        select {{ relation }}.* from {{ relation }} semi join {{ repeated }} as repeated
            on {{ _on_repeated(relation, on) }}
    )
    qualify {{ _latest_first(entity, key, within_partition) }} = 1
{%- endmacro %}

{% macro _on_repeated(relation, on) -%}
{% for column in on %}{{ relation }}.{{ column }} = repeated.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endmacro %}
