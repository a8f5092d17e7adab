-- GA4 first-touch rows (the channel that first acquired the user) with that channel's social network.
-- materialized: view
with unioned as (
    {{ union_staging('web_first_touch') }}
),

final as (
    select
        * replace (cast(revenue as decimal(18, 4)) as revenue),
        {{ acquisition_network('social_platform', 'source', 'medium') }} as network,
    from unioned
)

select * from final
