-- One row per crisis spike day (kpi_daily_mentions.is_crisis_spike): size, the support response time
-- that day, and the days until the 7-day net sentiment recovers to its level before the spike.
-- column pre_spike_net_sentiment_7d: 7-day net sentiment on the day before the spike
-- column recovered_on: first later day whose 7-day net sentiment is back at or above the pre-spike level
-- column days_to_recover: recovered_on - spike date (NULL while not recovered)
with mentions as (
    select * from audit.kpi_daily_mentions
),

service as (
    select * from audit.kpi_daily_customer_service
),

spikes as (
    select
        spike.platform,
        spike.account_id,
        spike.date,
        spike.negative_mentions,
        spike.negative_baseline_mean,
        spike.negative_share,
        day_before.net_sentiment_7d as pre_spike_net_sentiment_7d,
    from mentions as spike
    left join mentions as day_before
        on day_before.platform = spike.platform
        and day_before.account_id = spike.account_id
        and day_before.date = spike.date - 1
    where spike.is_crisis_spike
),

recovery as (
    select
        spikes.platform,
        spikes.account_id,
        spikes.date,
        min(later.date) as recovered_on,
    from spikes
    join mentions as later
        on later.platform = spikes.platform
        and later.account_id = spikes.account_id
        and later.date > spikes.date
        and later.net_sentiment_7d >= spikes.pre_spike_net_sentiment_7d
    group by spikes.platform, spikes.account_id, spikes.date
),

final as (
    select
        spikes.*,
        service.median_first_response_minutes,
        recovery.recovered_on,
        date_diff('day', spikes.date, recovery.recovered_on) as days_to_recover,
    from spikes
    left join recovery
        on recovery.platform = spikes.platform
        and recovery.account_id = spikes.account_id
        and recovery.date = spikes.date
    left join service
        on service.platform = spikes.platform
        and service.account_id = spikes.account_id
        and service.date = spikes.date
)

select * from final
