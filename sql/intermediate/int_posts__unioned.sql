-- Posts of every platform, conformed; created_date is the platform's native day of created_at.
-- materialized: view
with unioned as (
    {{ union_staging('post') }}
),

final as (
    select
        *,
        case when is_paid then 'paid' else 'organic' end as paid_status,
        coalesce(content_type, 'unknown') as content_type_label,
    from unioned
)

select * from final
