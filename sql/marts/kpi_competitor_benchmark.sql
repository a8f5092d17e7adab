-- Competitor benchmark per ISO week, platform and brand (ours and each competitor) from mentions:
-- mention volume, share of voice among all brands, net sentiment and potential reach.
-- Followers growth and ER of competitors need competitor account exports, which no connector lands yet.
-- column share_of_voice: this brand's mentions / all brands' mentions that week on that platform x 100
with mentions as (
    select * from intermediate.int_mentions__unioned
),

weekly as (
    select
        date_trunc('week', created_date)::date as week_start,
        platform,
        brand,
        bool_or(is_competitor) as is_competitor,
        count(*) as mentions,
        count(*) filter (where sentiment_label = 'positive') as positive_mentions,
        count(*) filter (where sentiment_label = 'negative') as negative_mentions,
        coalesce(sum(author_followers), 0) as potential_reach,
    from mentions
    group by week_start, platform, brand
),

final as (
    select
        *,
        mentions * 100.0 / sum(mentions) over (partition by week_start, platform) as share_of_voice,
        (positive_mentions - negative_mentions) * 1.0 / nullif(mentions, 0) as net_sentiment,
    from weekly
)

select * from final
