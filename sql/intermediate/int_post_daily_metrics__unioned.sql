-- Post-day metrics of every platform, conformed, one row per platform, account_id, post_id, date (re-pulled
-- duplicates removed as in staging); engagements = likes + comments + shares + saves.
-- The landed rows of every post without a repeated key, plus the deduplicated rows of the others
-- (int_post_daily_metrics__repeats_deduplicated): one scan of the lake, no dedupe window (DECISIONLOG
-- "Post-day fact: one scan").
-- materialized: view
with landed as (
    select * from intermediate.int_post_daily_metrics__landed
),

repeats_deduplicated as (
    select * from intermediate.int_post_daily_metrics__repeats_deduplicated
),

final as (
    select landed.* from landed
    anti join repeats_deduplicated as repeats
        on landed.platform = repeats.platform
        and landed.account_id = repeats.account_id
        and landed.post_id = repeats.post_id
    union all by name
    select * from repeats_deduplicated
)

select * from final
