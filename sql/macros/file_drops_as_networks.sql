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
