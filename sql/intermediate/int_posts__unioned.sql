-- Posts of every platform, conformed; created_date is the platform's native day of created_at.
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__post
    union all by name
    select * from staging.stg_facebook__post
    union all by name
    select * from staging.stg_tiktok__post
    union all by name
    select * from staging.stg_linkedin__post
    union all by name
    select * from staging.stg_x__post
    union all by name
    select * from staging.stg_ga4__post
),

final as (
    select
        *,
        case when is_paid then 'paid' else 'organic' end as paid_status,
        coalesce(content_type, 'unknown') as content_type_label,
    from unioned
)

select * from final
