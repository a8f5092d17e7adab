-- Leads per account-day, campaign and lead type (lead_form, gated_download, webinar, newsletter, event_registration).
-- materialized: view
with unioned as (
    {{ union_staging('leads') }}
),

final as (
    select * from unioned
)

select * from final
