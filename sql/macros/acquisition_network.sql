{#-
  acquisition_network(social_platform, source, medium): the social network a source/medium names, for first-touch
  channels (GA4 first-user source, a shop's first-touch UTM). The connector's parsed social_platform wins; rows
  without it fall back to the same source lists as int_web_sessions__unioned; anything else is 'non_social'.
-#}
{% macro acquisition_network(social_platform, source, medium) -%}
coalesce({{ social_platform }}, case
            when lower({{ source }}) in ('facebook', 'facebook.com', 'm.facebook.com', 'l.facebook.com', 'fb')
                then 'facebook'
            when lower({{ source }}) in ('instagram', 'instagram.com', 'l.instagram.com', 'ig') then 'instagram'
            when lower({{ source }}) in ('linkedin', 'linkedin.com', 'lnkd.in') then 'linkedin'
            when lower({{ source }}) in ('x', 'x.com', 'twitter', 'twitter.com', 't.co') then 'x'
            when lower({{ source }}) in ('tiktok', 'tiktok.com') then 'tiktok'
            when lower({{ medium }}) in ('social', 'paid_social', 'social-network', 'sm') then 'other_social'
            else 'non_social'
        end)
{%- endmacro %}
