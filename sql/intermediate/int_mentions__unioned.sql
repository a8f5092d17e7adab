-- Brand and competitor mentions of every listening account, conformed. File-dropped listening exports
-- ('files', account '<network>.<account>', e.g. 'listening.acme') keep that network as platform.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__mentions
    union all by name
    select * from staging.stg_facebook__mentions
    union all by name
    select * from staging.stg_tiktok__mentions
    union all by name
    select * from staging.stg_linkedin__mentions
    union all by name
    select * from staging.stg_x__mentions
    union all by name
    select * from staging.stg_ga4__mentions
    union all by name
    select * from staging.stg_files__mentions
),

final as (
    select
        * replace (
            case when platform = 'files' then split_part(account_id, '.', 1) else platform end as platform,
            case when platform = 'files' then substr(account_id, strpos(account_id, '.') + 1)
                 else account_id end as account_id
        ),
        platform as source_platform,
        coalesce(sentiment, 'neutral') as sentiment_label,
    from unioned
)

select * from final
