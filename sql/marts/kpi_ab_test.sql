-- A/B tests: per platform x campaign with two or more post variants, each variant against the control
-- (alphabetically first variant, e.g. 'A') with a two-sided two-proportion z-test on CTR (clicks of
-- impressions) and on ER (engagements of impressions). p = erfc(|z| / sqrt 2), erfc from Abramowitz &
-- Stegun 7.1.26 (absolute error < 1.5e-7; DuckDB has no normal CDF; checked against scipy in tests).
-- column ctr: clicks / impressions x 100
-- column er: engagements / impressions x 100
-- column ctr_z: (p_variant - p_control) / sqrt(p_pooled (1 - p_pooled) (1/n_variant + 1/n_control))
-- column ctr_p_value: two-sided p-value of ctr_z
with posts as (
    select * from audit.kpi_post where variant is not null and campaign is not null
),

variants as (
    select
        platform,
        campaign,
        variant,
        count(*) as posts,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(engagements) as engagements,
        sum(reach) as reach,
    from posts
    group by platform, campaign, variant
),

tests as (
    select *, min(variant) over (partition by platform, campaign) as control_variant,
              count(*) over (partition by platform, campaign) as variant_count
    from variants
),

compared as (
    select
        variant_row.*,
        control.impressions as control_impressions,
        control.clicks as control_clicks,
        control.engagements as control_engagements,
    from tests as variant_row
    join tests as control
        on control.platform = variant_row.platform
        and control.campaign = variant_row.campaign
        and control.variant = variant_row.control_variant
    where variant_row.variant_count >= 2
),

z_scores as (
    select
        *,
        (clicks * 1.0 / nullif(impressions, 0) - control_clicks * 1.0 / nullif(control_impressions, 0))
            / nullif(sqrt(
                ((clicks + control_clicks) * 1.0 / nullif(impressions + control_impressions, 0))
                * (1 - (clicks + control_clicks) * 1.0 / nullif(impressions + control_impressions, 0))
                * (1.0 / nullif(impressions, 0) + 1.0 / nullif(control_impressions, 0))
            ), 0) as ctr_z,
        case when engagements <= impressions and control_engagements <= control_impressions then
            (engagements * 1.0 / nullif(impressions, 0)
             - control_engagements * 1.0 / nullif(control_impressions, 0))
            / nullif(sqrt(
                ((engagements + control_engagements) * 1.0 / nullif(impressions + control_impressions, 0))
                * (1 - (engagements + control_engagements) * 1.0 / nullif(impressions + control_impressions, 0))
                * (1.0 / nullif(impressions, 0) + 1.0 / nullif(control_impressions, 0))
            ), 0)
        end as er_z,
    from compared
),

erfc_terms as (
    select
        *,
        1.0 / (1.0 + 0.3275911 * abs(ctr_z) / sqrt(2)) as ctr_t,
        1.0 / (1.0 + 0.3275911 * abs(er_z) / sqrt(2)) as er_t,
    from z_scores
),

final as (
    select
        platform,
        campaign,
        variant,
        control_variant,
        variant = control_variant as is_control,
        posts,
        impressions,
        clicks,
        engagements,
        reach,
        clicks * 100.0 / nullif(impressions, 0) as ctr,
        engagements * 100.0 / nullif(impressions, 0) as er,
        case when variant <> control_variant then round(ctr_z, 9) end as ctr_z,
        case when variant <> control_variant then round(
            ctr_t * (0.254829592 + ctr_t * (-0.284496736 + ctr_t * (1.421413741
            + ctr_t * (-1.453152027 + ctr_t * 1.061405429)))) * exp(-(ctr_z * ctr_z) / 2), 9)
        end as ctr_p_value,
        case when variant <> control_variant then round(er_z, 9) end as er_z,
        case when variant <> control_variant then round(
            er_t * (0.254829592 + er_t * (-0.284496736 + er_t * (1.421413741
            + er_t * (-1.453152027 + er_t * 1.061405429)))) * exp(-(er_z * er_z) / 2), 9)
        end as er_p_value,
    from erfc_terms
)

select * from final
