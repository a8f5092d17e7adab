-- Audience demographics per platform, account, native day, dimension (age | gender | country) and value.
-- column share_of_followers: followers / followers of all values of the dimension that day x 100
with demographics as (
    select * from intermediate.int_audience_demographics__unioned
),

final as (
    select
        platform,
        account_id,
        date,
        dimension,
        value,
        followers,
        followers * 100.0 / nullif(sum(followers) over (partition by platform, account_id, date, dimension), 0)
            as share_of_followers,
    from demographics
)

select * from final
