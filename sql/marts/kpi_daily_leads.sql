-- Leads per platform, account and native day, split by lead type; event registrations are one type.
-- column leads: all leads (lead forms, gated downloads, webinar and newsletter signups, event registrations)
with leads as (
    select * from intermediate.int_leads__unioned
),

final as (
    select
        platform,
        account_id,
        date,
        coalesce(sum(leads), 0) as leads,
        coalesce(sum(leads) filter (where lead_type = 'lead_form'), 0) as lead_form_leads,
        coalesce(sum(leads) filter (where lead_type = 'gated_download'), 0) as gated_download_leads,
        coalesce(sum(leads) filter (where lead_type = 'webinar'), 0) as webinar_signups,
        coalesce(sum(leads) filter (where lead_type = 'newsletter'), 0) as newsletter_signups,
        coalesce(sum(leads) filter (where lead_type = 'event_registration'), 0) as event_registrations,
    from leads
    group by platform, account_id, date
)

select * from final
