-- Customer-service KPIs per platform, account and native day of the conversation's opening.
-- SLA: first response within 15 minutes (sla CTE). CSAT counts scores 4 and 5 of 5 as satisfied.
-- column median_first_response_minutes: median minutes from opening to the first response (answered ones)
-- column responses_within_sla: conversations answered within the SLA minutes
-- column pct_within_sla: responses_within_sla / conversations x 100 (unanswered ones count as missed)
-- column csat: satisfied (score 4-5) / csat_responses x 100
-- column handled_per_agent: answered conversations / distinct agents
with conversations as (
    select * from intermediate.int_support_conversations__unioned
),

sla as (
    select 15.0 as sla_minutes
),

final as (
    select
        platform,
        account_id,
        opened_date as date,
        any_value(report_timezone) as report_timezone,
        count(*) as conversations,
        count(first_response_at) as responded,
        quantile_cont(first_response_minutes, 0.5) as median_first_response_minutes,
        sum(first_response_seconds) as total_first_response_seconds,
        count(*) filter (where first_response_minutes <= (select sla_minutes from sla)) as responses_within_sla,
        count(*) filter (where first_response_minutes <= (select sla_minutes from sla)) * 100.0
            / count(*) as pct_within_sla,
        count(csat_score) as csat_responses,
        count(*) filter (where csat_score >= 4) as satisfied,
        count(*) filter (where csat_score >= 4) * 100.0 / nullif(count(csat_score), 0) as csat,
        count(distinct agent_id) as agents,
        count(first_response_at) * 1.0 / nullif(count(distinct agent_id), 0) as handled_per_agent,
    from conversations
    group by platform, account_id, opened_date
)

select * from final
