-- Leads per account-day, campaign and lead type (lead_form, gated_download, webinar, newsletter, event_registration).
-- materialized: view
with unioned as (
    select * from staging.stg_instagram__leads
    union all by name
    select * from staging.stg_facebook__leads
    union all by name
    select * from staging.stg_tiktok__leads
    union all by name
    select * from staging.stg_linkedin__leads
    union all by name
    select * from staging.stg_x__leads
    union all by name
    select * from staging.stg_ga4__leads
),

final as (
    select * from unioned
)

select * from final
