-- Brand and competitor mentions of every listening account, conformed. File-dropped listening exports
-- ('files', account '<network>.<account>', e.g. 'listening.acme') keep that network as platform.
-- materialized: view
with unioned as (
    {{ union_staging('mentions') }}
),

final as (
    select
        {{ file_drops_as_networks() }}
        coalesce(sentiment, 'neutral') as sentiment_label,
    from unioned
)

select * from final
