{#- The seed currency_rates as validity ranges: a rate holds from its date until the next
    published one (central banks skip weekends and holidays). units_per_base is the value
    of one unit in the base currency of the seed (rate / nominal, exact to 12 places); the
    base currency itself is worth 1 on every date. -#}
with rates as (
    select
        currency,
        cast(date as date) as valid_from,
        {{ from_scaled_integer(divide_rounded(to_scaled_integer("rate", 12), "nominal"), 12) }}
            as units_per_base
    from {{ ref("currency_rates") }}
    where currency <> '{{ var("currency_rates_base") }}'
)

select
    currency,
    valid_from,
    lead(valid_from) over (partition by currency order by valid_from) as valid_to,
    units_per_base
from rates

union all

select
    '{{ var("currency_rates_base") }}' as currency,
    cast(null as date) as valid_from,
    cast(null as date) as valid_to,
    cast(1 as {{ type_rate() }}) as units_per_base
