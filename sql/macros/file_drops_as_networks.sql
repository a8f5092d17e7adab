{#-
  file_drops_as_networks(): select-list items for the int_* models that union file drops.
  File drops land as platform 'files' (file_drop_platform) with account_id '<network>.<account>':
  conform them to rows of that network and keep where each row came from in source_platform.
-#}
{% macro file_drops_as_networks() -%}
* replace (
            case when platform = '{{ file_drop_platform }}' then split_part(account_id, '.', 1) else platform end as platform,
            case when platform = '{{ file_drop_platform }}' then substr(account_id, strpos(account_id, '.') + 1)
                 else account_id end as account_id
        ),
        platform as source_platform,
{%- endmacro %}

{#- network_of(platform, account_id) / account_of(platform, account_id): the same conforming as an expression, for
    affected-keys queries that read a staging table's rows (replaced_rows) directly. -#}
{% macro network_of(platform, account_id) -%}
case when {{ platform }} = '{{ file_drop_platform }}' then split_part({{ account_id }}, '.', 1) else {{ platform }} end
{%- endmacro %}

{#- (one line each: they are used inside `-- affected_keys:` header comments) -#}
{% macro account_of(platform, account_id) -%}
case when {{ platform }} = '{{ file_drop_platform }}' then substr({{ account_id }}, strpos({{ account_id }}, '.') + 1) else {{ account_id }} end
{%- endmacro %}

{#- network_timezone(platform): the native time zone of a network (pipeline.schemas.PLATFORM_TIMEZONES), for
    file-drop rows, which staging dated in UTC. -#}
{% macro network_timezone(platform) -%}
case {{ platform }}{% for network, zone in platform_timezones.items() %} when '{{ network }}' then '{{ zone }}'{% endfor %} else 'UTC' end
{%- endmacro %}

{#- api_rows_first(relation, key): the API rows of `relation` (conformed by file_drops_as_networks) plus the file-drop
    rows whose key no API row has: when a platform's API and an export both report a key, the API row wins. -#}
{% macro api_rows_first(relation, key) -%}
select * from {{ relation }} where source_platform <> '{{ file_drop_platform }}'
    union all by name
    select dropped.* from {{ relation }} as dropped
    anti join (select {{ key | join(', ') }} from {{ relation }} where source_platform <> '{{ file_drop_platform }}') as api
        using ({{ key | join(', ') }})
    where dropped.source_platform = '{{ file_drop_platform }}'
{%- endmacro %}
