{#- Exchange rates as validity ranges: a rate holds from its date until the next one of its
    currency (central banks skip weekends and holidays). The rates are the CBR feed
    (stg_cbr_rates__daily_rates) and the seed currency_rates of manual rates; on the same
    date and currency the seed wins, as a user's explicit correction. units_per_base is the
    value of one unit in the base currency (var currency_rates_base; rate / nominal, exact
    to 12 places); the base currency itself is worth 1 on every date. A table: every
    currency conversion looks its rates up here. -#}
{{ config(materialized="table") }}

with manual_rates as (
    select
        cast(date as date) as rate_date,
        currency,
        nominal,
        rate,
        'seed' as rate_source
    from {{ ref("currency_rates") }}
),

feed_rates as (
    select
        rate_date,
        currency,
        nominal,
        value as rate,
        'cbr_rates' as rate_source
    from {{ ref("stg_cbr_rates__daily_rates") }} as feed
    -- The CBR quotes roubles: its rates mean nothing in another base.
    where '{{ var("currency_rates_base") }}' = 'RUB'
        and not exists (
            select 1
            from manual_rates
            where manual_rates.rate_date = feed.rate_date
                and manual_rates.currency = feed.currency
        )
),

rates as (
    select
        currency,
        rate_date as valid_from,
        {{ from_scaled_integer(divide_rounded(to_scaled_integer("rate", 12), "nominal"), 12) }}
            as units_per_base,
        rate_source
    from (
        select * from manual_rates
        union all
        select * from feed_rates
    ) as all_rates
    where currency <> '{{ var("currency_rates_base") }}'
)

select
    currency,
    valid_from,
    lead(valid_from) over (partition by currency order by valid_from) as valid_to,
    units_per_base,
    rate_source
from rates

union all

select
    '{{ var("currency_rates_base") }}' as currency,
    cast(null as date) as valid_from,
    cast(null as date) as valid_to,
    cast(1 as {{ type_rate() }}) as units_per_base,
    'base' as rate_source
