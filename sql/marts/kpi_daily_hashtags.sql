-- Hashtag mentions per listening account, native day and hashtag (brand and competitor mentions).
with mentions as (
    select * from intermediate.int_mentions__unioned
    where hashtags is not null and trim(hashtags) <> ''
),

tags as (
    select
        platform,
        account_id,
        created_date as date,
        report_timezone,
        is_competitor,
        unnest(string_split(trim(hashtags), ' ')) as hashtag,
    from mentions
),

final as (
    select
        platform,
        account_id,
        date,
        any_value(report_timezone) as report_timezone,
        hashtag,
        count(*) as hashtag_mentions,
        count(*) filter (where not is_competitor) as brand_hashtag_mentions,
    from tags
    where hashtag <> ''
    group by platform, account_id, date, hashtag
)

select * from final
